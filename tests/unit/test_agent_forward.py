"""The controller's side of requests forwarded by agents (`corral.agent.forward.Forwarded`)
on a real broker, and agents' log records in the controller's log (`corral.agent.logs`)."""

import asyncio
import errno
import logging

import pytest

from corral.agent import logs
from corral.agent.forward import Forwarded
from corral.broker.roles import ROLE_OWNER, ROLE_USER
from corral.broker.server import Broker


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def forwarded(loop, allow_guest_user):
    broker = Broker(loop, owner_uid=500, allow_guest_user=allow_guest_user)
    broker.register("whoami", lambda msg: msg.respond({"uid": msg.userid,
                                                       "owner": bool(msg.rolemask & ROLE_OWNER)}),
                    ROLE_OWNER | ROLE_USER)
    held = []
    broker.register("hold", lambda msg: (held.append(msg), msg.on_cancel(held.remove)),
                    ROLE_OWNER | ROLE_USER)
    sent = []
    return Forwarded(broker, lambda host, message: sent.append((host, message))), sent, held


def rpc(conn, uid, request):
    return {"type": "rpc", "conn": conn, "uid": uid, "request": request}


def test_requests_are_served_as_the_uid_the_agent_names_and_answered_to_its_connection(loop):
    fwd, sent, _ = forwarded(loop, allow_guest_user=True)
    fwd.handle("n1", rpc(3, 1000, {"matchtag": 7, "topic": "whoami", "userid": 500}))
    fwd.handle("n1", rpc(4, 500, {"matchtag": 1, "topic": "whoami"}))
    fwd.handle("n1", rpc(4, 0, {"matchtag": 2, "topic": "whoami"}))
    assert sent == [
        ("n1", {"type": "rpc-reply", "conn": 3,
                "frame": {"matchtag": 7, "payload": {"uid": 1000, "owner": False}}}),
        ("n1", {"type": "rpc-reply", "conn": 4,
                "frame": {"matchtag": 1, "payload": {"uid": 500, "owner": True}}}),
        ("n1", {"type": "rpc-reply", "conn": 4,
                "frame": {"matchtag": 2, "payload": {"uid": 0, "owner": True}}})]


def test_guests_are_refused_unless_allowed_and_bad_requests_get_one_sentence(loop, caplog):
    fwd, sent, _ = forwarded(loop, allow_guest_user=False)
    fwd.handle("n1", rpc(1, 1000, {"matchtag": 1, "topic": "whoami"}))
    fwd.handle("n1", rpc(1, 500, {"matchtag": 2}))
    fwd.handle("n1", rpc(1, 500, ["not", "an", "object"]))
    fwd.handle("n1", {"type": "rpc", "conn": 1, "request": {"matchtag": 3, "topic": "x"}})
    fwd.handle("n1", {"type": "rpc", "conn": "one", "uid": 500, "request": {}})
    frames = [message["frame"] for _, message in sent]
    assert [(frame["matchtag"], frame["errnum"]) for frame in frames] == [
        (1, errno.EPERM), (2, errno.EPROTO), (0, errno.EPROTO)]
    assert "allow-guest-user = false" in frames[0]["errstr"]
    assert "needs a string 'topic' and an integer 'matchtag'" in frames[1]["errstr"]
    assert caplog.text.count("agent n1: dropped a forwarded request without a connection "
                             "and uid") == 2


def test_a_closed_connection_or_a_lost_agent_cancels_what_it_left(loop):
    fwd, sent, held = forwarded(loop, allow_guest_user=True)
    fwd.handle("n1", rpc(1, 500, {"matchtag": 1, "topic": "hold", "streaming": True}))
    fwd.handle("n1", rpc(2, 500, {"matchtag": 1, "topic": "hold"}))
    fwd.handle("n2", rpc(1, 500, {"matchtag": 1, "topic": "hold"}))
    assert len(held) == 3
    fwd.handle("n1", rpc(1, 500, {"matchtag": 0, "topic": "broker.cancel",
                                  "payload": {"matchtag": 1}}))
    assert len(held) == 2 and sent == []
    fwd.handle("n1", {"type": "rpc-close", "conn": 2})
    assert len(held) == 1
    fwd.drop("n2")
    assert held == [] and not any(fwd.outstanding.values())


def test_an_agents_log_record_is_logged_again_with_its_hostname(caplog):
    caplog.set_level(logging.INFO, logger="corral")
    logs.relog("n1", {"type": "log", "logger": "corral.prep", "level": logging.ERROR,
                      "text": "JobId=3 prolog failed", "time": 1.5})
    logs.relog("n1", {"type": "log", "logger": "elsewhere", "level": 99, "text": "x",
                      "time": 2})
    logs.relog("n1", {"type": "log", "logger": "corral.prep", "level": "ERROR"})
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("corral.prep", logging.ERROR, "n1: JobId=3 prolog failed"),
        ("corral.agent", logging.CRITICAL, "n1: x"),
        ("corral.agent", logging.ERROR,
         "agent n1: dropped a log message without logger, level, text and time")]
    assert [record.created for record in caplog.records[:2]] == [1.5, 2.0]


def test_the_agents_forwarder_sends_records_from_any_thread_on_the_loop(loop):
    import threading

    sent = []
    forwarder = logs.Forwarder(loop, sent.append)
    logger = logging.getLogger("corral.test-forwarder")
    logger.addHandler(forwarder)
    try:
        thread = threading.Thread(target=logger.error, args=("from %s", "a thread"))
        thread.start()
        thread.join()
        logger.debug("not forwarded")
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        logger.removeHandler(forwarder)
    assert [(m["logger"], m["level"], m["text"]) for m in sent] == [
        ("corral.test-forwarder", logging.ERROR, "from a thread")]
