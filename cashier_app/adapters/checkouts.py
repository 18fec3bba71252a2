"""``Checkouts``: settling online through ``POST /checkouts``, and the till's outbox of checkouts settled
offline.

Online: tickets read from their QR codes are uploaded first (a replay when the server has them), then
the checkout is sent with the id the presenter made before the first attempt, so a retry after a lost
answer is a replay. The till signs the receipt QR with its own key over the payload the server answered.

Offline (QR-scanned tickets paid in cash, on the standalone card terminal or from a granted allowance;
the presenter's rule): the whole request, with the scanned
QR texts, is written to the ``till_checkout`` table in the device store before the receipt is shown,
and the receipt QR is signed here with a provisional receipt number. ``flush()`` replays the waiting
ones in order when the link is back: upload the tickets from their codes, then ``POST /checkouts`` with
the same checkout id, so each applies exactly once whatever happens in between. A refusal (a ticket
paid at another till meanwhile) leaves the checkout in a visible refused state with the server's
sentence, and the rest flow on. The outbox marks each request ``settled_offline_at_ms``: refused for a
conflict, the server records it as an exception for the manager, and the refused state says which one
and the cash to give back.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from cashier_app.adapters import scanned
from cashier_app.adapters.allowances import TillAllowanceBook
from cashier_app.adapters.server import StaffCalls
from cashier_app.codes import offline_receipt_qr
from cashier_app.presenters.exceptions import recorded_text
from cashier_app.presenters.ports import TRY_AGAIN_LATER, Settled, SettleRequest, Tender
from client_common.adapters.identity import Device, DeviceIdentity
from client_common.adapters.staff import StaffAuth
from client_common.connection import DeadLetter
from client_common.i18n import translator
from client_common.presenters.ports import Refused, Unreachable
from protocol.checkout import CheckoutRequest, CheckoutResult, TenderRequest, receipt_payload
from protocol.qr import PublicKeys
from protocol.receipts import sign_receipt

log = logging.getLogger(__name__)

TABLE = """
CREATE TABLE IF NOT EXISTS till_checkout (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    state TEXT NOT NULL,              -- waiting | settled | refused
    request BLOB NOT NULL,            -- the CheckoutRequest as it will be sent
    qrs BLOB NOT NULL,                -- the scanned ticket QR texts, uploaded before the checkout
    receipt_no TEXT NOT NULL,         -- provisional until the server answers
    receipt_qr TEXT NOT NULL,
    error_code TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT ''
)
"""

TRANSIENT = TRY_AGAIN_LATER
"""Refusals that say "not now" rather than "never": the checkout stays waiting."""

translator.add({"en": {"conn.what_checkout": "Checkout {number}"}, "zh": {"conn.what_checkout": "结账单 {number}"}})

_requests = msgspec.json.Decoder(CheckoutRequest)
_qrs = msgspec.json.Decoder(list[str])


@dataclass(frozen=True)
class Queued:
    """A checkout in the till's outbox."""

    checkout_id: uuid.UUID
    receipt_no: str
    state: str
    error_code: str = ""
    error_message: str = ""


def wire_request(request: SettleRequest) -> CheckoutRequest:
    return CheckoutRequest(
        id=request.checkout_id,
        ticket_ids=[t.id for t in request.tickets],
        tenders=[
            TenderRequest(
                id=t.id,
                kind=t.kind,
                amount=t.amount,
                token=t.token or None,
                terminal_ref=t.terminal_ref or None,
                last4=t.masked[-4:] if t.terminal_ref else None,
                allowance_id=t.allowance_id,
            )
            for t in request.tenders
        ],
        member_id=request.member_id,
        expected_total=request.total,
    )


def offline_request(request: SettleRequest, receipt_no: str | None = None) -> CheckoutRequest:
    """The request as the outbox keeps it: marked settled offline, with the provisional number on the
    customer's paper receipt, so a refusal for a conflict is recorded by the server as an exception
    for the manager that names that receipt (see ``protocol.exceptions``)."""
    return msgspec.structs.replace(
        wire_request(request), settled_offline_at_ms=int(time.time() * 1000), offline_receipt_no=receipt_no
    )


class TillCheckouts(StaffCalls):
    def __init__(
        self,
        auth: StaffAuth,
        device: Device,
        keys: PublicKeys,
        on_settled: Callable[[Settled, str], None] = lambda _settled, _text: None,
        narrow: bool = False,
        allowances: TillAllowanceBook | None = None,
    ) -> None:
        super().__init__(auth)
        self._allowances = allowances  # debited with the checkout, released if the server refuses it
        self._narrow = narrow  # a 58 mm printer gets the server's 58 mm layout
        self._device = device
        self._store = device.store
        self._keys = keys
        self._on_settled = on_settled  # e.g. the receipt printer: (settled, receipt text)
        self._lock = asyncio.Lock()
        self.changed: Callable[[], None] = lambda: None  # the connection bar redraws
        self._store.db.execute(TABLE)

    # --- online -------------------------------------------------------------------------------------

    async def settle(self, request: SettleRequest) -> Settled:
        qrs = [t.qr for t in request.tickets if t.qr]
        if qrs:
            await scanned.upload(self._device, self._keys, qrs)
        result = await self.call("POST", "/checkouts", CheckoutResult, body=wire_request(request))
        if self._allowances is not None:
            self._allowances.settled_online(request)
        settled = self._settled(result, request.tenders)
        self._on_settled(settled, (result.receipt_text_58 if self._narrow else "") or result.receipt_text)
        return settled

    def _settled(self, result: CheckoutResult, tenders: tuple[Tender, ...]) -> Settled:
        me = self._identity()
        masked = {t.id: t.masked for t in tenders}
        return Settled(
            checkout_id=result.id,
            receipt_no=result.receipt_no,
            ticket_numbers=tuple(t.number for t in result.tickets),
            total=result.total,
            tendered=result.tendered,
            change=result.change,
            tenders=tuple(
                Tender(t.id, t.kind, t.tendered, masked=t.masked or masked.get(t.id, "")) for t in result.tenders
            ),
            receipt_qr=sign_receipt(receipt_payload(result, me.device_id), self._device.keys().seed),
            points_earned=result.points_earned,
            settled_at_ms=result.settled_at_ms,
        )

    def _identity(self) -> DeviceIdentity:
        identity = self._device.identity
        if identity is None:
            raise RuntimeError("this till is not enrolled")
        return identity

    # --- offline ------------------------------------------------------------------------------------

    def queue(self, request: SettleRequest) -> Settled:
        if any(not t.qr for t in request.tickets) or not all(t.offline_ok for t in request.tenders):
            raise ValueError(
                "only checkouts of tickets scanned from their QR codes, paid in cash, on the card terminal or "
                "from a granted allowance, wait in the outbox"
            )
        me = self._identity()
        existing = self._row(request.checkout_id)
        if existing is not None:  # the same checkout again (a retry): keep what was written
            receipt_no, receipt_qr = existing[0], existing[1]
        else:
            db = self._store.db
            db.execute("BEGIN IMMEDIATE")
            try:
                seq = int(db.execute("SELECT coalesce(max(seq), 0) + 1 FROM till_checkout").fetchone()[0])
                receipt_no = f"{me.store_code}-T{me.device_id.hex[-6:]}-{seq:06d}".upper()
                receipt_qr = offline_receipt_qr(
                    request, receipt_no, me.store_id, me.device_id, self._device.keys().seed
                )
                db.execute(
                    "INSERT INTO till_checkout (id, seq, state, request, qrs, receipt_no, receipt_qr)"
                    " VALUES (?, ?, 'waiting', ?, ?, ?, ?)",
                    (
                        str(request.checkout_id),
                        seq,
                        msgspec.json.encode(offline_request(request, receipt_no)),
                        msgspec.json.encode([t.qr for t in request.tickets]),
                        receipt_no,
                        receipt_qr,
                    ),
                )
                if self._allowances is not None:
                    self._allowances.debit(db, request)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        tendered = sum(t.amount for t in request.tenders)
        settled = Settled(
            checkout_id=request.checkout_id,
            receipt_no=receipt_no,
            ticket_numbers=tuple(t.number for t in request.tickets),
            total=request.total,
            tendered=tendered,
            change=max(0, tendered - request.total),
            tenders=request.tenders,
            receipt_qr=receipt_qr,
            queued=True,
            settled_at_ms=int(time.time() * 1000),
        )
        self._on_settled(settled, "")
        self.changed()
        return settled

    def _row(self, checkout_id: uuid.UUID) -> tuple[str, str] | None:
        row = self._store.db.execute(
            "SELECT receipt_no, receipt_qr FROM till_checkout WHERE id = ?", (str(checkout_id),)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def queued(self) -> list[Queued]:
        rows = self._store.db.execute(
            "SELECT id, receipt_no, state, error_code, error_message FROM till_checkout ORDER BY seq"
        ).fetchall()
        return [Queued(uuid.UUID(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def waiting(self) -> int:
        return int(self._store.db.execute("SELECT count(*) FROM till_checkout WHERE state = 'waiting'").fetchone()[0])

    def dead_letters(self) -> list[DeadLetter]:
        return [
            DeadLetter(
                command_id=q.checkout_id,
                what=translator.tr("conn.what_checkout", number=q.receipt_no),
                code=q.error_code,
                message=q.error_message,
            )
            for q in self.queued()
            if q.state == "refused"
        ]

    async def flush(self) -> int:
        """Send the waiting checkouts in order; returns how many the server settled. Stops at the first
        one without an answer (tried again on the next call)."""
        async with self._lock:
            rows = self._store.db.execute(
                "SELECT id, request, qrs, receipt_no FROM till_checkout WHERE state = 'waiting' ORDER BY seq"
            ).fetchall()
            done = 0
            for checkout_id, body, qrs, receipt_no in rows:
                try:
                    await self._replay(_requests.decode(body), _qrs.decode(qrs), receipt_no)
                except Unreachable:
                    break
                except Refused as exc:
                    if exc.code in TRANSIENT:
                        break
                    log.info("offline checkout %s refused: %s", checkout_id, exc.code)
                    self._mark(checkout_id, "refused", exc.code, recorded_text(exc))
                    continue
                done += 1
                self._mark(checkout_id, "settled")
            return done

    async def _replay(self, request: CheckoutRequest, qrs: list[str], receipt_no: str = "") -> CheckoutResult:
        if request.settled_offline_at_ms is None:  # kept by an older version of the till
            request = msgspec.structs.replace(request, settled_offline_at_ms=int(time.time() * 1000))
        if request.offline_receipt_no is None and receipt_no:  # likewise
            request = msgspec.structs.replace(request, offline_receipt_no=receipt_no)
        if qrs:
            try:
                await scanned.upload(self._device, self._keys, qrs)
            except Refused as exc:
                if exc.code in TRANSIENT:
                    raise
                # The checkout is sent all the same: the money was taken, so the server must hear of it
                # (it refuses it too and records it for the manager).
                log.info("tickets of offline checkout %s refused: %s", request.id, exc.code)
        return await self.call("POST", "/checkouts", CheckoutResult, body=request)

    def _mark(self, checkout_id: str, state: str, code: str = "", message: str = "") -> None:
        db = self._store.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "UPDATE till_checkout SET state = ?, error_code = ?, error_message = ? WHERE id = ?",
                (state, code, message, checkout_id),
            )
            if self._allowances is not None:  # the server took the allowance spends, or nothing
                (self._allowances.settled if state == "settled" else self._allowances.refused)(db, checkout_id)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self.changed()
