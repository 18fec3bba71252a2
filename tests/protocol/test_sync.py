"""The sans-IO sync core: exactly once, dead letters, resume, and convergence under a hostile network."""

from __future__ import annotations

import uuid

import msgspec
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from protocol import PROTOCOL_VERSION
from protocol.codec import encode
from protocol.errors import Codes, ErrorBody
from protocol.messages import Error, Hello, Ping, Pong, Welcome
from protocol.sync import (
    DeadLettered,
    Done,
    EventApplied,
    Fatal,
    Phase,
    Problem,
    Reconnect,
    Send,
    SyncClient,
    SyncCodes,
    ViewReset,
)
from protocol.tickets import (
    Ack,
    CaughtUp,
    CommandResult,
    EventFrame,
    IssueTicket,
    Results,
    Submit,
    Ticket,
    TicketDraft,
    TicketEvent,
)
from tests.protocol.sync_harness import Network
from tests.protocol.sync_model import BAD_TRANSITION, REUSED, ModelServer

STORE = uuid.UUID(int=1)


def sent(outputs: list[object]) -> list[object]:
    return [o.frame for o in outputs if isinstance(o, Send)]


def welcome(position: int = 0) -> Welcome:
    return Welcome(
        protocol_version=PROTOCOL_VERSION,
        device_id=uuid.UUID(int=2),
        store_id=STORE,
        position=position,
        server_time_ms=0,
    )


def make_event(position: int, ticket_no: int = 1, state: str = "issued") -> TicketEvent:
    ticket = Ticket(
        id=uuid.UUID(int=ticket_no),
        store_id=STORE,
        counter_id=STORE,
        device_id=STORE,
        staff_id=None,
        number=f"N{ticket_no}",
        lines=[],
        total=0,
        state=state,  # type: ignore[arg-type]
    )
    return TicketEvent(position=position, store_id=STORE, kind="ticket_" + state, ticket=ticket, at_ms=0)


def online_client(**kwargs: object) -> SyncClient:
    core = SyncClient("tok", **kwargs)  # type: ignore[arg-type]
    core.connection_made()
    core.receive(welcome())
    core.receive(CaughtUp(position=0))
    core.outputs()
    return core


def test_hello_carries_the_stored_position_and_queued_commands_go_after_welcome() -> None:
    net = Network(ModelServer(), STORE, 1)
    d = net.devices[0]
    net.issue(d)  # offline: nothing to send yet
    assert d.core.waiting == 1
    core = SyncClient("tok", position=41, outbox=d.core.outbox.values(), next_seq=d.core.next_seq)
    core.connection_made()
    (hello,) = sent(core.outputs())
    assert isinstance(hello, Hello)
    assert hello.last_position == 41
    assert hello.protocol_version == PROTOCOL_VERSION
    core.receive(welcome(position=41))
    (submit,) = sent(core.outputs())
    assert isinstance(submit, Submit)
    assert [c.device_seq for c in submit.commands] == [1]


def test_commands_get_growing_sequence_numbers_and_leave_the_outbox_when_applied() -> None:
    net = Network(ModelServer(), STORE, 1)
    d = net.devices[0]
    net.connect(d)
    net.heal()
    first = net.issue(d)
    net.issue(d)
    assert [c.device_seq for c in d.made] == [1, 2]
    net.heal()
    assert d.core.waiting == 0
    assert set(d.done) == {c.command_id for c in d.made}
    assert d.core.tickets[first].state == "issued"
    assert net.server.devices[d.token].last_seq == 2


def test_a_refused_command_becomes_a_dead_letter_with_the_servers_reason_and_the_rest_flows_on() -> None:
    net = Network(ModelServer(), STORE, 1)
    d = net.devices[0]
    ticket = net.issue(d)
    net.act(d, "release", ticket)  # not paid: refused
    net.issue(d)
    net.heal()
    assert d.core.waiting == 0
    (letter,) = d.core.dead_letters.values()
    assert letter.error.code == BAD_TRANSITION
    assert "not paid" in letter.error.message
    assert len(d.core.tickets) == 2


def test_a_duplicate_answer_is_harmless() -> None:
    core = online_client()
    command = core.issue(_draft(), command_id=uuid.UUID(int=77))
    core.outputs()
    result = CommandResult(command_id=command.command_id, status="applied")
    core.receive(Results(results=[result]))
    core.receive(Results(results=[result]))
    core.receive(Results(results=[CommandResult(command_id=command.command_id, status="replayed")]))
    outs = core.outputs()
    assert [type(o) for o in outs] == [Done]
    assert core.waiting == 0


def test_unacknowledged_commands_are_sent_again_on_the_next_connection() -> None:
    core = online_client()
    core.issue(_draft(), command_id=uuid.UUID(int=77))
    (first,) = sent(core.outputs())
    core.connection_lost()
    core.connection_made()
    core.receive(welcome())
    frames = sent(core.outputs())
    assert isinstance(frames[0], Hello)
    assert isinstance(frames[1], Submit)
    assert frames[1].commands == first.commands  # type: ignore[attr-defined]


def test_events_update_the_view_once_and_are_acknowledged_after_they_are_handed_over() -> None:
    core = SyncClient("tok", ack_every=2)
    core.connection_made()
    core.receive(welcome(position=3))
    core.outputs()
    core.receive(EventFrame(event=make_event(1)))
    core.receive(EventFrame(event=make_event(2, 2)))
    core.receive(EventFrame(event=make_event(2, 2)))  # duplicate delivery
    outs = core.outputs()
    assert [type(o) for o in outs] == [EventApplied, EventApplied, Send]
    assert outs[2].frame == Ack(position=2)  # type: ignore[union-attr]
    core.receive(EventFrame(event=make_event(3, 1, "paid")))
    core.receive(CaughtUp(position=3))
    outs = core.outputs()
    assert isinstance(outs[0], EventApplied)
    assert core.phase is Phase.LIVE
    assert sent(outs) == [Ack(position=3)]
    core.receive(EventFrame(event=make_event(4, 2, "voided")))
    outs = core.outputs()
    assert [type(o) for o in outs] == [EventApplied, Send]  # live: ack each event after it is stored
    assert core.tickets[uuid.UUID(int=1)].state == "paid"
    assert core.tickets[uuid.UUID(int=2)].state == "voided"
    assert core.position == 4


def test_a_gap_in_positions_asks_for_a_reconnect_and_resumes_from_the_last_stored_position() -> None:
    core = online_client()
    core.receive(EventFrame(event=make_event(1)))
    core.receive(EventFrame(event=make_event(3)))
    core.receive(EventFrame(event=make_event(2)))  # ignored: the connection is being replaced
    outs = core.outputs()
    reconnect = [o for o in outs if isinstance(o, Reconnect)]
    assert reconnect[0].reason.code == SyncCodes.POSITION_GAP
    assert core.position == 1
    core.connection_lost()
    core.connection_made()
    assert sent(core.outputs())[0].last_position == 1  # type: ignore[attr-defined]


def test_a_server_behind_the_device_resets_the_view() -> None:
    core = SyncClient("tok", position=9, tickets=[make_event(9).ticket])
    core.connection_made()
    core.receive(welcome(position=2))
    outs = core.outputs()
    assert any(isinstance(o, ViewReset) and o.reason.code == SyncCodes.SERVER_BEHIND for o in outs)
    assert any(isinstance(o, Reconnect) for o in outs)
    assert core.position == 0
    assert core.tickets == {}


def test_a_revoked_device_stops_and_an_ordinary_error_does_not() -> None:
    core = online_client()
    core.receive(Error(error=ErrorBody(code=Codes.VALIDATION, message="bad")))
    core.receive_data(b"{not json")
    core.receive_data(encode(Ping(nonce=5)))
    outs = core.outputs()
    assert [type(o) for o in outs] == [Problem, Problem, Send]
    assert outs[1].error.code == Codes.MALFORMED  # type: ignore[union-attr]
    assert outs[2].frame == Pong(nonce=5)  # type: ignore[union-attr]
    core.receive(Error(error=ErrorBody(code=Codes.DEVICE_REVOKED, message="revoked")))
    outs = core.outputs()
    assert isinstance(outs[0], Fatal)
    assert core.phase is Phase.STOPPED
    core.connection_lost()
    core.connection_made()
    assert core.outputs() == []  # no reconnect storm until a person acts


def test_the_same_id_with_different_content_is_refused_naming_the_field() -> None:
    server = ModelServer()
    net = Network(server, STORE, 1)
    d = net.devices[0]
    ticket = net.issue(d)
    net.heal()
    original = d.made[0]
    assert isinstance(original, IssueTicket)
    forged = msgspec.structs.replace(original, ticket=msgspec.structs.replace(original.ticket, total=999))
    core = SyncClient("token-0", next_seq=9)
    core.enqueue(forged)
    core.batch_answered(server.upload("token-0", core.batch()))
    (out,) = core.outputs()
    assert isinstance(out, DeadLettered)
    assert out.letter.error.code == REUSED
    assert "ticket.total" in out.letter.error.details["field"]
    assert server.effects[original.command_id] == 1
    assert server.tickets[ticket].total == 100


def test_the_window_bounds_commands_in_flight() -> None:
    core = online_client(window=4, batch_size=3)
    for i in range(10):
        core.issue(_draft(i), command_id=uuid.UUID(int=500 + i))
    frames = sent(core.outputs())
    assert sum(len(f.commands) for f in frames) == 4  # type: ignore[attr-defined]
    first = frames[0].commands[0]  # type: ignore[attr-defined]
    core.receive(Results(results=[CommandResult(command_id=first.command_id, status="applied")]))
    frames = sent(core.outputs())
    assert [c.device_seq for f in frames for c in f.commands] == [5]  # type: ignore[attr-defined]


# --- property: hostile network ----------------------------------------------------------------------

device = st.integers(0, 2)
deliver_in_order = st.tuples(st.just("deliver"), device, st.booleans(), st.just(0), st.just(False))
step = st.one_of(
    # Progress is the common case; faults are frequent enough that most runs meet several of each.
    deliver_in_order,
    deliver_in_order,
    deliver_in_order,
    st.tuples(st.just("pump"), device, st.integers(1, 30)),
    st.tuples(st.just("issue"), device),
    st.tuples(st.just("issue"), device),
    st.tuples(st.sampled_from(["void", "attach", "release"]), device, st.integers(0, 50)),
    st.tuples(st.just("pay"), st.integers(0, 50)),
    st.tuples(st.just("connect"), device),
    st.tuples(st.just("cut"), device),
    st.tuples(st.just("deliver"), device, st.booleans(), st.integers(1, 20), st.booleans()),  # reorder, repeat
    st.tuples(st.just("deliver"), device, st.booleans(), st.just(0), st.just(True)),  # repeat
    st.tuples(st.just("drop"), device, st.booleans(), st.integers(0, 20)),
    st.tuples(st.just("upload"), device, st.booleans()),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=30, max_size=200))
def test_every_command_is_applied_exactly_once_and_every_view_converges(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    server = ModelServer()
    net = Network(server, STORE, 3)
    issued: list[uuid.UUID] = []
    for d in net.devices:
        net.connect(d)
    for s in steps:
        d = net.devices[s[1]] if s[0] != "pay" else None
        match s:
            case ("issue", _):
                issued.append(net.issue(d))  # type: ignore[arg-type]
            case ("void" | "attach" | "release", _, n):
                net.act(d, s[0], issued[n % len(issued)] if issued else uuid.UUID(int=3))  # type: ignore[arg-type]
            case ("pay", n):
                if issued:
                    server.pay(issued[n % len(issued)])
                    net.pull_server_frames()
            case ("pump", _, n):
                for _ in range(n):
                    net.deliver(d, True, 0, keep=False)  # type: ignore[arg-type]
                    net.deliver(d, False, 0, keep=False)  # type: ignore[arg-type]
            case ("connect", _):
                net.connect(d)  # type: ignore[arg-type]
            case ("cut", _):
                net.cut(d)  # type: ignore[arg-type]
            case ("deliver", _, to_server, index, keep):
                net.deliver(d, to_server, index, keep)  # type: ignore[arg-type]
            case ("drop", _, to_server, index):
                net.drop(d, to_server, index)  # type: ignore[arg-type]
            case ("upload", _, lose):
                net.upload(d, lose)  # type: ignore[arg-type]
    for name, count in net.stats.items():
        event(f"{name}: {'none' if not count else 'some' if count < 5 else 'many'}")
    event(f"applied before healing: {'some' if server.effects else 'none'}")
    net.heal()

    position = server.position(STORE)
    for d in net.devices:
        record = server.devices[d.token]
        assert d.core.waiting == 0, "every command was answered"
        for command in d.made:
            stored = server.results[command.command_id][1]
            if stored.status == "applied":
                assert server.effects[command.command_id] == 1
                assert command.command_id not in d.core.dead_letters
            else:
                assert server.effects[command.command_id] == 0
                assert d.core.dead_letters[command.command_id].error == stored.error
        assert record.seqs == {c.device_seq for c in d.made}
        assert d.core.position == position
        assert d.core.tickets == server.tickets
        assert d.core.phase is Phase.LIVE
    assert sum(server.effects.values()) == len(server.results) - sum(
        1 for _, r in server.results.values() if r.status == "rejected"
    )
    assert all(count == 1 for count in server.effects.values())


def _draft(n: int = 0) -> TicketDraft:
    return TicketDraft(id=uuid.UUID(int=900 + n), store_id=STORE, counter_id=STORE, number=f"D{n}", lines=[], total=0)


def test_a_refused_submit_is_sent_again_smaller_or_on_a_new_connection() -> None:
    core = online_client(batch_size=4)
    for i in range(4):
        core.issue(_draft(i), command_id=uuid.UUID(int=600 + i))
    assert [len(f.commands) for f in sent(core.outputs())] == [1, 1, 1, 1]  # type: ignore[attr-defined]
    core.receive(Error(error=ErrorBody(code="frame_too_large", message="too big"), in_reply_to="submit"))
    outs = core.outputs()
    assert isinstance(outs[0], Problem)
    assert [len(f.commands) for f in sent(outs)] == [2, 2]  # type: ignore[attr-defined]
    core.receive(Error(error=ErrorBody(code="database_unavailable", message="later"), in_reply_to="submit"))
    assert any(isinstance(o, Reconnect) for o in core.outputs())
    assert core.waiting == 4
