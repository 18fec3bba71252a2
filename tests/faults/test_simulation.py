"""A seeded simulation in the spirit of Jepsen tests of sync systems: handhelds (the real device store, sync
core and transport) issue and void tickets for members and walk-in customers, and two tills (the till's real
wiring and presenters) settle those customers' tickets, online with cash, stored value and points, and
offline with cash for tickets scanned from their QR codes, kept in the till's outbox and replayed. All of it
works against two real server processes while the network between each device and its server is randomly
cut, delayed, slowed or left half-open and servers are killed with SIGKILL.

Then the network heals and we check the sync: every device's view equals the database, every command has
exactly one outcome, every device applied every position once, in order; and the money: every ticket paid
at most once, every settled checkout's tenders add up to its tickets (change accounted, in the drawer too),
the ledger invariants hold, every member's balances are the sum of their movements and what the checkouts
spent and earned, and nothing a till was told is settled is missing (nor settled without the till knowing);
every approved card charge at the acquirer pays exactly one settled checkout or was given back in full
(a customer who left after a refusal or changed their mind after paying), and no checkout names a card
charge that was not approved.

Replay a failure with the seed it prints: ``FT_SIM_SEED=<seed> pytest tests/faults/test_simulation.py``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest

from cashier_app.adapters.server import ServerCustomers
from cashier_app.presenters.ports import MemberBalances
from protocol.checkout import CheckoutResult
from protocol.ids import new_id
from protocol.tickets import IssueTicket, VoidTicket
from server.demo import DemoInfo, seed_demo
from server.ledger.jobs import check_invariants
from tests.auth_helpers import bearer, token_for
from tests.faults.devices import Device, database_view
from tests.faults.proxy import Faults, TcpProxy
from tests.faults.servers import HEAD, SECRET, ServerProcess
from tests.faults.tills import LEAVES_AFTER_CARD, Carried, Shoppers, SimTill, acknowledged
from tests.ticket_helpers import catalog, device, give_key

SEED = int(os.environ.get("FT_SIM_SEED", "20240607"))
SECONDS = float(os.environ.get("FT_SIM_SECONDS", "25"))

pytestmark = [pytest.mark.fault, pytest.mark.timeout(SECONDS + 120)]

FAULTS = [Faults(), Faults(latency_s=0.05), Faults(half_open=True), Faults(slow_bytes_per_s=20_000), Faults(reset=True)]
CUT_S = 3.0
MEMBER_PHONES = ("13900000001", "13900000002", "13900000003")


async def test_devices_and_tills_under_partitions_and_server_kills_lose_no_money(
    conn: asyncpg.Connection, db_dsn: str, demo: DemoInfo, tmp_path: Path
) -> None:
    print(f"simulation seed {SEED}, {SECONDS:g} s (replay: FT_SIM_SEED={SEED} FT_SIM_SECONDS={SECONDS:g})")
    try:
        await simulate(conn, db_dsn, demo, tmp_path)
    except BaseException as exc:
        exc.add_note(f"simulation seed {SEED}: replay with FT_SIM_SEED={SEED} FT_SIM_SECONDS={SECONDS:g}")
        raise


async def simulate(conn: asyncpg.Connection, db_dsn: str, demo: DemoInfo, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    env = {"FT_WS_PING_INTERVAL": "0.5", "FT_WS_IDLE_TIMEOUT": "2"}
    servers = [ServerProcess(db_dsn, env=env), ServerProcess(db_dsn, env=env)]
    await asyncio.gather(*(s.start() for s in servers))
    proxies: list[TcpProxy] = []
    handhelds: list[Device] = []
    tills: list[SimTill] = []
    cashiers: list[asyncio.Task[None]] = []
    try:
        for i, (label, counter) in enumerate([("Handheld Apple 1", "C-APL"), ("Handheld Huawei 1", "C-HUA")]):
            caller, token = await device(conn, label)
            proxy = await TcpProxy("127.0.0.1", servers[i % 2].port).start()
            proxies.append(proxy)
            d = Device.open(
                tmp_path,
                f"h{i}",
                caller.device_id,
                token,
                await catalog(conn, counter),
                f"ws://127.0.0.1:{proxy.port}/ws",
                seed=await give_key(conn, caller.device_id),
            )
            handhelds.append(d)
            d.start()
        await conn.execute(
            "INSERT INTO device (id, store_id, kind, label) VALUES ($1, $2, 'till', 'Till 2')", new_id(), demo.store_id
        )
        codes = {label: code for label, _kind, code in (await seed_demo(conn)).enrollment_codes}
        for i, label in enumerate(["Till 1", "Till 2"]):
            proxy = await TcpProxy("127.0.0.1", servers[(i + 1) % 2].port).start()
            proxies.append(proxy)
            tills.append(
                await SimTill.open(tmp_path / f"t{i}", label, proxy, codes[label], random.Random(f"{SEED}/{label}"))
            )
        customers = tills[0].till.services.customers
        members = [(await customers.member(phone)).member_id for phone in MEMBER_PHONES]
        before = {m: await customers.balances(m) for m in members}

        shoppers = Shoppers()
        start = time.monotonic()
        deadline = start + SECONDS
        cashiers = [asyncio.create_task(t.work(shoppers, deadline), name=t.name) for t in tills]
        # Each till is cut off once for at least CUT_S, and until it has served two customers offline (at
        # most 3 × CUT_S), so some customers are certainly served offline even on a slow machine.
        cuts = {proxies.index(tills[0].proxy): 0.3, proxies.index(tills[1].proxy): 0.6}
        till_of = {proxies.index(t.proxy): t for t in tills}
        queued_before: dict[int, int] = {}
        kills = 0
        while time.monotonic() < deadline:
            elapsed = (time.monotonic() - start) / SECONDS
            for i, at in list(cuts.items()):
                served = len(till_of[i].recorded.queued) - queued_before.get(i, 0)
                if elapsed >= at + (CUT_S if served >= 2 else 3 * CUT_S) / SECONDS:  # the planned cut is over
                    proxies[i].faults = Faults()
                    del cuts[i]
                elif elapsed >= at and not proxies[i].faults.reset:
                    queued_before[i] = len(till_of[i].recorded.queued)
                    proxies[i].faults = Faults(reset=True)
                    proxies[i].cut_all()
            free = [p for i, p in enumerate(proxies) if not (i in cuts and elapsed >= cuts[i])]
            roll = rng.random()
            if roll < 0.40:
                hh = rng.choice(handhelds)
                member = rng.choice([*members, None, None])
                command = hh.issue(member_id=member, lines=rng.randint(1, 3))
                shoppers.bought(member or shoppers.walk_in(rng), Carried(command.ticket.id, hh.qr(command)))
            elif roll < 0.45:
                hh = rng.choice(handhelds)
                if hh.store.tickets():
                    target = rng.choice(hh.store.tickets())
                    hh.submit(
                        lambda seq, t=target.id: VoidTicket(
                            command_id=new_id(), device_seq=seq, ticket_id=t, reason="customer changed mind"
                        )
                    )
            elif roll < 0.62 and free:
                proxy = rng.choice(free)
                proxy.faults = rng.choice(FAULTS)
                if rng.random() < 0.5:
                    proxy.cut_all()
            elif roll < 0.65:
                server = rng.choice(servers)
                server.kill()
                kills += 1
                await asyncio.sleep(rng.uniform(0.1, 1.0))
                await server.start()
            elif roll < 0.67:
                await rng.choice(handhelds).restart_app()
            await asyncio.sleep(rng.uniform(0.01, 0.15))

        for proxy in proxies:  # heal
            proxy.faults = Faults()
        for server in servers:
            if not server.alive:
                await server.start()
        try:
            async with asyncio.timeout(30):
                await asyncio.gather(*cashiers)
        except TimeoutError:
            raise AssertionError("a cashier still had no answer for a customer 30 s after the network healed") from None
        store_id = demo.store_id
        given_back = await give_back(conn, servers[0], tills)
        head = await converge(conn, store_id, handhelds, tills)

        # --- sync: every device holds the database's view, every command applied once ------------------
        view, _ = await database_view(conn, store_id)
        sent = {c.command_id for d in handhelds for c in d.sent}
        rows = await conn.fetch("SELECT command_id, device_id, device_seq, status FROM applied_command")
        assert {r["command_id"] for r in rows} == sent  # every command has exactly one outcome ...
        assert len(rows) == len(sent)  # ... stored once
        for d in handhelds:
            assert d.view() == view, f"{d.name} sees what the database holds"
            assert d.positions_in_order(), f"{d.name} applied each position once, in order"
            assert d.store.position == head
            seqs = sorted(r["device_seq"] for r in rows if r["device_id"] == d.device_id)
            assert seqs == list(range(1, len(d.sent) + 1))
        for t in tills:
            assert t.view() == view, f"{t.name} sees what the database holds"
        kinds = Counter(
            {
                r["kind"]: r["n"]
                for r in await conn.fetch(
                    "SELECT kind, count(*) AS n FROM event_log WHERE store_id = $1 GROUP BY kind", store_id
                )
            }
        )
        applied = Counter(
            "issue" if isinstance(c, IssueTicket) else "void"
            for d in handhelds
            for c in d.sent
            if c.command_id in {r["command_id"] for r in rows if r["status"] == "applied"}
        )
        paid_rows = await conn.fetchval("SELECT count(*) FROM checkout_ticket WHERE state = 'settled'")
        assert kinds["ticket_issued"] == applied["issue"]
        assert kinds["ticket_voided"] == applied["void"]
        assert kinds["ticket_paid"] == paid_rows  # one event per ticket paid, none twice
        assert head == sum(kinds.values())  # one event per change, no other

        # --- money --------------------------------------------------------------------------------------
        checkouts = await money_adds_up(conn, store_id)
        acked = acknowledged(tills)
        for t in tills:
            outbox = t.till.checkouts.queued()
            assert all(q.state != "waiting" for q in outbox), f"{t.name} sent every offline checkout"
            refused = {q.checkout_id for q in outbox if q.state == "refused"}
            shown = {letter.command_id for letter in t.till.services.connection.state.dead_letters}
            assert refused <= shown, f"{t.name} shows every refused offline checkout to the cashier"
            for q in outbox:
                request, _ = t.recorded.queued[q.checkout_id]
                if q.state == "settled":
                    assert q.checkout_id in checkouts, f"offline checkout {q.receipt_no} was settled"
                else:  # a conflict: one of its tickets was paid elsewhere or voided meanwhile
                    assert q.checkout_id not in checkouts
                    states = await conn.fetch(
                        "SELECT state, checkout_id FROM ticket WHERE id = ANY($1)", [b.id for b in request.tickets]
                    )
                    assert any(r["state"] != "issued" for r in states), f"{q.receipt_no} refused for a reason"
            for checkout_id, (request, settled) in t.recorded.settled.items():
                stored = checkouts.get(checkout_id)
                assert stored is not None, f"checkout {settled.receipt_no} answered to {t.name} is in the database"
                assert stored.receipt_no == settled.receipt_no
                assert sorted(stored.ticket_ids) == sorted(b.id for b in request.tickets)
                assert {(x.id, x.kind, x.tendered) for x in stored.tenders} == {
                    (x.id, x.kind, x.amount) for x in request.tenders
                }
                assert (stored.total, stored.tendered, stored.change) == (
                    settled.total,
                    settled.tendered,
                    settled.change,
                )
            await drawer_adds_up(conn, t, checkouts)
        queued_refused = {q.checkout_id for t in tills for q in t.till.checkouts.queued() if q.state == "refused"}
        assert set(checkouts) == set(acked) - queued_refused, "no checkout settled without its till knowing"

        cards = await cards_add_up(conn, given_back)
        report = await check_invariants(conn)
        assert report.ok, report.problems
        for m in members:
            await member_adds_up(conn, customers, m, before[m], checkouts)

        # --- and all of it really happened -------------------------------------------------------------
        online = [c for t in tills for c in t.recorded.settled.values()]
        offline = [q for t in tills for q in t.till.checkouts.queued() if q.state == "settled"]
        balances = {x.kind for c in checkouts.values() for x in c.tenders} & {"stored_value", "points"}
        print(
            f"{len(view)} tickets, {len(checkouts)} checkouts ({len(online)} online, {len(offline)} offline),"
            f" {len(queued_refused)} offline conflicts, {kills} kills, {sum(s.starts for s in servers)} starts;"
            f" card charges {dict(cards)}, till saw {dict(sum((t.card_outcomes for t in tills), Counter()))},"
            f" {len(given_back)} given back"
        )
        assert sum(1 for r in rows if r["status"] == "applied") > 10
        assert len(online) >= 3
        assert offline, "customers were served offline and their checkouts applied on reconnect"
        assert balances, "members paid with their balances"
        assert cards["in a checkout"], "customers paid by card"
        assert cards["declined"], "some cards were declined"
        assert sum(t.card_outcomes["unknown"] for t in tills), "some card answers were unknown until asked again"
        if any(t.cards_taken >= LEAVES_AFTER_CARD for t in tills):
            assert given_back, "a customer who left after paying by card got the money back"
        assert kills >= 1 or SECONDS < 5  # servers really were killed
    finally:
        for task in cashiers:
            task.cancel()
        await asyncio.gather(*cashiers, return_exceptions=True)
        for t in tills:
            await t.stop()
        for d in handhelds:
            await d.stop()
        for proxy in proxies:
            await proxy.stop()
        for server in servers:
            server.stop()


async def converge(
    conn: asyncpg.Connection, store_id: uuid.UUID, handhelds: list[Device], tills: list[SimTill], timeout: float = 45
) -> int:
    """Wait until every device has sent everything and holds the store's whole log; return the head."""
    head = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                head = int(await conn.fetchval(HEAD, store_id))
                if all(d.idle and d.store.position == head for d in handhelds) and all(t.idle(head) for t in tills):
                    return head
                await asyncio.sleep(0.05)
    except TimeoutError:
        behind = [d.name for d in handhelds if not (d.idle and d.store.position == head)]
        behind += [t.name for t in tills if not t.idle(head)]
        raise AssertionError(f"{behind} did not catch up with position {head} {timeout:g} s after healing") from None


async def money_adds_up(conn: asyncpg.Connection, store_id: uuid.UUID) -> dict[uuid.UUID, CheckoutResult]:
    """Every settled checkout's tenders pay exactly its tickets (cash change given back), and every ticket
    is paid by at most one checkout. Returns the settled checkouts as the server answers them."""
    rows = await conn.fetch(
        "SELECT id, state, total, tendered, change, result FROM checkout WHERE store_id = $1", store_id
    )
    assert {r["state"] for r in rows} <= {"settled"}
    settled = {r["id"]: msgspec.json.decode(r["result"], type=CheckoutResult) for r in rows}
    for r in rows:
        lines = await conn.fetch("SELECT ticket_id, amount FROM checkout_ticket WHERE checkout_id = $1", r["id"])
        tenders = await conn.fetch("SELECT kind, tendered, applied, change FROM tender WHERE checkout_id = $1", r["id"])
        tickets = await conn.fetch(
            "SELECT total, state, checkout_id FROM ticket WHERE id = ANY($1)", [x["ticket_id"] for x in lines]
        )
        assert sum(x["amount"] for x in lines) == r["total"] == sum(t["total"] for t in tickets)
        assert {(t["state"], t["checkout_id"]) for t in tickets} == {("paid", r["id"])}
        assert sum(x["applied"] for x in tenders) == r["total"], "the tenders pay the tickets exactly"
        assert sum(x["tendered"] for x in tenders) == r["tendered"]
        assert sum(x["change"] for x in tenders) == r["change"] == r["tendered"] - r["total"]
        assert all(x["change"] == 0 for x in tenders if x["kind"] != "cash"), "only cash gives change"
        result = settled[r["id"]]
        assert (result.total, result.tendered, result.change) == (r["total"], r["tendered"], r["change"])
    once = await conn.fetchval(
        "SELECT count(*) FROM (SELECT ticket_id FROM checkout_ticket GROUP BY ticket_id HAVING count(*) > 1) x"
    )
    assert once == 0, "a ticket is in one checkout at most"
    stray = await conn.fetchval(
        "SELECT count(*) FROM ticket t WHERE t.store_id = $1 AND t.state = 'paid' AND NOT EXISTS"
        " (SELECT 1 FROM checkout_ticket c WHERE c.ticket_id = t.id AND c.state = 'settled')",
        store_id,
    )
    assert stray == 0, "every paid ticket was paid by a settled checkout"
    twice = await conn.fetchval(
        "SELECT count(*) FROM (SELECT ticket_id FROM event_log WHERE store_id = $1 AND kind = 'ticket_paid'"
        " GROUP BY ticket_id HAVING count(*) > 1) x",
        store_id,
    )
    assert twice == 0, "no ticket was announced paid twice"
    return settled


async def give_back(conn: asyncpg.Connection, server: ServerProcess, tills: list[SimTill]) -> set[str]:
    """A supervisor gives back in full the card payments of customers who left unpaid (the refund is
    idempotent by its id, so a lost answer is simply asked again). Returns the payment ids given back."""
    headers = bearer(await token_for(conn, "V001", SECRET))
    done: set[str] = set()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=5) as http:
        for t in tills:
            for payment_id, amount in t.to_give_back:
                body = {"refund_id": str(uuid.uuid5(payment_id, "given back")), "amount": amount, "reason": "left"}
                async with asyncio.timeout(20):
                    while True:
                        try:
                            r = await http.post(f"/payments/{payment_id}/refunds", json=body, headers=headers)
                        except httpx.TransportError:
                            r = None
                        if r is not None and r.status_code == 200 and r.json()["status"] == "approved":
                            break
                        await asyncio.sleep(0.2)
                done.add(str(payment_id))
    return done


async def cards_add_up(conn: asyncpg.Connection, given_back: set[str]) -> Counter[str]:
    """Every card charge the acquirer approved pays exactly one settled checkout (for its whole amount) or
    was given back in full; every card tender of a checkout is an approved charge; the server's payments
    agree with the acquirer's books. Returns how the charges ended."""
    charges = await conn.fetch("SELECT idempotency_key, amount, refunded, status FROM sim_acquirer_charge")
    assert all(c["status"] in ("approved", "declined") for c in charges), "every card answer was resolved"
    tenders = await conn.fetch(
        "SELECT t.id::text AS id, t.applied, t.tendered, c.state FROM tender t JOIN checkout c ON c.id = t.checkout_id"
        " WHERE t.kind = 'card'"
    )
    uses = Counter(t["id"] for t in tenders)
    assert all(n == 1 for n in uses.values()), "no card charge pays two checkouts"
    approved = {c["idempotency_key"]: c for c in charges if c["status"] == "approved"}
    assert set(uses) <= set(approved), "every card tender of a checkout is an approved charge"
    ended: Counter[str] = Counter(c["status"] for c in charges if c["status"] != "approved")
    for key, c in approved.items():
        if key in uses:
            t = next(x for x in tenders if x["id"] == key)
            assert (t["state"], t["applied"], t["tendered"], c["refunded"]) == ("settled", c["amount"], c["amount"], 0)
            ended["in a checkout"] += 1
        else:
            assert key in given_back, f"card charge {key} has no checkout and was not given back"
            assert c["refunded"] == c["amount"], f"card charge {key} was given back in full"
            ended["given back"] += 1
    rows = await conn.fetch("SELECT id, status, amount, refunded FROM payment WHERE tender = 'card'")
    payments = {str(r["id"]): r for r in rows}
    for c in charges:
        p = payments.get(c["idempotency_key"])
        assert p is not None, "the server knows every charge the acquirer made"
        assert (p["status"], p["amount"], p["refunded"]) == (c["status"], c["amount"], c["refunded"])
    return ended


async def drawer_adds_up(conn: asyncpg.Connection, t: SimTill, checkouts: dict[uuid.UUID, CheckoutResult]) -> None:
    """The cash the shift holds is the float plus the cash each settled checkout of this till kept, plus the
    cash of its offline checkouts the server refused (held for their exceptions until given back)."""
    assert t.shift.shift is not None
    shift_id = t.shift.shift.shift_id
    mine = await conn.fetch("SELECT id FROM checkout WHERE shift_id = $1", shift_id)
    kept = sum(x.applied for r in mine for x in checkouts[r["id"]].tenders if x.kind == "cash")
    held = await conn.fetchval(
        "SELECT coalesce(sum((e.taken ->> 'cash')::bigint), 0) FROM store_exception e"
        " JOIN shift s ON s.id = $1 AND e.device_id = s.till_id AND e.settled_offline_at >= s.opened_at",
        shift_id,
    )
    report = await t.till.services.shifts.report(shift_id)  # the X report, through the till's own client
    cash = next(line for line in report.tenders if line.tender == "cash")
    assert cash.expected == t.float_amount + kept + held, f"{t.name}'s drawer holds the float and the cash kept"
    assert cash.sales - cash.change == kept
    assert cash.exceptions_held == held


async def member_adds_up(
    conn: asyncpg.Connection,
    customers: ServerCustomers,
    member_id: uuid.UUID,
    before: MemberBalances,
    checkouts: dict[uuid.UUID, CheckoutResult],
) -> None:
    """The member's balances (as a till sees them) are the sum of their ledger movements, and exactly what
    they had, less what they spent and plus what they earned in the settled checkouts."""
    now = await customers.balances(member_id)
    entries = {
        r["kind"]: r["total"]
        for r in await conn.fetch(
            "SELECT a.kind, coalesce(sum(e.amount), 0) AS total FROM ledger_account a"
            " LEFT JOIN ledger_entry e ON e.account_id = a.id"
            " WHERE a.member_id = $1 AND NOT a.held GROUP BY a.kind",
            member_id,
        )
    }
    held = await conn.fetchval(
        "SELECT coalesce(sum(balance), 0) FROM ledger_account WHERE member_id = $1 AND held", member_id
    )
    assert held == 0, "no balance is left reserved by a checkout"
    assert (now.stored_value, now.points, now.e_coin) == (
        entries.get("stored_value", 0),
        entries.get("points", 0),
        entries.get("e_coin", 0),
    ), "the balances are the sum of their movements"
    theirs = [c for c in checkouts.values() if c.member_id == member_id]
    spent: Counter[str] = Counter()
    for c in theirs:
        for x in c.tenders:
            spent[x.kind] += x.applied
    earned = sum(c.points_earned for c in theirs)
    assert now.stored_value == before.stored_value - spent["stored_value"], "stored value: what was spent, no more"
    assert now.points == before.points + earned - spent["points"], "points: earned less spent (100 a yuan)"
