"""Environments sent once per link: whole with the first start naming them, by number after,
and the same on the receiving side after losses, replays and restarts."""

import logging

from corral.transport import frames, shared
from corral.transport.link import Link
from corral.transport.sequence import Inbox
from corral.transport.settings import Settings
from support import Wire

ENV = {"PATH": "/usr/bin:/bin", "HOME": "/home/ada", "LANG": "C.UTF-8"}
OTHER = {"PATH": "/bin", "HOME": "/home/bob"}


def start(job, env):
    return {"type": "start", "job": job, "env": dict(env), "job_vars": {"CORRAL_JOB_ID": str(job)}}


def pair():
    settings = Settings()
    sender, receiver = Link(settings, 0, Inbox("s")), Link(settings, 0, Inbox("s"))
    forward, back = Wire(), Wire()
    sender.send_frame, receiver.send_frame = forward.send, back.send
    return sender, receiver, forward, back


def sent_envs(wire) -> list:
    return [message["env"] for data in wire.frames for message in frames.decode(data)["msgs"]]


def test_an_environment_goes_whole_once_then_by_number_and_arrives_whole_every_time():
    sender, receiver, forward, _back = pair()
    for job, env in enumerate([ENV, ENV, OTHER, ENV, OTHER], 1):
        sender.send(start(job, env))
    sender.flush()
    assert sent_envs(forward) == [ENV, 1, OTHER, 1, 2]
    applied = []
    forward.deliver(receiver, applied)
    assert [(message["job"], dict(message["env"])) for message in applied] == \
        [(1, ENV), (2, ENV), (3, OTHER), (4, ENV), (5, OTHER)]
    assert all("env_id" not in message for message in applied)
    # One object per environment: what the agent makes of it can be kept with it.
    assert applied[0]["env"] is applied[1]["env"] is applied[3]["env"]


def test_the_same_variables_in_another_order_are_another_environment():
    sender, _receiver, forward, _back = pair()
    sender.send(start(1, ENV))
    sender.send(start(2, dict(reversed(ENV.items()))))
    sender.flush()
    assert sent_envs(forward) == [ENV, dict(reversed(ENV.items()))]


def test_the_caller_keeps_its_message_as_it_was():
    sender, _receiver, _forward, _back = pair()
    message = start(1, ENV)
    sender.send(message)
    sender.send(dict(message))
    assert message == start(1, ENV)


def test_starts_lost_with_the_one_that_brought_their_environment_are_replayed_whole():
    sender, receiver, forward, back = pair()
    applied = []
    sender.send(start(1, ENV))
    sender.flush()
    forward.deliver(receiver, applied)
    back.cut()  # job 1 applied, its acknowledgement lost
    sender.send(start(2, OTHER))
    sender.send(start(3, ENV))
    sender.send(start(4, OTHER))
    sender.flush()
    forward.cut()  # 2-4 lost, with the one message that brought OTHER
    assert sender.replay() == 4
    forward.deliver(receiver, applied)
    back.deliver(sender, [])
    assert [(message["job"], dict(message["env"])) for message in applied] == \
        [(1, ENV), (2, OTHER), (3, ENV), (4, OTHER)]
    assert len(sender.outbox) == 0


def test_a_restarted_receiver_gets_each_environment_whole_again():
    sender, receiver, forward, _back = pair()
    sender.send(start(1, ENV))
    sender.flush()
    forward.deliver(receiver, [])
    # A restarted agent: the controller drops its link (and its outbox) for a new one.
    sender, receiver, forward, _back = pair()
    sender.send(start(2, ENV))
    sender.flush()
    assert sent_envs(forward) == [ENV]
    applied = []
    forward.deliver(receiver, applied)
    assert dict(applied[0]["env"]) == ENV


def test_the_tables_are_bounded_and_an_environment_forgotten_is_sent_whole_again(monkeypatch):
    monkeypatch.setattr(shared, "KEPT", 2)
    sender, receiver, forward, _back = pair()
    envs = [{"JOB": str(index)} for index in range(3)]
    for job, env in enumerate([envs[0], envs[1], envs[2], envs[0], envs[2]], 1):
        sender.send(start(job, env))
    sender.flush()
    # envs[0] is forgotten for envs[2], then brought again (in place of envs[1]).
    sent = [message for data in forward.frames for message in frames.decode(data)["msgs"]]
    assert [(m["env"], m.get("env_id"), m.get("env_forget")) for m in sent] == [
        (envs[0], 1, None), (envs[1], 2, None), (envs[2], 3, 1), (envs[0], 4, 2), (3, None, None)]
    applied = []
    forward.deliver(receiver, applied)
    assert [dict(message["env"]) for message in applied] == \
        [envs[0], envs[1], envs[2], envs[0], envs[2]]
    assert sorted(receiver.inbox.shared.values) == [3, 4]


def test_a_message_naming_an_environment_never_sent_is_dropped_with_an_error(caplog):
    receiver = Link(Settings(), 0, Inbox("s"))
    receiver.send_frame = Wire().send
    applied = []
    frame = {"seq": 1, "ack": 0, "msgs": [dict(start(1, ENV), env=7), start(2, ENV)]}
    with caplog.at_level(logging.ERROR, "corral.transport"):
        receiver.receive(frame, applied.append)
    assert [message["job"] for message in applied] == [2]
    assert "naming environment 7, which was never sent" in caplog.text


def test_a_message_bringing_a_malformed_environment_is_dropped_with_an_error(caplog):
    receiver = Link(Settings(), 0, Inbox("s"))
    receiver.send_frame = Wire().send
    applied = []
    bad = [dict(start(1, ENV), env=["PATH=/bin"], env_id=1),
           dict(start(2, ENV), env_id=[1]),
           dict(start(3, ENV), env_id=2, env_forget={"x": 1})]
    frame = {"seq": 1, "ack": 0, "msgs": [*bad, start(4, ENV)]}
    with caplog.at_level(logging.ERROR, "corral.transport"):
        receiver.receive(frame, applied.append)
    assert [message["job"] for message in applied] == [4]
    assert caplog.text.count("whose environment is not a numbered object") == 3
