"""Bad frames from an authenticated peer: one logged sentence each, and the transport goes
on (controller and agent in this process, over ipc://)."""

import asyncio
import logging

import pytest
import zmq

from corral.transport import AgentTransport, ControllerTransport, Settings, this_node
from corral.transport.keys import AgentKeys
from support import keygen
from support import until_async as until

SETTINGS = Settings(heartbeat_interval=0.1, unresponsive_after=1.0, lost_after=2.0)


def test_bad_frames_cost_one_log_line_each_and_lose_nothing(tmp_path, caplog):
    keys = keygen(tmp_path / "keys")
    endpoint = f"ipc://{tmp_path}/agents.sock"
    caplog.set_level(logging.INFO, logger="corral.transport")

    async def scenario():
        received = []
        controller = ControllerTransport(endpoint, keys, settings=SETTINGS,
                                         on_message=lambda host, m: received.append(m["job"]))
        await controller.start()
        # A peer holding node2's key that speaks nonsense.
        node2 = AgentKeys(keys, "node2")
        context = zmq.Context()
        rogue = context.socket(zmq.DEALER)
        rogue.curve_serverkey = node2.controller_public
        rogue.curve_publickey, rogue.curve_secretkey = node2.public, node2.secret
        rogue.connect(endpoint)
        for data in (b"not json", b"[1, 2]", b'{"hello": {"registration": 7}}',
                     b'{"hello": "node2"}'):
            rogue.send(data)
        agent = AgentTransport(endpoint, keys, this_node("node1"), settings=SETTINGS,
                               on_message=lambda m: None)
        await agent.start()
        for job in range(1, 101):
            agent.send({"type": "finished", "job": job, "rank": 0, "status": 0})
        with pytest.raises(ValueError) as refused:  # not an agent's message
            agent.send({"type": "start", "job": 101})
        assert str(refused.value) == "an agent cannot send a message of unknown type 'start'"
        await until(lambda: len(received) == 100)
        await until(lambda: len(caplog.records) >= 4)
        rogue.close(linger=0)
        context.term()
        await agent.close()
        await controller.close()
        return received

    assert asyncio.run(scenario()) == list(range(1, 101))
    errors = [record.getMessage() for record in caplog.records
              if record.levelno >= logging.ERROR]
    assert errors == [
        "transport: dropped a frame that is not JSON (Expecting value: line 1 column 1 "
        "(char 0)) from an unregistered agent",
        "transport: dropped a frame that is a JSON list, not an object from an unregistered "
        "agent",
        "transport: dropped a hello whose registration is malformed: the registration is not "
        "an object from an unregistered agent",
        "transport: dropped a hello that is not an object from an unregistered agent",
    ]
    assert not [record for record in caplog.records if record.exc_info]


def test_a_registration_the_controller_refuses_is_logged_with_its_reason_on_both_sides(
        tmp_path, caplog):
    keys = keygen(tmp_path / "keys")
    endpoint = f"ipc://{tmp_path}/agents.sock"
    caplog.set_level(logging.INFO, logger="corral.transport")

    async def scenario():
        controller = ControllerTransport(
            endpoint, keys, settings=SETTINGS, on_message=lambda host, m: None,
            on_register=lambda registration, event: (
                None if registration.hostname == "node1"
                else f"{registration.hostname} is not a declared node"))
        await controller.start()
        refusals = []
        agent = AgentTransport(endpoint, keys, this_node("node2"), settings=SETTINGS,
                               on_message=lambda m: None, on_refused=refusals.append)
        await agent.start()
        await asyncio.wait_for(agent.closed, 10)
        await controller.close()
        return refusals, controller.peers

    refusals, peers = asyncio.run(scenario())
    assert refusals == ["node2 is not a declared node"] and peers == {}
    lines = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert lines == [
        "transport: refused agent node2: node2 is not a declared node",
        f"transport: the controller at {endpoint} refused this agent: node2 is not a declared "
        "node",
    ]


def test_a_restarted_agent_is_told_apart_and_gets_nothing_meant_for_its_previous_boot(
        tmp_path, caplog):
    keys = keygen(tmp_path / "keys")
    endpoint = f"ipc://{tmp_path}/agents.sock"
    caplog.set_level(logging.INFO, logger="corral.transport")

    async def scenario():
        events, second_got = [], []
        controller = ControllerTransport(
            endpoint, keys, settings=SETTINGS, on_message=lambda host, m: None,
            on_register=lambda registration, event: events.append(event))
        await controller.start()
        first = AgentTransport(endpoint, keys, this_node("node1"), settings=SETTINGS,
                               on_message=lambda m: None)
        await first.start()
        await until(lambda: events == ["registered"])
        await first.close()  # the agent dies ...
        for job in range(1, 4):  # ... and what is sent to it meanwhile is never acknowledged
            controller.send("node1", {"type": "kill", "job": job, "signal": 9})
        second = AgentTransport(endpoint, keys, this_node("node1"), settings=SETTINGS,
                                on_message=second_got.append)
        await second.start()
        await until(lambda: events == ["registered", "restarted"])
        controller.send("node1", {"type": "kill", "job": 4, "signal": 9})
        await until(lambda: second_got)
        await asyncio.sleep(0.2)
        await second.close()
        await controller.close()
        return second_got

    assert [message["job"] for message in asyncio.run(scenario())] == [4]
    assert [record.getMessage() for record in caplog.records
            if "restarted: dropped" in record.getMessage()] == [
        "transport: agent node1 restarted: dropped 3 messages its previous boot did not "
        "acknowledge"]


def test_an_agent_started_first_keeps_trying_and_a_restarted_controller_gets_its_messages(
        tmp_path, caplog):
    keys = keygen(tmp_path / "keys")
    endpoint = f"ipc://{tmp_path}/agents.sock"
    caplog.set_level(logging.INFO, logger="corral.transport")
    settings = Settings(heartbeat_interval=0.1, unresponsive_after=1.0, lost_after=2.0,
                        reconnect_min=0.05, reconnect_max=0.2)

    async def scenario():
        agent_got = []
        agent = AgentTransport(endpoint, keys, this_node("node1"), settings=settings,
                               on_message=agent_got.append)
        await agent.start()
        agent.send({"type": "started", "job": 1, "rank": 0})  # no controller yet
        await asyncio.sleep(0.5)
        first_got, second_got = [], []
        first = ControllerTransport(endpoint, keys, settings=settings,
                                    on_message=lambda host, m: first_got.append(m["job"]))
        await first.start()
        await until(lambda: first_got == [1])
        first.send("node1", {"type": "kill", "job": 1, "signal": 15})
        await until(lambda: len(agent_got) == 1)
        await first.close()  # the controller goes away ...
        agent.send({"type": "finished", "job": 1, "rank": 0, "status": 0})  # ... the job ends
        await asyncio.sleep(0.5)
        second = ControllerTransport(endpoint, keys, settings=settings,
                                     on_message=lambda host, m: second_got.append(m["job"]))
        await second.start()
        await until(lambda: second_got == [1])  # what it missed, from the agent's outbox
        second.send("node1", {"type": "kill", "job": 2, "signal": 15})  # numbered from 1 again
        await until(lambda: len(agent_got) == 2)
        await agent.close()
        await second.close()
        return [message["job"] for message in agent_got]

    assert asyncio.run(scenario()) == [1, 2]
    assert any("the controller at" in record.getMessage() and "restarted" in
               record.getMessage() for record in caplog.records)
