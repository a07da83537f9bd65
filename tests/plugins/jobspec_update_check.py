"""flux-core's jobspec-update.so in Python: stages two updates in one ``job.validate``
callback (posted as one ``jobspec-update``), tries one in ``job.state.run`` (refused), logs
what ``job.update`` sees, and offers ``job-manager.jobspec-update-check.update`` to update
another job with `jobspec_update_id`."""

import errno
import json

from corral.jobtap import CURRENT_JOB, get_flux


def plugin_init(p):
    h = get_flux(p)
    p.set_name("jobspec-update-check")

    def validate(p, topic, args):
        p.jobspec_update({"attributes.system.update-test": "staged"})
        p.jobspec_update({"attributes.system.job.name": "new"})

    def run(p, topic, args):
        try:
            p.jobspec_update({"attributes.system.run-update": 1})
        except OSError as exc:
            h.log(6, "jobspec-update-check: run update refused: %s", errno.errorcode[exc.errno])

    def updated(p, topic, args):
        h.log(6, "jobspec-update-check: job.update %s name=%s", json.dumps(args["updates"]),
              args["jobspec"]["attributes"]["system"]["job"]["name"])

    def update(h, msg):
        request = msg.payload
        try:
            if request.get("current"):
                p.jobspec_update_id(CURRENT_JOB, request["update"])
            else:
                p.jobspec_update_id(request["id"], request["update"])
        except OSError as exc:
            h.respond_error(msg, exc.errno, exc.strerror)
            return
        h.respond(msg, {})

    p.add_handler("job.validate", validate)
    p.add_handler("job.state.run", run)
    p.add_handler("job.update", updated)
    p.service_register("update", update)
