"""flux-core's perilog-test.so in Python: a prolog in ``job.state.run`` and an epilog in
``job.state.cleanup``, each finished by a timer 0.1 s later.  With ``prolog-exception=1`` the
prolog raises a fatal exception on its job before finishing."""



def plugin_init(p):
    h = p.get_flux()
    raise_in_prolog = p.conf.get("prolog-exception", 0)

    def run(p, topic, args):
        job_id = args["id"]
        p.prolog_start("test-prolog")

        def finish(timer):
            if raise_in_prolog:
                p.raise_exception(job_id, "prolog", 0, "prolog failed for testing")
            p.prolog_finish(job_id, "test-prolog", 0)

        h.timer(0.1, finish)

    def cleanup(p, topic, args):
        job_id = args["id"]
        p.epilog_start("test-epilog")
        h.timer(0.1, lambda timer: p.epilog_finish(job_id, "test-epilog", 0))

    p.add_handler("job.state.run", run)
    p.add_handler("job.state.cleanup", cleanup)
