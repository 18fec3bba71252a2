"""Members are people: found by phone, card or code; ID numbers never leave masked; merges keep every entry."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from protocol.ids import new_id
from protocol.members import MemberCodes, MemberUpdate, MergeRequest, PurchaseLine
from server.errors import AppError
from server.ledger import jobs
from server.ledger import service as ledger
from server.loyalty import service as loyalty
from server.members import service as members
from server.members.demo import DEMO_MEMBERS
from tests.server.members.conftest import ID_KEY, enrol

NATIONAL_ID = "11010119900307123X"


async def test_find_by_phone_card_and_code(conn, store, member):
    await members.add_card(conn, store, member.id, "APP-CODE-77", "code")
    for kw in ({"phone": "13800000001"}, {"card": "CARD0001"}, {"code": "APP-CODE-77"}):
        found = await members.find_member(conn, store, **kw)
        assert found.id == member.id
    with pytest.raises(AppError) as err:
        await members.find_member(conn, store, card="APP-CODE-77")  # a code is not a card
    assert err.value.code == MemberCodes.MEMBER_NOT_FOUND


async def test_phone_and_card_are_unique_in_the_chain(conn, store, other_store, member):
    with pytest.raises(AppError) as err:
        await enrol(conn, other_store, "13800000001")
    assert err.value.code == MemberCodes.PHONE_TAKEN
    with pytest.raises(AppError) as err:
        await enrol(conn, other_store, "13800000002", cards=["CARD0001"])
    assert err.value.code == MemberCodes.CARD_TAKEN
    assert not await conn.fetchval("SELECT count(*) FROM member WHERE phone = '13800000002'")  # no partial write


async def test_national_id_is_stored_protected_and_shown_masked(conn, store, caplog):
    caplog.set_level(logging.DEBUG)
    m = await enrol(conn, store, "13800000009", national_id=NATIONAL_ID)
    assert m.national_id_masked == "1101**********123X"
    assert m.phone_masked == "138****0009"
    row = await conn.fetchrow("SELECT * FROM member WHERE id = $1", m.id)
    assert NATIONAL_ID not in repr(dict(row))
    assert "13800000009" not in repr(m)
    found = await members.find_member(conn, store, national_id=NATIONAL_ID.lower(), id_key=ID_KEY)
    assert found.id == m.id
    listed = await members.list_members(conn, store)
    assert NATIONAL_ID not in repr(listed)
    assert "13800000009" not in repr(listed)
    audit = await conn.fetch("SELECT details::text FROM audit_log")
    assert all(NATIONAL_ID not in r[0] for r in audit)
    assert NATIONAL_ID not in caplog.text
    with pytest.raises(AppError) as err:
        await enrol(conn, store, "13800000010", national_id="12345")
    assert err.value.code == MemberCodes.INVALID_NATIONAL_ID


async def test_update_profile_and_phone_conflict(conn, store, member):
    other = await enrol(conn, store, "13800000005")
    changed = await members.update(conn, store, member.id, MemberUpdate(name="新名字", consent_sms=True), id_key=ID_KEY)
    assert (changed.name, changed.consent_sms) == ("新名字", True)
    with pytest.raises(AppError) as err:
        await members.update(conn, store, other.id, MemberUpdate(phone="13800000001"), id_key=ID_KEY)
    assert err.value.code == MemberCodes.PHONE_TAKEN


async def test_another_stores_member_is_not_found_until_presented_there(conn, store, other_store, member):
    with pytest.raises(AppError) as err:
        await members.get(conn, other_store, member.id)
    assert err.value.status == 404
    found = await members.find_member(conn, other_store, card="CARD0001")  # the customer shows the card
    assert found.id == member.id
    assert (await members.get(conn, other_store, member.id)).id == member.id


async def test_merge_keeps_every_entry_and_moves_balances(conn, store, member):
    twin = await enrol(conn, store, "13800000077", national_id=NATIONAL_ID, cards=["CARD0077"])
    async with conn.transaction():
        await ledger.top_up(conn, movement_id=new_id(), store_id=store, member_id=member.id, amount=1_000)
        await ledger.top_up(conn, movement_id=new_id(), store_id=store, member_id=twin.id, amount=2_000)
        await loyalty.post_earning(
            conn, movement_id=new_id(), store_id=store, member_id=twin.id, reference="R-1",
            lines=[PurchaseLine(line_no=1, sku="X", category="tv", amount=300_000)],
        )  # fmt: skip
    before = await ledger.statement(conn, twin.id, store, limit=200)
    async with conn.transaction():
        survivor = await members.merge(conn, store, MergeRequest(survivor_id=member.id, absorbed_id=twin.id,
                                                                   movement_id=new_id()))  # fmt: skip
    assert {c.number for c in survivor.cards} == {"CARD0001", "CARD0077"}
    assert survivor.national_id_masked == "1101**********123X"
    bal = await ledger.balances(conn, member.id, store)
    assert bal.stored_value == 3_000
    assert bal.points == 3_000
    assert bal.e_coin == 10_000  # the demo campaign's e-coin followed the person
    after = await ledger.statement(conn, member.id, store, limit=200)
    old_ids = {e.entry_id for e in before.entries}
    assert old_ids <= {e.entry_id for e in after.entries}  # every entry of the absorbed record is still there
    assert (await members.find_member(conn, store, card="CARD0077")).id == member.id
    absorbed = await members.get(conn, store, twin.id)
    assert (absorbed.state, absorbed.merged_into) == ("merged", member.id)
    # money sent to the old id lands on the survivor
    async with conn.transaction():
        r = await ledger.top_up(conn, movement_id=new_id(), store_id=store, member_id=twin.id, amount=5)
    assert r.member_id == member.id
    assert (await jobs.check_invariants(conn)).ok


async def test_merge_is_refused_with_a_payment_in_progress(conn, store, member):
    twin = await enrol(conn, store, "13800000078")
    async with conn.transaction():
        await ledger.top_up(conn, movement_id=new_id(), store_id=store, member_id=twin.id, amount=500)
        await ledger.hold(conn, hold_id=new_id(), store_id=store, member_id=twin.id, account="stored_value",
                          amount=500, expires_at=datetime.now(UTC) + timedelta(minutes=5))  # fmt: skip
    with pytest.raises(AppError) as err:
        async with conn.transaction():
            await members.merge(conn, store, MergeRequest(survivor_id=member.id, absorbed_id=twin.id,
                                                          movement_id=new_id()))  # fmt: skip
    assert err.value.code == MemberCodes.OPEN_HOLDS
    with pytest.raises(AppError) as err:
        await members.merge(conn, store, MergeRequest(survivor_id=member.id, absorbed_id=member.id,
                                                      movement_id=new_id()))  # fmt: skip
    assert err.value.code == MemberCodes.SAME_MEMBER


async def test_demo_members_have_cards_balances_and_a_sound_ledger(conn, store):
    name, _phone, card, code, top_up = DEMO_MEMBERS[0]
    m = await members.find_member(conn, store, code=code)
    assert m.name == name
    assert card in {c.number for c in m.cards}
    bal = await ledger.balances(conn, m.id, store)
    assert bal.stored_value == top_up
    assert bal.points > 0
    assert bal.e_coin > 0
    assert (await jobs.check_invariants(conn)).ok
