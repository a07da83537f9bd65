"""Numbering, acknowledgement and replay: the rules that make a message applied once."""

from corral.transport import frames
from corral.transport.link import Link
from corral.transport.sequence import APPLY, DUPLICATE, GAP, Inbox, Outbox
from corral.transport.settings import Settings
from support import Wire


def test_outbox_numbers_from_one_and_forgets_only_what_was_acknowledged():
    outbox = Outbox()
    assert [outbox.add({"n": n}) for n in range(5)] == [1, 2, 3, 4, 5]
    outbox.acknowledge(3)
    assert [seq for seq, _ in outbox.pending] == [4, 5]
    assert outbox.resume_from == 4
    outbox.acknowledge(2)  # an old acknowledgement changes nothing
    assert len(outbox) == 2
    outbox.acknowledge(5)
    assert len(outbox) == 0 and outbox.resume_from == 6


def test_inbox_applies_the_next_number_only():
    inbox = Inbox("boot-1")
    assert inbox.accept(1) == APPLY
    assert inbox.accept(1) == DUPLICATE
    assert inbox.accept(3) == GAP
    assert inbox.applied == 1
    assert inbox.accept(2) == APPLY and inbox.accept(3) == APPLY


def test_inbox_of_a_session_met_midway_starts_where_the_sender_resumes():
    inbox = Inbox("boot-2", resume_from=57)
    assert inbox.accept(56) == DUPLICATE
    assert inbox.accept(57) == APPLY


def test_a_gap_asks_for_one_resend_until_something_more_is_applied():
    inbox = Inbox("boot-1")
    inbox.accept(1)
    assert inbox.accept(5) == GAP and inbox.ask_resend()
    assert inbox.accept(6) == GAP and not inbox.ask_resend()
    inbox.accept(2)
    assert inbox.accept(7) == GAP and inbox.ask_resend()


def test_messages_lost_in_flight_are_replayed_and_applied_once_in_order():
    settings = Settings()
    sender, receiver = Link(settings, 0, Inbox("s")), Link(settings, 0, Inbox("s"))
    forward, back = Wire(), Wire()
    sender.send_frame, receiver.send_frame = forward.send, back.send
    applied = []
    for job in range(1, 11):
        sender.send({"job": job})
    sender.flush()
    forward.deliver(receiver, applied)  # 1-10 arrive, and the ack goes back ...
    back.cut()  # ... but is lost with the connection
    for job in range(11, 21):
        sender.send({"job": job})
    sender.flush()
    forward.cut()  # 11-20 are lost too
    assert len(sender.outbox) == 20
    assert sender.replay() == 20  # after the reconnect: everything not acknowledged
    sender.send({"job": 21})
    sender.flush()
    forward.deliver(receiver, applied)
    back.deliver(sender, [])
    assert [message["job"] for message in applied] == list(range(1, 22))
    assert len(sender.outbox) == 0


def test_a_gap_inside_a_connection_is_filled_by_a_resend():
    settings = Settings()
    sender, receiver = Link(settings, 0, Inbox("s")), Link(settings, 0, Inbox("s"))
    forward, back = Wire(), Wire()
    sender.send_frame, receiver.send_frame = forward.send, back.send
    applied = []
    for job in range(1, 6):
        sender.send({"job": job})
        sender.flush()  # one frame each
    del forward.frames[1]  # message 2 lost, 3-5 arrive beyond the gap
    forward.deliver(receiver, applied)
    assert [message["job"] for message in applied] == [1]
    assert [frames.decode(data) for data in back.frames] == [{"ack": 1, "resend": True}]
    back.deliver(sender, [])  # the sender sends 2-5 again
    forward.deliver(receiver, applied)
    assert [message["job"] for message in applied] == [1, 2, 3, 4, 5]


def test_messages_of_one_turn_leave_in_one_frame_and_long_bursts_in_several():
    link = Link(Settings(), 0, Inbox("s"))
    wire = Wire()
    link.send_frame = wire.send
    assert link.send({"job": 1}) is True  # the caller schedules one flush ...
    assert all(link.send({"job": job}) is False for job in range(2, 301))  # ... not more
    link.flush()
    sent = [frames.decode(data) for data in wire.frames]
    assert [(frame["seq"], len(frame["msgs"])) for frame in sent] == [(1, 256), (257, 44)]
    receiver, applied = Link(Settings(), 0, Inbox("s")), []
    receiver.send_frame = Wire().send
    wire.deliver(receiver, applied)
    assert [message["job"] for message in applied] == list(range(1, 301))


def test_messages_sent_while_unregistered_wait_for_the_replay():
    link = Link(Settings(), 0, Inbox(""))
    assert link.send({"job": 1}) is False  # nowhere to send it yet
    wire = Wire()
    link.send_frame = wire.send
    assert link.replay() == 1
    assert frames.decode(wire.frames[0]) == {"seq": 1, "ack": 0, "msgs": [{"job": 1}]}


def test_a_gated_receiver_acknowledges_only_what_is_stored_so_the_sender_keeps_the_rest():
    settings = Settings()
    sender = Link(settings, 0, Inbox("s"))
    receiver = Link(settings, 0, Inbox("s", gated=True))
    forward, back = Wire(), Wire()
    sender.send_frame, receiver.send_frame = forward.send, back.send
    applied = []
    for job in range(1, 6):
        sender.send({"job": job})
    sender.flush()
    forward.deliver(receiver, applied)
    assert len(applied) == 5
    receiver.acknowledge()  # applied, but nothing is stored yet: nothing to acknowledge
    assert back.frames == []
    receiver.inbox.stored(3)
    receiver.acknowledge()
    back.deliver(sender, [])
    assert [seq for seq, _ in sender.outbox.pending] == [4, 5]  # kept for the next receiver
