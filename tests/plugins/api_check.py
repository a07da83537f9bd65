"""flux-core's jobtap_api.so in Python: in every job callback, calls the API the wrong way
and checks the errno flux-core sets; a wrong answer becomes a non-fatal ``test`` exception on
the job.  Jobspec attributes ask for more: ``system.<state>.post-event`` posts an event and
``system.<state>.set_flag`` sets a flag from that callback (``<state>`` is ``validate``,
``new`` or a ``job.state.*`` name), ``system.lookup-id`` looks another job up, and
``system.expected-result`` is checked against `get_job_result` in CLEANUP."""

import errno

from corral.jobtap import CURRENT_JOB, Result

NO_SUCH_JOB = 10**9


def check(p, topic, args):
    failures = []

    def expect(errnum, what, call):
        try:
            call()
        except OSError as exc:
            if exc.errno == errnum:
                return
            failures.append(f"{what}: errno={exc.errno} != {errnum}")
        else:
            failures.append(f"{what}: succeeded, expected errno {errnum}")

    expect(errno.EINVAL, "prolog_start('')", lambda: p.prolog_start(""))
    expect(errno.EINVAL, "prolog_finish(CURRENT, '')", lambda: p.prolog_finish(CURRENT_JOB, ""))
    expect(errno.ENOENT, "prolog_finish(none)", lambda: p.prolog_finish(NO_SUCH_JOB, "test"))
    expect(errno.EINVAL, "epilog_start('')", lambda: p.epilog_start(""))
    expect(errno.EINVAL, "epilog_finish(CURRENT, '')", lambda: p.epilog_finish(CURRENT_JOB, ""))
    expect(errno.ENOENT, "epilog_finish(none)", lambda: p.epilog_finish(NO_SUCH_JOB, "test"))
    if topic == "job.state.cleanup":
        expect(errno.EINVAL, "prolog_start in CLEANUP", lambda: p.prolog_start("test"))
    if topic == "job.state.run":
        expect(errno.EINVAL, "epilog_start in RUN", lambda: p.epilog_start("test"))
        expect(errno.EINVAL, "get_job_result in RUN", lambda: p.get_job_result(CURRENT_JOB))
        expect(errno.EINVAL, "dependency_add in RUN",
               lambda: p.dependency_add(CURRENT_JOB, "x"))
        expect(errno.EINVAL, "jobspec_update in RUN",
               lambda: p.jobspec_update({"attributes.system.x": 1}))
    if topic == "job.state.depend":
        expect(errno.ENOENT, "dependency_remove(unknown)",
               lambda: p.dependency_remove(CURRENT_JOB, "nope"))
    expect(errno.ENOENT, "event_post(0)", lambda: p.event_post(0, "foo"))
    expect(errno.EINVAL, "event_post('')", lambda: p.event_post(CURRENT_JOB, ""))
    expect(errno.ENOENT, "job_set_flag(0)", lambda: p.job_set_flag(0, "debug"))
    expect(errno.EINVAL, "job_set_flag(foo)", lambda: p.job_set_flag(CURRENT_JOB, "foo"))
    expect(errno.ENOENT, "job_lookup(none)", lambda: p.job_lookup(NO_SUCH_JOB))
    expect(errno.ENOENT, "call(none)", lambda: p.call(NO_SUCH_JOB, "test.x", {}))
    expect(errno.EINVAL, "call(job.x)", lambda: p.call(CURRENT_JOB, "job.x", {}))
    expect(errno.EINVAL, "call(args=None)", lambda: p.call(CURRENT_JOB, "test.x", None))
    expect(errno.EINVAL, "job_event_posted('')", lambda: p.job_event_posted(CURRENT_JOB, ""))
    expect(errno.ENOENT, "job_event_posted(none)",
           lambda: p.job_event_posted(NO_SUCH_JOB, "submit"))
    expect(errno.EINVAL, "raise_exception(type '')",
           lambda: p.raise_exception(CURRENT_JOB, "", 1, "x"))
    expect(errno.ENOENT, "raise_exception(none)",
           lambda: p.raise_exception(NO_SUCH_JOB, "test", 1, "x"))
    expect(errno.ENOENT, "reprioritize_job(none)", lambda: p.reprioritize_job(NO_SUCH_JOB, 1))
    expect(errno.EINVAL, "reprioritize_job(-5)", lambda: p.reprioritize_job(CURRENT_JOB, -5))
    expect(errno.ENOENT, "job_subscribe(none)", lambda: p.job_subscribe(NO_SUCH_JOB))
    expect(errno.EINVAL, "set_load_sort_order(x)", lambda: p.set_load_sort_order("x"))
    if args["state"] == 1:  # NEW
        expect(errno.EINVAL, "fatal exception in NEW",
               lambda: p.raise_exception(CURRENT_JOB, "test", 0, "x"))

    if p.job_lookup(CURRENT_JOB)["id"] != args["id"]:
        failures.append("job_lookup(CURRENT) is another job")
    system = args["jobspec"]["attributes"]["system"]
    lookup_id = system.get("lookup-id")
    if lookup_id is not None and p.job_lookup(lookup_id)["id"] != lookup_id:
        failures.append(f"job_lookup({lookup_id}) is another job")
    expected = system.get("expected-result")
    if topic == "job.state.cleanup" and expected is not None:
        result = p.get_job_result(CURRENT_JOB)
        if result != Result[expected.upper()]:
            failures.append(f"get_job_result: {result.name} != {expected}")

    state = topic.removeprefix("job.state.").removeprefix("job.")
    wanted = system.get(state, {})
    if "post-event" in wanted:
        p.event_post(CURRENT_JOB, wanted["post-event"], {"test_context": "yes"})
    if "set_flag" in wanted:
        p.job_set_flag(CURRENT_JOB, wanted["set_flag"])
    for failure in failures:
        p.raise_exception(CURRENT_JOB, "test", 1, "%s: %s", topic, failure)


def plugin_init(p):
    for topic in ("job.create", "job.validate", "job.new", "job.state.depend",
                  "job.state.priority", "job.state.sched", "job.state.run",
                  "job.state.cleanup"):
        p.add_handler(topic, check)
