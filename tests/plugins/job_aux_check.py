"""flux-core's job_aux.so in Python: per-job and plugin-global aux values with destructors
that log when they run (overwrite, INACTIVE, plugin removal).  The values are the plugin's
own: a second copy of this file loaded under another name keeps separate ones."""

import os

from corral.jobtap import CURRENT_JOB, get_flux


def plugin_init(p):
    h = get_flux(p)
    me = os.path.basename(p.path)

    def destructor(value):
        h.log(6, "job-aux: %s: test destructor invoked for %s", me, value)

    def validate(p, topic, args):
        p.job_aux_set(CURRENT_JOB, "test", f"{args['id']}-first", destructor)
        p.job_aux_set(CURRENT_JOB, "test", f"{args['id']}-second", destructor)
        p.job_aux_set(CURRENT_JOB, None, f"{args['id']}-anonymous", destructor)

    def run(p, topic, args):
        h.log(6, "job-aux: %s: job %d has %s", me, args["id"], p.job_aux_get(CURRENT_JOB,
                                                                           "test"))

    p.aux_set("global", f"{me}-global", destructor)
    p.add_handler("job.validate", validate)
    p.add_handler("job.state.run", run)
