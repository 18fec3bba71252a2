"""Migration 0010 keeps the books of exceptions recorded and resolved before it: where their cash went
(from their audit entries) and their shift movements on the reports' exception lines."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from protocol.ids import new_id
from server.auth.guards import Caller
from server.db.migrate import available, migrate
from server.exceptions import service
from server.shifts import service as shifts
from tests.pg import Cluster

BOOKS = 10


async def migrate_before_books(conn: asyncpg.Connection) -> None:
    """Everything up to 0009: the later migrations are marked done so that ``migrate`` skips them."""
    await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL)")
    later = [(m.version, m.name) for m in available() if m.version >= BOOKS]
    await conn.executemany("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", later)
    await migrate(conn)
    assert not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'store_exception' AND column_name = 'cash_outcome')"
    )


class Store:
    """A store with two tills, a shift open on each, as the code before 0010 wrote them."""

    def __init__(self) -> None:
        self.store, self.manager, self.cashier = new_id(), new_id(), new_id()
        self.till1, self.till2, self.shift1, self.shift2 = new_id(), new_id(), new_id(), new_id()

    async def create(self, conn: asyncpg.Connection) -> None:
        fmt = new_id()
        await conn.execute(
            "INSERT INTO business_format (id, code, name_zh, name_en) VALUES ($1, 'F', '百货', 'D')", fmt
        )
        await conn.execute(
            "INSERT INTO store (id, code, name_zh, name_en, format_id) VALUES ($1, 'S1', '一店', 'One', $2)",
            self.store,
            fmt,
        )
        for sid, code, role in ((self.manager, "M001", "manager"), (self.cashier, "C001", "cashier")):
            await conn.execute(
                "INSERT INTO staff (id, store_id, code, name, role) VALUES ($1, $2, $3, $3, $4)",
                sid,
                self.store,
                code,
                role,
            )
        for till, shift, label in ((self.till1, self.shift1, "Till 1"), (self.till2, self.shift2, "Till 2")):
            await conn.execute(
                "INSERT INTO device (id, store_id, kind, label, state) VALUES ($1, $2, 'till', $3, 'active')",
                till,
                self.store,
                label,
            )
            await conn.execute(
                "INSERT INTO shift (id, store_id, till_id, cashier_id, float_amount) VALUES ($1, $2, $3, $4, 20000)",
                shift,
                self.store,
                till,
                self.cashier,
            )
            await self.movement(conn, shift, "float", 20_000, "")

    async def movement(self, conn: asyncpg.Connection, shift: uuid.UUID, kind: str, amount: int, ref: str) -> None:
        await conn.execute(
            "INSERT INTO shift_movement (id, shift_id, kind, tender, amount, reference, staff_id)"
            " VALUES ($1, $2, $3, 'cash', $4, $5, $6)",
            new_id(),
            shift,
            kind,
            amount,
            ref,
            self.cashier,
        )

    async def audit(self, conn: asyncpg.Connection, action: str, exception_id: uuid.UUID, details: object) -> None:
        await conn.execute(
            "INSERT INTO audit_log (store_id, staff_id, device_id, action, object_type, object_id, details)"
            " VALUES ($1, $2, $3, $4, 'exception', $5, $6::text::jsonb)",
            self.store,
            self.cashier,
            self.till1,
            action,
            str(exception_id),
            json.dumps(details, default=str),
        )

    async def recorded(self, conn: asyncpg.Connection, cash: int, held_in: uuid.UUID | None) -> uuid.UUID:
        """A refused offline checkout of ``cash``, held in ``held_in``'s expected cash (or in none)."""
        eid, checkout_id = new_id(), new_id()
        await conn.execute(
            "INSERT INTO store_exception (id, store_id, source_id, kind, checkout_id, device_id, staff_id, taken,"
            " fix, refusal_code, settled_offline_at)"
            " VALUES ($1, $2, $3, 'ticket_voided', $3, $4, $5, $6::text::jsonb, $7::text::jsonb, 'ticket_not_open',"
            " now())",
            eid,
            self.store,
            checkout_id,
            self.till1,
            self.cashier,
            json.dumps({"cash": cash}),
            json.dumps([{"action": "refund_cash", "amount": cash, "tender": "cash"}]),
        )
        if held_in is not None:
            await self.movement(conn, held_in, "pay_in", cash, f"exception:{eid}")
        details = {"kind": "ticket_voided", "checkout_id": checkout_id, "taken": {"cash": cash}}
        await self.audit(conn, "exception.recorded", eid, details | {"held_in_shift_id": held_in})
        return eid

    async def resolved(
        self, conn: asyncpg.Connection, eid: uuid.UUID, cash: int, outcome: str, given_back_in: uuid.UUID | None
    ) -> None:
        await conn.execute(
            "UPDATE store_exception SET status = 'resolved', resolved_by = $2, resolved_at = now(),"
            " resolution_note = 'done' WHERE id = $1",
            eid,
            self.manager,
        )
        if given_back_in is not None:
            await self.movement(conn, given_back_in, "pay_out", -cash, f"exception:{eid}")
        details = {"note": "done", "cash_outcome": outcome, "given_back_in_shift_id": given_back_in}
        await self.audit(conn, "exception.resolved", eid, details)


async def test_exceptions_recorded_and_resolved_before_the_migration_keep_their_books(cluster: Cluster) -> None:
    async with cluster.database(template="template0") as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate_before_books(conn)
            shop = Store()
            await shop.create(conn)
            # held in till 1's shift, given back from till 2's drawer
            given_back = await shop.recorded(conn, 60_000, shop.shift1)
            await shop.resolved(conn, given_back, 60_000, "given_back", shop.shift2)
            # held in till 1's shift, kept by the store
            kept = await shop.recorded(conn, 5_000, shop.shift1)
            await shop.resolved(conn, kept, 5_000, "kept", None)
            # taken in a shift closed since (held in none), given back from the safe
            from_safe = await shop.recorded(conn, 700, None)
            await shop.resolved(conn, from_safe, 700, "given_back", None)
            # still open, held in till 1's shift
            still_open = await shop.recorded(conn, 300, shop.shift1)
            audit_before = await conn.fetch("SELECT * FROM audit_log ORDER BY id")

            await conn.execute("DELETE FROM schema_migrations WHERE version >= $1", BOOKS)
            assert f"{BOOKS:04d}_exception_books.sql" in await migrate(conn)

            manager = Caller(staff_id=shop.manager, store_id=shop.store, role="manager")
            books = {}
            for eid in (given_back, kept, from_safe, still_open):
                e = await service.get_exception(conn, manager, eid)
                books[eid] = (e.held_in_shift_id, e.cash_outcome, e.given_back_in_shift_id)
            assert books == {
                given_back: (shop.shift1, "given_back", shop.shift2),
                kept: (shop.shift1, "kept", None),
                from_safe: (None, "given_back", None),
                still_open: (shop.shift1, "", None),
            }
            # the columns, not the audit log, are what is read now; the audit entries are untouched
            row = await conn.fetchrow("SELECT * FROM store_exception WHERE id = $1", given_back)
            assert (row["held_in_shift_id"], row["cash_outcome"], row["given_back_in_shift_id"]) == (
                shop.shift1,
                "given_back",
                shop.shift2,
            )
            assert await conn.fetch("SELECT * FROM audit_log ORDER BY id") == audit_before

            # the movements are on the reports' exception lines, not in paid in / paid out
            cash1 = next(t for t in (await shifts.report(conn, manager, shop.shift1)).tenders if t.tender == "cash")
            assert (cash1.exceptions_held, cash1.exceptions_given_back, cash1.pay_ins, cash1.pay_outs) == (
                65_300,
                0,
                0,
                0,
            )
            assert cash1.expected == 20_000 + 65_300
            cash2 = next(t for t in (await shifts.report(conn, manager, shop.shift2)).tenders if t.tender == "cash")
            assert (cash2.exceptions_held, cash2.exceptions_given_back, cash2.pay_outs) == (0, 60_000, 0)
            assert cash2.expected == 20_000 - 60_000

            # the movements are append-only again
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("UPDATE shift_movement SET note = 'changed'")
        finally:
            await conn.close()
