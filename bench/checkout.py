"""Consolidated checkouts per second (target: ≥ 40% of pgbench TPC-B tps on the same database).

Ours: a real server process and ``TILLS`` tills working at once. Each till is an enrolled device with
a cashier signed in on it (``X-Device-Token``) and an open shift. Every checkout settles 3 open tickets
of one member, issued beforehand by the handhelds of two different counters (Apple and Huawei), with a
split tender — a card through the simulated acquirer plus cash that gives change — and posts the
member's earning. Customers at different tills are different people: the demo members plus ``MEMBERS``
more. The clock runs from the first ``POST /checkouts`` to the last answer; every answer must be a
first settlement (not a replay). Afterwards the database must show each checkout settled once, each
ticket paid once, one charge per card tender at the acquirer, and the ledger invariants.

Baseline in the same run: ``pgbench`` TPC-B (scale 1, ``-c TILLS -j 2 -T 15``) against a separate
database of the same durable cluster, with the server stopped.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field

import asyncpg
import httpx
import msgspec

from bench.common import Result, percentile, postgres, prepare_database, server_process
from protocol.checkout import CheckoutRequest, CheckoutResult, TenderRequest
from protocol.identity import Session, SignIn
from protocol.ids import new_id
from protocol.members import MemberNew
from protocol.payments import OpenShift
from protocol.tickets import BatchResult, CommandBatch, IssueTicket, TicketDraft, TicketLine
from server.auth.passwords import hash_secret
from server.auth.tokens import digest, random_secret
from server.db.embedded import EmbeddedPostgres
from server.ledger.jobs import check_invariants
from server.members import service as members_service

TILLS = int(os.environ.get("FT_BENCH_TILLS", "8"))
CHECKOUTS = int(os.environ.get("FT_BENCH_CHECKOUTS", "300"))
WARMUP = 3  # checkouts per till before the clock starts (connections, caches)
PGBENCH_SECONDS = 15
TARGET_RATIO = 0.40
CARD = "4111111111111111"
CASH = 50_000  # handed over in cash; the card pays the total less 30,000 fen, so 20,000 fen change
CASH_APPLIED = 30_000
PIN = "7777"
MEMBERS = 4 * TILLS
# Two tickets from the Apple counter's handheld, one from the Huawei counter's.
COUNTERS = ("C-APL", "C-APL", "C-HUA")


@dataclass
class Till:
    device_id: uuid.UUID
    token: str
    staff_code: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Handheld:
    device_id: uuid.UUID
    counter: str
    counter_id: uuid.UUID
    token: str
    products: list[asyncpg.Record]
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


@dataclass
class Plan:
    store_id: uuid.UUID
    tills: list[Till]
    handhelds: dict[str, Handheld]
    members: list[uuid.UUID]


async def _setup(dsn: str) -> Plan:
    """Enrol the two demo handhelds, add ``TILLS`` tills and cashiers (one each)."""
    conn = await asyncpg.connect(dsn)
    try:
        store_id = await conn.fetchval("SELECT id FROM store WHERE code = 'SH01'")
        handhelds: dict[str, Handheld] = {}
        for label, counter in (("Handheld Apple 1", "C-APL"), ("Handheld Huawei 1", "C-HUA")):
            token = random_secret()
            row = await conn.fetchrow(
                "UPDATE device SET state = 'active', token_hash = $2, enrolled_at = now() WHERE label = $1"
                " RETURNING id, counter_id",
                label,
                digest(token),
            )
            assert row is not None, label
            products = await conn.fetch(
                "SELECT id, sku, name_en, list_price, promo_price FROM product WHERE counter_id = $1 ORDER BY sku",
                row["counter_id"],
            )
            handhelds[counter] = Handheld(row["id"], counter, row["counter_id"], token, list(products))
        pin_hash = hash_secret(PIN)
        tills = []
        for n in range(TILLS):
            token = random_secret()
            device_id = new_id()
            await conn.execute(
                "INSERT INTO device (id, store_id, kind, label, state, token_hash, enrolled_at)"
                " VALUES ($1, $2, 'till', $3, 'active', $4, now())",
                device_id,
                store_id,
                f"Bench till {n + 1}",
                digest(token),
            )
            code = f"BC{n + 1:03d}"
            await conn.execute(
                "INSERT INTO staff (id, store_id, code, name, role, pin_hash) VALUES ($1, $2, $3, $4, 'cashier', $5)",
                new_id(),
                store_id,
                code,
                f"Bench cashier {n + 1}",
                pin_hash,
            )
            tills.append(Till(device_id, token, code))
        # Customers at different tills are different people: the demo members plus enough more that
        # no two tills settle for the same member at once (a member's checkouts settle one at a time).
        for n in range(MEMBERS):
            await members_service.enrol(
                conn,
                store_id=store_id,
                new=MemberNew(name=f"Bench member {n + 1}", phone=f"1380000{n + 1:04d}"),
                id_key=b"bench",
            )
        members = [r["id"] for r in await conn.fetch("SELECT id FROM member ORDER BY id")]
    finally:
        await conn.close()
    return Plan(store_id, tills, handhelds, members)


def _draft(plan: Plan, hh: Handheld, n: int, member_id: uuid.UUID) -> TicketDraft:
    lines = []
    for i in range(2):
        p = hh.products[(n + i) % len(hh.products)]
        unit = p["promo_price"] or p["list_price"]
        lines.append(
            TicketLine(
                line_no=i + 1,
                product_id=p["id"],
                sku=p["sku"],
                name=p["name_en"],
                qty=1,
                list_price=p["list_price"],
                unit_price=unit,
                promo=p["promo_price"] is not None,
                line_total=unit,
            )
        )
    return TicketDraft(
        id=new_id(),
        store_id=plan.store_id,
        counter_id=hh.counter_id,
        number=f"SH01-BENCH-{hh.counter[2:]}-{n:06d}",
        lines=lines,
        total=sum(ln.line_total for ln in lines),
        member_id=member_id,
        device_id=hh.device_id,
    )


@dataclass(frozen=True)
class Basket:
    """One customer's three tickets and what the till will send for them."""

    member_id: uuid.UUID
    ticket_ids: list[uuid.UUID]
    total: int


async def _issue_tickets(base: str, plan: Plan, count: int) -> list[Basket]:
    """Every ticket of every checkout, uploaded by its handheld through ``POST /sync/commands``."""
    baskets: list[Basket] = []
    commands: dict[str, list[IssueTicket]] = {c: [] for c in plan.handhelds}
    for k in range(count):
        member = plan.members[k % len(plan.members)]
        drafts = []
        for j, counter in enumerate(COUNTERS):
            hh = plan.handhelds[counter]
            d = _draft(plan, hh, 3 * k + j, member)
            commands[counter].append(IssueTicket(command_id=d.id, device_seq=next(hh.seq), ticket=d))
            drafts.append(d)
        baskets.append(Basket(member, [d.id for d in drafts], sum(d.total for d in drafts)))
    decoder = msgspec.json.Decoder(BatchResult)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for counter, cmds in commands.items():
            headers = {"Authorization": f"Device {plan.handhelds[counter].token}", "Content-Type": "application/json"}
            for s in range(0, len(cmds), 2_000):
                body = msgspec.json.encode(CommandBatch(commands=list(cmds[s : s + 2_000])))
                r = await client.post("/sync/commands", content=body, headers=headers)
                r.raise_for_status()
                statuses = {res.status for res in decoder.decode(r.content).results}
                if statuses != {"applied"}:
                    raise RuntimeError(f"tickets not all applied: {statuses}")
    return baskets


async def _open_tills(client: httpx.AsyncClient, plan: Plan) -> None:
    """Each cashier signs in on their till (session bound to the device) and opens a shift."""
    for till in plan.tills:
        r = await client.post(
            "/auth/sign-in",
            content=msgspec.json.encode(SignIn(staff_code=till.staff_code, pin=PIN)),
            headers={"X-Device-Token": till.token, "Content-Type": "application/json"},
        )
        r.raise_for_status()
        session = msgspec.json.decode(r.content, type=Session)
        till.headers = {"Authorization": f"Bearer {session.access_token}", "Content-Type": "application/json"}
        r = await client.post(
            "/shifts",
            content=msgspec.json.encode(OpenShift(shift_id=new_id(), float_amount=100_000)),
            headers=till.headers,
        )
        r.raise_for_status()


def _request(basket: Basket) -> CheckoutRequest:
    return CheckoutRequest(
        id=new_id(),
        ticket_ids=basket.ticket_ids,
        tenders=[
            TenderRequest(id=new_id(), kind="card", amount=basket.total - CASH_APPLIED, token=CARD),
            TenderRequest(id=new_id(), kind="cash", amount=CASH),
        ],
        member_id=basket.member_id,
        expected_total=basket.total,
    )


@dataclass
class Run:
    elapsed: float
    latencies_ms: list[float]
    requests: list[CheckoutRequest]
    points: int


async def _checkouts(base: str, plan: Plan, baskets: list[Basket]) -> Run:
    decoder = msgspec.json.Decoder(CheckoutResult)
    limits = httpx.Limits(max_connections=TILLS, max_keepalive_connections=TILLS)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await _open_tills(client, plan)
        queues = [baskets[i :: len(plan.tills)] for i in range(len(plan.tills))]
        latencies: list[float] = []
        requests: list[CheckoutRequest] = []
        points = 0

        async def till_works(till: Till, mine: list[Basket], timed: bool) -> None:
            nonlocal points
            for basket in mine:
                req = _request(basket)
                requests.append(req)
                started = time.perf_counter()
                r = await client.post("/checkouts", content=msgspec.json.encode(req), headers=till.headers)
                if r.status_code != 200:
                    raise RuntimeError(f"checkout refused: {r.status_code} {r.text}")
                result = decoder.decode(r.content)
                if result.replayed or result.change != CASH - CASH_APPLIED:
                    raise RuntimeError(f"unexpected checkout result: {result}")
                points += result.points_earned
                if timed:
                    latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(till_works(t, q[:WARMUP], False) for t, q in zip(plan.tills, queues, strict=True)))
        started = time.perf_counter()
        await asyncio.gather(*(till_works(t, q[WARMUP:], True) for t, q in zip(plan.tills, queues, strict=True)))
        elapsed = time.perf_counter() - started
    return Run(elapsed, latencies, requests, points)


async def _verify(dsn: str, baskets: list[Basket], run: Run) -> None:
    """Every checkout settled once, every ticket paid once by its checkout, one charge per card tender,
    one earning per checkout, and the ledger invariants."""
    ids = [r.id for r in run.requests]
    tickets = [t for b in baskets for t in b.ticket_ids]
    cards = [str(r.tenders[0].id) for r in run.requests]
    conn = await asyncpg.connect(dsn)
    try:
        checks = {
            "settled checkouts": (
                await conn.fetchval("SELECT count(*) FROM checkout WHERE id = ANY($1) AND state = 'settled'", ids),
                len(ids),
            ),
            "checkout tickets": (
                await conn.fetchval(
                    "SELECT count(DISTINCT ticket_id) FROM checkout_ticket WHERE checkout_id = ANY($1)", ids
                ),
                len(tickets),
            ),
            "ticket rows in checkouts": (
                await conn.fetchval("SELECT count(*) FROM checkout_ticket WHERE checkout_id = ANY($1)", ids),
                len(tickets),
            ),
            "tickets paid by their checkout": (
                await conn.fetchval(
                    "SELECT count(*) FROM ticket t JOIN checkout_ticket ct ON ct.ticket_id = t.id"
                    " WHERE t.id = ANY($1) AND t.state = 'paid' AND t.checkout_id = ct.checkout_id",
                    tickets,
                ),
                len(tickets),
            ),
            "charges at the acquirer": (
                await conn.fetchval(
                    "SELECT count(*) FROM sim_acquirer_charge WHERE idempotency_key = ANY($1) AND status = 'approved'",
                    cards,
                ),
                len(cards),
            ),
            "tenders": (
                await conn.fetchval("SELECT count(*) FROM tender WHERE checkout_id = ANY($1)", ids),
                2 * len(ids),
            ),
        }
        wrong = {k: v for k, v in checks.items() if v[0] != v[1]}
        if wrong:
            raise RuntimeError(f"database check failed (found, expected): {wrong}")
        report = await check_invariants(conn)
        if not report.ok:
            raise RuntimeError(f"ledger invariants broken: {report.problems[:5]}")
    finally:
        await conn.close()


def _pgbench(pg: EmbeddedPostgres) -> float:
    """TPC-B tps of pgbench against its own database in the same cluster."""
    common = ["-h", "127.0.0.1", "-p", str(pg.port), "-U", pg.user]
    pgbench = str(pg.bindir / "pgbench")
    asyncio.run(_create_database(pg.dsn, "pgbench"))
    subprocess.run([pgbench, "-i", "-q", *common, "pgbench"], check=True, capture_output=True)
    out = subprocess.run(
        [pgbench, "-c", str(TILLS), "-j", "2", "-T", str(PGBENCH_SECONDS), *common, "pgbench"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.search(r"tps = ([0-9.]+)", out)
    if found is None:
        raise RuntimeError(f"no tps in pgbench output:\n{out}")
    return float(found.group(1))


async def _create_database(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def run() -> Result:
    with postgres() as pg:
        dsn = pg.dsn
        asyncio.run(prepare_database(dsn))
        plan = asyncio.run(_setup(dsn))
        count = CHECKOUTS + WARMUP * TILLS
        with server_process(dsn) as base:
            baskets = asyncio.run(_issue_tickets(base, plan, count))
            result = asyncio.run(_checkouts(base, plan, baskets))
        asyncio.run(_verify(dsn, baskets, result))
        tps = _pgbench(pg)
    ours = CHECKOUTS / result.elapsed
    return Result(
        name="consolidated checkouts (3 tickets, card + cash, member earning)",
        figure=ours,
        unit="checkouts/s",
        baseline=tps,
        baseline_label=f"pgbench TPC-B tps, -c {TILLS}",
        target=f">= {TARGET_RATIO:.0%} of pgbench",
        met=ours >= TARGET_RATIO * tps,
        note=(
            f"{CHECKOUTS:,} checkouts on {TILLS} tills at once, latency"
            f" p50 {percentile(result.latencies_ms, 50):.0f} ms p99 {percentile(result.latencies_ms, 99):.0f} ms;"
            " each settled once, ledger invariants hold"
        ),
    )


if __name__ == "__main__":
    from bench.common import print_table

    print_table([run()])
