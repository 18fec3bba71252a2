"""``Allowances``: the till's local copy of the offline spending allowances the server granted it.

Reserving (``POST /api/device/allowances``, device token) puts part of a member's balance in escrow for
this till; ``GET /api/device/till-allowances`` lists the open ones and is read on every reconnect and
after the outbox delivered something. The copy lives in the device store (``till_allowance``), so it
still holds offline and after a restart.

What the till spent offline is written next to it (``till_allowance_spend``, one row per tender) in the
same SQLite transaction as the checkout it belongs to in the outbox, so what is left is always the
server's count less the spends still on their way. When the server settles the checkout the spend is
*applied*; when it refuses it the spend is *released* (credited back here: the server took nothing).
An applied spend is dropped at the first list read that began after it, because that list counts it.
Until then it is counted twice, which only ever makes the till spend less, never more than granted.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cashier_app.presenters.ports import HeldAllowance, SettleRequest
from client_common.adapters.identity import Device, port_error
from client_common.api import ApiError
from client_common.presenters.ports import Refused, Unreachable
from protocol.members import AccountKind, Allowance, AllowanceGrant
from protocol.payments import TenderKind
from protocol.till import TillAllowances

log = logging.getLogger(__name__)

T = TypeVar("T")

LIST = "/api/device/till-allowances"
GRANT = "/api/device/allowances"
LIFETIME = timedelta(hours=12)
"""How long a reserved allowance can be spent: a trading day. The server releases it a day after."""

TENDER_KIND: dict[str, TenderKind] = {"stored_value": "stored_value", "e_coin": "ecoin", "points": "points"}
LEDGER_KIND: dict[TenderKind, AccountKind] = {"stored_value": "stored_value", "ecoin": "e_coin", "points": "points"}

HELD = """
SELECT a.id, a.member_id, a.kind, a.amount, a.spent, a.expires_at_ms,
       coalesce((SELECT sum(s.amount) FROM till_allowance_spend s
                 WHERE s.allowance_id = a.id AND s.state IN ('waiting', 'applied')), 0)
FROM till_allowance a
"""


def ledger_amount(kind: TenderKind, fen: int, points_per_yuan: int) -> int:
    """What a tender of ``fen`` takes from an allowance of its kind: points at the store's value, else fen."""
    if kind != "points":
        return fen
    points, rest = divmod(fen * points_per_yuan, 100)
    if rest:
        raise ValueError(f"{fen} fen cannot be paid in whole points at {points_per_yuan} points per yuan")
    return points


class TillAllowanceBook:
    def __init__(
        self, device: Device, points_per_yuan: Callable[[], int], clock: Callable[[], float] = time.time
    ) -> None:
        self._device = device
        self._db = device.store.db
        self._points_per_yuan = points_per_yuan
        self._clock = clock

    # --- reading the local copy (offline too) -----------------------------------------------------

    def held(self, member_id: uuid.UUID) -> tuple[HeldAllowance, ...]:
        rows = self._db.execute(HELD + " WHERE a.member_id = ? ORDER BY a.rowid", (str(member_id),)).fetchall()
        return tuple(self._view(r) for r in rows)

    def all(self) -> list[HeldAllowance]:
        return [self._view(r) for r in self._db.execute(HELD + " ORDER BY a.rowid").fetchall()]

    def _view(self, row: tuple[str, str, str, int, int, int, int]) -> HeldAllowance:
        allowance_id, member_id, kind, amount, spent, expires_at_ms, on_the_way = row
        expired = expires_at_ms <= self._clock() * 1000
        return HeldAllowance(
            allowance_id=uuid.UUID(allowance_id),
            member_id=uuid.UUID(member_id),
            kind=TENDER_KIND[kind],
            amount=amount,
            left=0 if expired else max(0, amount - spent - on_the_way),
            expires_at_ms=expires_at_ms,
        )

    # --- the server ---------------------------------------------------------------------------------

    async def reserve(
        self, allowance_id: uuid.UUID, member_id: uuid.UUID, kind: TenderKind, amount: int
    ) -> HeldAllowance:
        grant = AllowanceGrant(
            allowance_id=allowance_id,
            member_id=member_id,
            kind=LEDGER_KIND[kind],
            amount=amount,
            expires_at=datetime.fromtimestamp(self._clock(), UTC) + LIFETIME,
        )
        answer = await self._call("POST", GRANT, Allowance, grant)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            _keep(self._db, answer)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return next(a for a in self.held(member_id) if a.allowance_id == allowance_id)

    async def give_back(self, allowance_id: uuid.UUID) -> None:
        await self._call("POST", f"{GRANT}/{allowance_id}/return", Allowance)
        self._db.execute("DELETE FROM till_allowance WHERE id = ?", (str(allowance_id),))

    async def refresh(self) -> int:
        """Replace the local copy with the server's list; returns how many are open."""
        mark = int(self._db.execute("SELECT coalesce(max(applied_seq), 0) FROM till_allowance_spend").fetchone()[0])
        fresh = await self._call("GET", LIST, TillAllowances)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM till_allowance")
            for a in fresh.allowances:
                _keep(self._db, a)
            # the list was asked for after these were applied: it counts them
            self._db.execute(
                "DELETE FROM till_allowance_spend WHERE state = 'released' OR (state = 'applied' AND applied_seq <= ?)",
                (mark,),
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return len(fresh.allowances)

    async def refresh_quietly(self) -> None:
        """For the sync loop: a failure leaves the local copy as it is."""
        try:
            await self.refresh()
        except (Refused, Unreachable) as exc:
            log.info("till allowances not refreshed: %s", exc)

    async def _call(self, method: str, path: str, answer: type[T], body: AllowanceGrant | None = None) -> T:
        api = self._device.api()
        try:
            return await api.device_call(method, path, answer, body=body)
        except ApiError as exc:
            raise port_error(exc) from None
        finally:
            await api.aclose()

    # --- the outbox's hooks, inside its SQLite transaction ----------------------------------------------

    def debit(self, db: sqlite3.Connection, request: SettleRequest) -> None:
        """Write down what an offline checkout takes from allowances; ``ValueError`` (and the outbox's
        transaction rolls back) when a tender names an allowance that cannot pay it."""
        rate = self._points_per_yuan()
        for t in request.tenders:
            if t.allowance_id is None:
                continue
            amount = ledger_amount(t.kind, t.amount, rate)
            row = db.execute(HELD + " WHERE a.id = ?", (str(t.allowance_id),)).fetchone()
            if row is None:
                raise ValueError(f"allowance {t.allowance_id} is not held by this till")
            held = self._view(row)
            if held.kind != t.kind or (request.member_id is not None and held.member_id != request.member_id):
                raise ValueError(f"allowance {t.allowance_id} is not for this member's {t.kind}")
            if amount > held.left:
                raise ValueError(f"only {held.left} is left of allowance {t.allowance_id}")
            db.execute(
                "INSERT INTO till_allowance_spend (tender_id, allowance_id, checkout_id, amount, state)"
                " VALUES (?, ?, ?, ?, 'waiting') ON CONFLICT (tender_id) DO NOTHING",
                (str(t.id), str(t.allowance_id), str(request.checkout_id), amount),
            )

    def settled_online(self, request: SettleRequest) -> None:
        """A checkout the server settled at once spent from allowances (a tender tagged offline, then the
        link came back): count it here until the next list read includes it."""
        rate = self._points_per_yuan()
        tagged = [t for t in request.tenders if t.allowance_id is not None]
        if not tagged:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for t in tagged:
                db.execute(
                    "INSERT INTO till_allowance_spend (tender_id, allowance_id, checkout_id, amount, state)"
                    " VALUES (?, ?, ?, ?, 'waiting') ON CONFLICT (tender_id) DO NOTHING",
                    (str(t.id), str(t.allowance_id), str(request.checkout_id), ledger_amount(t.kind, t.amount, rate)),
                )
            self.settled(db, str(request.checkout_id))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def settled(self, db: sqlite3.Connection, checkout_id: str) -> None:
        seq = int(db.execute("SELECT coalesce(max(applied_seq), 0) + 1 FROM till_allowance_spend").fetchone()[0])
        db.execute(
            "UPDATE till_allowance_spend SET state = 'applied', applied_seq = ?"
            " WHERE checkout_id = ? AND state = 'waiting'",
            (seq, checkout_id),
        )

    def refused(self, db: sqlite3.Connection, checkout_id: str) -> None:
        db.execute(
            "UPDATE till_allowance_spend SET state = 'released' WHERE checkout_id = ? AND state = 'waiting'",
            (checkout_id,),
        )


def _keep(db: sqlite3.Connection, a: Allowance) -> None:
    db.execute(
        "INSERT INTO till_allowance (id, member_id, kind, amount, spent, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, spent = excluded.spent,"
        " expires_at_ms = excluded.expires_at_ms",
        (str(a.allowance_id), str(a.member_id), a.kind, a.amount, a.spent, int(a.expires_at.timestamp() * 1000)),
    )
