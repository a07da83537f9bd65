"""flux-core's test.so in Python: each job's ``attributes.system.jobtap.test-mode`` picks a
way of misbehaving in ``job.validate``, ``job.state.priority``, ``job.state.sched`` or
``job.priority.get``; every job callback annotates the job with its mode.  The service
``job-manager.test.reprioritize`` calls `reprioritize_all`."""

import errno
import json

from corral import jobtap
from corral.jobtap import CURRENT_JOB


def _mode(args):
    return args["jobspec"]["attributes"]["system"]["jobtap"]["test-mode"]


def callback(p, topic, args):
    mode = _mode(args)
    if topic == "job.validate":
        if mode == "validate failure":
            return p.reject_job(args, "rejected for testing")
        if mode == "validate failure nullmsg":
            return p.reject_job(args)
        if mode == "validate failure nomsg":
            return -1
        return 0
    args.pack(annotations={"test": mode})
    if topic == "job.state.priority":
        if mode == "callback error":
            return -1
        if mode == "annotations error":
            args.pack(annotations="test")
        elif mode == "priority type error":
            args.pack(priority="foo")
    elif topic == "job.state.sched":
        if mode == "sched: priority unavail":
            return p.priority_unavail(args)
        if mode == "sched: update priority":
            args.pack(priority=42)
        elif mode == "sched: dependency-add":
            p.dependency_add(args["id"], "foo")  # EINVAL in SCHED: a failed callback
        elif mode == "sched: exception":
            p.raise_exception(CURRENT_JOB, "test", 0, "sched: test exception")
        elif mode == "sched: exception error":
            _expect_einval(p, lambda: p.raise_exception(CURRENT_JOB, "", 0, ""))
            _expect_einval(p, lambda: jobtap.get_flux(None))
    elif topic == "job.priority.get":
        if mode == "priority.get: fail":
            return -1
        if mode == "priority.get: unavail":
            return p.priority_unavail(args)
        if mode == "priority.get: bad arg":
            args.pack(priority="foo")
    return 0


def _expect_einval(p, call):
    try:
        call()
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return
    p.raise_exception(CURRENT_JOB, "test", 0, "sched: exception error failed")


def reprioritize(h, msg, p):
    h.log(6, "jobtap.test: reprioritizing all jobs")
    jobtap.reprioritize_all(p)
    h.respond(msg, {})


def plugin_init(p):
    p.set_name("test")
    h = jobtap.get_flux(p)
    h.log(6, "jobtap.test: conf=%s", json.dumps(p.conf, separators=(",", ":")))
    jobtap.service_register(p, "reprioritize", reprioritize, p)
    p.add_handler("job.*", callback)
