"""``TicketBook`` over the device store: every ticket and its command are on disk before the QR shows.

The signed QR text is written in the same SQLite transaction as the ticket and its ``IssueTicket``
command (``DeviceStore.add_command`` runs ``make`` inside its transaction), so a crash at any moment
leaves either all three or none.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec

from client_common.adapters.identity import Device, DeviceIdentity
from handheld_app.presenters.ports import LocalTicket
from protocol.ids import new_id
from protocol.qr import sign_ticket
from protocol.tickets import AnyCommand, AttachMember, IssueTicket, ReleaseTicket, Ticket, TicketDraft, VoidTicket

EXTRA = """
CREATE TABLE IF NOT EXISTS ticket_extra (
    id TEXT PRIMARY KEY,
    qr TEXT NOT NULL,
    member_name TEXT NOT NULL DEFAULT ''
)
"""

SELECT = "SELECT t.body, t.confirmed, e.qr, e.member_name FROM ticket t LEFT JOIN ticket_extra e ON e.id = t.id"
MINE = SELECT + " WHERE t.device_id = ?"  # the ticket_device index
MY_TICKETS_LIMIT = 300  # a day of one assistant's tickets, and more; older ones stay in the store

_tickets = msgspec.json.Decoder(Ticket)


def now_ms() -> int:
    return int(time.time() * 1000)


class StoreTicketBook:
    def __init__(self, device: Device, member_names: Callable[[uuid.UUID], str] = lambda _id: "") -> None:
        self._device = device
        self._store = device.store
        self._member_names = member_names
        self._listeners: list[Callable[[], None]] = []
        self.submit: Callable[[AnyCommand], None] | None = None  # the transport's, while sync runs
        self._store.db.execute(EXTRA)

    @property
    def _me(self) -> DeviceIdentity:
        identity = self._device.identity
        if identity is None:
            raise RuntimeError("this handheld is not enrolled")
        return identity

    # --- numbers and issue --------------------------------------------------------------------------

    def next_number(self) -> str:
        """store-counter-device-sequence, e.g. SH01-C-APL-H1-000042. A number taken and never used is
        only a gap, never a duplicate."""
        seq = int(self._store.get("ticket_seq", 0)) + 1
        self._store.set("ticket_seq", seq)
        return f"{ticket_prefix(self._me)}-{seq:06d}"

    def issue(self, draft: TicketDraft) -> LocalTicket:
        made = now_ms()
        me, seed = self._me, self._device.keys().seed
        member_name = self._member_names(draft.member_id) if draft.member_id else ""
        ticket = Ticket(
            id=draft.id,
            store_id=draft.store_id,
            counter_id=draft.counter_id,
            device_id=me.device_id,
            staff_id=draft.staff_id,
            number=draft.number,
            lines=draft.lines,
            total=draft.total,
            currency=draft.currency,
            member_id=draft.member_id,
            issued_at_ms=draft.issued_at_ms,
        )

        def make(seq: int) -> IssueTicket:
            # The command id is the ticket id (as DeviceStore.issue does): one id to keep, a shorter QR.
            command = IssueTicket(command_id=draft.id, device_seq=seq, made_at_ms=made, ticket=draft)
            qr = sign_ticket(command, me.device_id, seed)
            self._store.db.execute(  # inside add_command's transaction
                "INSERT OR REPLACE INTO ticket_extra (id, qr, member_name) VALUES (?, ?, ?)",
                (str(draft.id), qr, member_name),
            )
            return command

        self._send(self._store.add_command(make, ticket))
        found = self._local(draft.id)
        assert found is not None
        return found

    # --- changes ------------------------------------------------------------------------------------

    def void(self, ticket_id: uuid.UUID, reason: str) -> None:
        self._change(
            ticket_id,
            "voided",
            lambda seq: VoidTicket(
                command_id=new_id(), device_seq=seq, made_at_ms=now_ms(), ticket_id=ticket_id, reason=reason
            ),
        )

    def release(self, ticket_id: uuid.UUID, receipt_qr: str | None = None) -> None:
        self._change(
            ticket_id,
            "released",
            lambda seq: ReleaseTicket(
                command_id=new_id(), device_seq=seq, made_at_ms=now_ms(), ticket_id=ticket_id, receipt_qr=receipt_qr
            ),
            released=True,
        )

    def attach_member(self, ticket_id: uuid.UUID, member_id: uuid.UUID) -> None:
        ticket = self._store.ticket(ticket_id)
        if ticket is None:
            raise KeyError(ticket_id)
        name = self._member_names(member_id)

        def make(seq: int) -> AttachMember:
            self._store.db.execute("UPDATE ticket_extra SET member_name = ? WHERE id = ?", (name, str(ticket_id)))
            return AttachMember(
                command_id=new_id(), device_seq=seq, made_at_ms=now_ms(), ticket_id=ticket_id, member_id=member_id
            )

        self._send(self._store.add_command(make, msgspec.structs.replace(ticket, member_id=member_id)))

    def _change(self, ticket_id: uuid.UUID, state: str, make: Callable[[int], AnyCommand], **also: Any) -> None:
        ticket = self._store.ticket(ticket_id)
        if ticket is None:
            raise KeyError(ticket_id)
        self._send(self._store.add_command(make, msgspec.structs.replace(ticket, state=state, **also)))

    def _send(self, command: AnyCommand) -> None:
        if self.submit is not None:
            self.submit(command)
        self.changed()

    # --- reading ------------------------------------------------------------------------------------

    def tickets(self, staff_id: uuid.UUID | None, limit: int = MY_TICKETS_LIMIT) -> list[LocalTicket]:
        """This device's tickets, newest first, through the device index (the store also holds the
        rest of the store's tickets, which are never decoded here)."""
        sql = (
            MINE + (" AND t.staff_id = ?" if staff_id else "") + " ORDER BY t.issued_at_ms DESC, t.number DESC LIMIT ?"
        )
        args = (str(self._me.device_id), *((str(staff_id),) if staff_id else ()), limit)
        refused = self.refusals()
        return [
            _local(_tickets.decode(b), bool(c), qr or "", name or "", refused)
            for b, c, qr, name in self._store.db.execute(sql, args)
        ]

    def refusals(self) -> dict[uuid.UUID, tuple[str, str]]:
        """ticket id -> (code, sentence) of the last command about it that the server refused."""
        found: dict[uuid.UUID, tuple[str, str]] = {}
        for letter in self._store.dead_letters():
            command = letter.command
            ticket_id = command.ticket.id if isinstance(command, IssueTicket) else command.ticket_id
            found[ticket_id] = (letter.error.code, letter.error.message)
        return found

    def _local(self, ticket_id: uuid.UUID) -> LocalTicket | None:
        row = self._store.db.execute(SELECT + " WHERE t.id = ?", (str(ticket_id),)).fetchone()
        if row is None:
            return None
        return _local(_tickets.decode(row[0]), bool(row[1]), row[2] or "", row[3] or "", self.refusals())

    def ticket(self, ticket_id: uuid.UUID) -> LocalTicket | None:
        return self._local(ticket_id)

    # --- listeners ----------------------------------------------------------------------------------

    def on_change(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def changed(self) -> None:
        for callback in list(self._listeners):
            callback()


def ticket_prefix(me: DeviceIdentity) -> str:
    """The counter's and the device's codes from enrollment; a device enrolled with an older server
    (no codes in its answer) uses the last hex digits of the ids instead."""
    counter = me.counter_code or (me.counter_id.hex[-4:].upper() if me.counter_id else "0000")
    device = me.device_code or me.device_id.hex[-6:].upper()
    return f"{me.store_code}-{counter}-{device}"


def _local(
    ticket: Ticket, confirmed: bool, qr: str, member_name: str, refused: dict[uuid.UUID, tuple[str, str]]
) -> LocalTicket:
    code, message = refused.get(ticket.id, ("", ""))
    return LocalTicket(
        id=ticket.id,
        number=ticket.number,
        total=ticket.total,
        state=ticket.state,
        item_count=sum(line.qty for line in ticket.lines),
        member_name=member_name,
        synced=confirmed,
        issued_at_ms=ticket.issued_at_ms,
        qr=qr,
        refused_code=code,
        refused=message,
        released=ticket.released,
    )
