"""When the controller acknowledges an agent's messages: once they are stored, in the next
frame it sends that agent, or alone after `ACK_DELAY` when none goes (controller and agent in
this process, over ipc://)."""

import asyncio

from corral.transport import AgentTransport, ControllerTransport, Settings, controller, this_node
from support import keygen
from support import until_async as until

#: Heartbeats (which carry an acknowledgement too) far apart, so that none comes in between.
QUIET = Settings(heartbeat_interval=30.0, unresponsive_after=60.0, lost_after=120.0)


async def pair(tmp_path, on_controller_message):
    """A controller whose store commits at once and a registered agent that records the
    frames it gets after its welcome."""
    keys = keygen(tmp_path / "keys", "node1")
    endpoint = f"ipc://{tmp_path}/agents.sock"
    loop = asyncio.get_running_loop()
    control = ControllerTransport(endpoint, keys, settings=QUIET,
                                  on_message=on_controller_message,
                                  after_commit=lambda callback: loop.call_soon(callback))
    await control.start()
    agent = AgentTransport(endpoint, keys, this_node("node1"), settings=QUIET,
                           on_message=lambda message: None)
    got = []
    receive = agent._frame

    def record(frame):
        if agent.welcomed:
            got.append(frame)
        receive(frame)

    agent._frame = record
    await agent.start()
    await until(lambda: agent.welcomed)
    return control, agent, got


def finished(job):
    return {"type": "finished", "job": job, "rank": 0, "status": 0}


def test_a_start_sent_soon_after_carries_the_acknowledgement_and_an_idle_one_comes_alone(
        tmp_path):
    async def scenario():
        loop = asyncio.get_running_loop()
        received = []  # (job, when the controller applied it)
        control, agent, got = await pair(
            tmp_path, lambda host, m: received.append((m["job"], loop.time())))
        try:
            for job in range(1, 6):
                agent.send(finished(job))
            await until(lambda: len(received) == 5)
            # What the exec service does once the ends are stored: start the next jobs.
            control.send("node1", {"type": "start", "job": 6})
            await until(lambda: got)
            await asyncio.sleep(controller.ACK_DELAY * 3)
            busy = list(got)
            busy_pending = len(agent.link.outbox)
            got.clear()
            for job in range(7, 10):
                agent.send(finished(job))
            await until(lambda: len(agent.link.outbox) == 0)
            waited = loop.time() - received[-1][1]  # the delay starts once it is stored
            await asyncio.sleep(controller.ACK_DELAY * 3)
            return [job for job, _ in received], busy, busy_pending, list(got), waited
        finally:
            await agent.close()
            await control.close()

    received, busy, busy_pending, idle, waited = asyncio.run(scenario())
    assert received == [1, 2, 3, 4, 5, 7, 8, 9]
    assert [sorted(frame) for frame in busy] == [["ack", "msgs", "seq"]]  # no frame alone
    assert busy[0]["ack"] == 5 and busy_pending == 0
    assert idle == [{"ack": 8}]
    assert waited >= controller.ACK_DELAY


def test_many_stored_messages_are_acknowledged_without_waiting_for_the_delayed_one(
        tmp_path, monkeypatch):
    monkeypatch.setattr(controller, "ACK_DELAY", 30.0)

    async def scenario():
        received = []
        control, agent, got = await pair(tmp_path, lambda host, m: received.append(m["job"]))
        try:
            agent.send(finished(1))
            await until(lambda: received == [1])
            await asyncio.sleep(0.05)
            delayed = (list(got), len(agent.link.outbox))  # its acknowledgement waits
            for job in range(2, controller.ACK_NOW + 2):
                agent.send(finished(job))
            await until(lambda: len(agent.link.outbox) == 0, timeout=5.0)
            return received, delayed, got
        finally:
            await agent.close()
            await control.close()

    received, delayed, got = asyncio.run(scenario())
    assert received == list(range(1, controller.ACK_NOW + 2))
    assert delayed == ([], 1)
    assert got == [{"ack": controller.ACK_NOW + 1}]
