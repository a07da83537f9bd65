"""Rejects, in ``job.validate``, each job whose ``attributes.system.jobtap.validate-test-id``
is 4, with "Job had reject_id"; logs which lifecycle callbacks each job got, so a test can
see that a rejected job gets ``job.destroy`` and never ``job.new``."""

from corral.jobtap import get_flux


def validate(p, topic, args):
    system = args["jobspec"]["attributes"]["system"]
    if system.get("jobtap", {}).get("validate-test-id") == 4:
        return p.reject_job(args, "Job had reject_id")
    return 0


def plugin_init(p):
    h = get_flux(p)
    p.add_handler("job.validate", validate)

    def seen(p, topic, args):
        h.log(6, "validate-reject: %s %d", topic, args["id"])

    for topic in ("job.create", "job.new", "job.destroy"):
        p.add_handler(topic, seen)
