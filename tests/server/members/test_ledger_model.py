"""The ledger against a simple model: hypothesis generates sequences of earn, top-up, hold, capture,
release, refund, expire, merge and replay steps; after every step each balance must match the model
and the invariant check must pass. Failing sequences shrink to the shortest one."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.ids import new_id
from protocol.members import MemberNew, MergeRequest, PurchaseLine, ReturnedLine
from server.errors import AppError
from server.ledger import jobs
from server.ledger import service as ledger
from server.loyalty import service as loyalty
from server.members import service as members

KINDS = ("points", "e_coin", "stored_value")
BONUS, THRESHOLD = 500, 10_000
_phones = itertools.count(1)

amounts = st.integers(min_value=1, max_value=30_000)
who = st.sampled_from(("a", "b"))
steps = st.one_of(
    st.tuples(st.just("top_up"), who, amounts),
    st.tuples(st.just("earn"), who, amounts, st.booleans()),
    st.tuples(st.just("hold"), who, st.sampled_from(KINDS), amounts),
    st.tuples(st.just("capture"), st.integers(0, 9), st.integers(0, 100)),
    st.tuples(st.just("release"), st.integers(0, 9)),
    st.tuples(st.just("refund"), st.integers(0, 9), st.integers(1, 100)),
    st.tuples(st.just("refund_tender"), st.integers(0, 9), st.integers(1, 100)),
    st.tuples(st.just("expire")),
    st.tuples(st.just("merge")),
    st.tuples(st.just("replay")),
)


@dataclass
class Model:
    ids: dict[str, uuid.UUID]
    bal: dict[str, dict[str, int]] = field(default_factory=lambda: {m: dict.fromkeys(KINDS, 0) for m in "ab"})
    holds: list[dict[str, Any]] = field(default_factory=list)
    earned: list[dict[str, Any]] = field(default_factory=list)
    merged: bool = False
    last: tuple[Any, ...] | None = None

    def owner(self, m: str) -> str:
        return "a" if self.merged else m


async def _setup(conn: asyncpg.Connection, store: uuid.UUID) -> Model:
    ids = {}
    for m in "ab":
        new = MemberNew(name=f"model {m}", phone=f"1550000{next(_phones):04d}")
        ids[m] = (await members.enrol(conn, store_id=store, new=new, id_key=b"k")).id
    return Model(ids=ids)


async def _apply(conn: asyncpg.Connection, store: uuid.UUID, model: Model, step: tuple[Any, ...]) -> None:
    name = step[0]
    soon = datetime.now(UTC) + timedelta(minutes=10)
    if name == "top_up":
        _, m, amount = step
        mid = new_id()
        await ledger.top_up(conn, movement_id=mid, store_id=store, member_id=model.ids[m], amount=amount)
        model.bal[model.owner(m)]["stored_value"] += amount
        model.last = ("top_up", mid, m, amount)
    elif name == "earn":
        _, m, amount, promo = step
        mid, ref = new_id(), f"CO-{new_id()}"
        lines = [PurchaseLine(line_no=1, sku="S", category="phones", amount=amount, promo=promo)]
        await loyalty.post_earning(conn, movement_id=mid, store_id=store, member_id=model.ids[m], lines=lines,
                                   reference=ref)  # fmt: skip
        points = amount * (50 if promo else 100) // 10_000
        owner = model.owner(m)
        model.bal[owner]["points"] += points
        model.bal[owner]["e_coin"] += BONUS if amount >= THRESHOLD else 0
        model.earned.append({"ref": ref, "member": owner, "amount": amount, "points": points, "refunded": 0})
        model.last = ("earn", mid, m, lines, ref)
    elif name == "hold":
        _, m, kind, amount = step
        owner = model.owner(m)
        hid = new_id()
        try:
            await ledger.hold(conn, hold_id=hid, store_id=store, member_id=model.ids[m], account=kind, amount=amount,
                              expires_at=soon)  # fmt: skip
        except AppError as exc:
            assert exc.code == "insufficient_balance"  # noqa: PT017
            assert model.bal[owner][kind] < amount
            return
        assert model.bal[owner][kind] >= amount
        model.bal[owner][kind] -= amount
        model.holds.append({"id": hid, "member": owner, "kind": kind, "amount": amount, "state": "open",
                            "captured": 0, "refunded": 0})  # fmt: skip
    elif name in ("capture", "release") and model.holds:
        h = model.holds[step[1] % len(model.holds)]
        if h["state"] != "open":
            try:
                await (ledger.capture(conn, h["id"], reference="x") if name == "capture" else
                       ledger.release(conn, h["id"]))  # fmt: skip
            except AppError as exc:
                assert exc.code == "hold_closed"  # noqa: PT017
            return
        take = h["amount"] * step[2] // 100 if name == "capture" else 0
        if name == "capture" and take > 0:
            await ledger.capture(conn, h["id"], reference="x", amount=take)
        else:
            await ledger.release(conn, h["id"])
            take = 0
        h["captured"], h["state"] = take, "captured" if take else "released"
        model.bal[h["member"]][h["kind"]] += h["amount"] - take
    elif name == "refund" and model.earned:
        e = model.earned[step[1] % len(model.earned)]
        left = e["amount"] - e["refunded"]
        if left == 0:
            return
        amount = max(1, left * step[2] // 100)
        result = await loyalty.reverse_for_refund(conn, movement_id=new_id(), store_id=store,
                                                  original_reference=e["ref"],
                                                  lines=[ReturnedLine(line_no=1, amount=amount)])  # fmt: skip
        before, after = e["refunded"], e["refunded"] + amount
        due = e["points"] * after // e["amount"] - e["points"] * before // e["amount"]
        owner = model.owner(e["member"])
        taken = min(due, model.bal[owner]["points"])
        assert (result.points, result.shortfall) == (taken, due - taken)
        model.bal[owner]["points"] -= taken
        bonus = BONUS if e["amount"] >= THRESHOLD else 0  # the campaign e-coin goes back in proportion too
        due = bonus * after // e["amount"] - bonus * before // e["amount"]
        taken = min(due, model.bal[owner]["e_coin"])
        assert (result.e_coin, result.e_coin_shortfall) == (taken, due - taken)
        model.bal[owner]["e_coin"] -= taken
        e["refunded"] = after
    elif name == "refund_tender" and model.holds:
        h = model.holds[step[1] % len(model.holds)]
        left = h["captured"] - h["refunded"]
        if left == 0:
            return
        amount = max(1, left * step[2] // 100)
        await ledger.refund_tender(conn, movement_id=new_id(), hold_id=h["id"], amount=amount)
        h["refunded"] += amount
        model.bal[model.owner(h["member"])][h["kind"]] += amount
    elif name == "expire":
        await jobs.expire_ecoin(conn, now=datetime.now(UTC) + timedelta(days=2))
        for m in "ab":
            model.bal[m]["e_coin"] = 0
    elif name == "merge" and not model.merged:
        try:
            await members.merge(conn, store, MergeRequest(survivor_id=model.ids["a"], absorbed_id=model.ids["b"],
                                                          movement_id=new_id()))  # fmt: skip
        except AppError as exc:
            assert exc.code == "open_holds"  # noqa: PT017
            assert any(h["member"] == "b" and h["state"] == "open" for h in model.holds)
            return
        model.merged = True
        for kind in KINDS:
            model.bal["a"][kind] += model.bal["b"][kind]
            model.bal["b"][kind] = 0
        for item in model.holds + model.earned:
            item["member"] = "a"
    elif name == "replay" and model.last is not None:
        if model.last[0] == "top_up":
            _, mid, m, amount = model.last
            await ledger.top_up(conn, movement_id=mid, store_id=store, member_id=model.ids[m], amount=amount)
        else:
            _, mid, m, lines, ref = model.last
            await loyalty.post_earning(conn, movement_id=mid, store_id=store, member_id=model.ids[m], lines=lines,
                                       reference=ref)  # fmt: skip


async def _check(conn: asyncpg.Connection, store: uuid.UUID, model: Model) -> None:
    for m in ("a",) if model.merged else ("a", "b"):
        bal = await ledger.balances(conn, model.ids[m], store)
        assert {k: getattr(bal, k) for k in KINDS} == model.bal[m], m
    report = await jobs.check_invariants(conn)
    assert report.ok, report.problems


def _explore(dsn: str, store: uuid.UUID) -> None:
    """Hypothesis drives synchronous examples; each runs on this thread's own event loop and connection."""
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(dsn))

    async def example(sequence: list[tuple[Any, ...]]) -> None:
        async with conn.transaction():
            model = await _setup(conn, store)
        for step in sequence:
            async with conn.transaction():
                await _apply(conn, store, model, step)
            await _check(conn, store, model)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(steps, min_size=1, max_size=18))
    def run(sequence: list[tuple[Any, ...]]) -> None:
        loop.run_until_complete(example(sequence))

    try:
        run()
    finally:
        loop.run_until_complete(conn.close())
        loop.close()


async def test_ledger_follows_the_model(conn, db_dsn, store):
    await conn.execute("UPDATE member SET tier_code = NULL")
    await conn.execute("DELETE FROM member_tier")
    await conn.execute("UPDATE loyalty_campaign SET active = false")
    await conn.execute(
        "INSERT INTO loyalty_campaign (id, name, starts_at, ends_at, spend_threshold, bonus, valid_days)"
        " VALUES ($1, 'model', now() - interval '1 hour', now() + interval '1 day', $2, $3, 1)",
        new_id(), THRESHOLD, BONUS,
    )  # fmt: skip
    await asyncio.to_thread(_explore, db_dsn, store)
