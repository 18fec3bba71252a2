"""A handheld back online with 10,000 queued tickets (target: all applied and acknowledged ≤ 5 s).

Ours: the device uploads its outbox to a real server process through ``POST /sync/commands`` in
batches of 5,000; the clock runs from the first byte sent to the last per-command answer received,
and every answer must say ``applied``. Baseline in the same run: ``COPY`` of the same ticket rows
(id, number, lines as JSON, total) into a bare table on the same database — the least any server can
spend writing them.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx
import msgspec

from bench.common import Result, postgres, prepare_database, server_process
from protocol.ids import new_id
from protocol.tickets import AnyCommand, BatchResult, CommandBatch, IssueTicket, TicketDraft, TicketLine
from server.auth.tokens import digest, random_secret

TICKETS = 10_000
BATCH = 5_000
TARGET_S = 5.0


async def _device_and_catalog(dsn: str) -> tuple[str, list[AnyCommand]]:
    conn = await asyncpg.connect(dsn)
    try:
        token = random_secret()
        device = await conn.fetchrow(
            "UPDATE device SET state = 'active', token_hash = $1, enrolled_at = now()"
            " WHERE id = (SELECT id FROM device WHERE kind = 'handheld' ORDER BY label LIMIT 1)"
            " RETURNING id, store_id, counter_id",
            digest(token),
        )
        assert device is not None, "the demo store has no handheld"
        products = await conn.fetch(
            "SELECT id, sku, name_en, list_price, promo_price FROM product WHERE counter_id = $1 ORDER BY sku",
            device["counter_id"],
        )
    finally:
        await conn.close()
    commands: list[AnyCommand] = []
    for n in range(TICKETS):
        lines = []
        for i in range(3):
            p = products[(n + i) % len(products)]
            unit = p["promo_price"] or p["list_price"]
            lines.append(
                TicketLine(
                    line_no=i + 1,
                    product_id=p["id"],
                    sku=p["sku"],
                    name=p["name_en"],
                    qty=1 + i % 2,
                    list_price=p["list_price"],
                    unit_price=unit,
                    promo=p["promo_price"] is not None,
                    line_total=(1 + i % 2) * unit,
                )
            )
        ticket = TicketDraft(
            id=new_id(),
            store_id=device["store_id"],
            counter_id=device["counter_id"],
            number=f"SH01-BENCH-H1-{n + 1:06d}",
            lines=lines,
            total=sum(line.line_total for line in lines),
            device_id=device["id"],
        )
        commands.append(IssueTicket(command_id=ticket.id, device_seq=n + 1, ticket=ticket))
    return token, commands


async def _upload(base: str, token: str, commands: list[AnyCommand]) -> float:
    headers = {"Authorization": f"Device {token}", "Content-Type": "application/json"}
    bodies = [msgspec.json.encode(CommandBatch(commands=commands[s : s + BATCH])) for s in range(0, TICKETS, BATCH)]
    decoder = msgspec.json.Decoder(BatchResult)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        started = time.perf_counter()
        applied = 0
        for body in bodies:
            r = await client.post("/sync/commands", content=body, headers=headers)
            r.raise_for_status()
            applied += sum(1 for res in decoder.decode(r.content).results if res.status == "applied")
        elapsed = time.perf_counter() - started
    if applied != TICKETS:
        raise RuntimeError(f"only {applied} of {TICKETS} commands were applied")
    return elapsed


async def _copy_baseline(dsn: str, commands: list[AnyCommand]) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE bench_ticket_copy (id uuid PRIMARY KEY, number text, lines jsonb, total bigint)"
        )
        rows = [
            (c.ticket.id, c.ticket.number, msgspec.json.encode(c.ticket.lines).decode(), c.ticket.total)
            for c in commands
            if isinstance(c, IssueTicket)
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table("bench_ticket_copy", records=rows)
        return time.perf_counter() - started
    finally:
        await conn.close()


def run() -> Result:
    with postgres() as pg:
        dsn = pg.dsn
        asyncio.run(prepare_database(dsn))
        token, commands = asyncio.run(_device_and_catalog(dsn))
        with server_process(dsn) as base:
            ours = asyncio.run(_upload(base, token, commands))
        baseline = asyncio.run(_copy_baseline(dsn, commands))
        stored = asyncio.run(_count(dsn, {c.ticket.id for c in commands if isinstance(c, IssueTicket)}))
    if stored != TICKETS:
        raise RuntimeError(f"{stored} tickets stored, expected {TICKETS}")
    return Result(
        name="10,000 queued tickets applied after reconnect",
        figure=ours,
        unit="s",
        baseline=baseline,
        baseline_label="COPY of the same rows",
        target=f"<= {TARGET_S:g} s",
        met=ours <= TARGET_S,
        note=f"{TICKETS:,} issue commands in batches of {BATCH:,}, 3 lines each, one result per command",
    )


async def _count(dsn: str, ids: set[uuid.UUID]) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM ticket WHERE id = ANY($1::uuid[])", list(ids)))
    finally:
        await conn.close()


if __name__ == "__main__":
    from bench.common import print_table

    print_table([run()])
