"""Loyalty rules as data: earning rules, tiers, campaigns, per-store settings and account scopes.

Managers edit rules of their own store (and see the chain-wide ones); chain-wide rules, tiers and
account scopes are the admin's. Every change is audited.
"""

from __future__ import annotations

import uuid

import asyncpg

from protocol.ids import new_id
from protocol.members import (
    AccountScopeDef,
    Campaign,
    CampaignNew,
    EarningRule,
    EarningRuleNew,
    LoyaltySettings,
    MemberCodes,
    RateChange,
    TierDef,
)
from server.audit import record
from server.errors import AppError, Conflict, Forbidden, NotFound
from server.loyalty import repository as sql
from server.loyalty.service import attach_days


def _rule(row: asyncpg.Record) -> EarningRule:
    return EarningRule(**dict(row))


def _campaign(row: asyncpg.Record) -> Campaign:
    return Campaign(**dict(row))


def _own_store(store_id: uuid.UUID | None, caller_store: uuid.UUID, chain_wide: bool, what: str) -> None:
    if chain_wide:
        return
    if store_id is None:
        raise Forbidden(f"Only an administrator may set chain-wide {what}; give your store's id.")
    if store_id != caller_store:
        raise NotFound("store", store_id)


async def list_rules(conn: asyncpg.Connection, store_id: uuid.UUID, *, chain_wide: bool = False) -> list[EarningRule]:
    return [_rule(r) for r in await conn.fetch(sql.RULES_FOR_STORE, store_id, chain_wide)]


async def add_rule(
    conn: asyncpg.Connection, store_id: uuid.UUID, new: EarningRuleNew, *, staff_id: uuid.UUID, chain_wide: bool
) -> EarningRule:
    _own_store(new.store_id, store_id, chain_wide, "earning rules")
    row = await conn.fetchrow(
        sql.INSERT_RULE, new_id(), new.store_id, new.format_id, new.category, new.rate, new.promo_rate, staff_id
    )
    if row is None:
        raise Conflict(
            "A rule for this store, format and category already exists; change its rates instead.",
            MemberCodes.RULE_EXISTS,
        )
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="earning_rule.added",
        object_type="earning_rule",
        object_id=row["id"],
        details={"rate": new.rate, "promo_rate": new.promo_rate},
    )
    return _rule(row)


async def _editable(conn: asyncpg.Connection, rule_id: uuid.UUID, store_id: uuid.UUID, chain_wide: bool) -> None:
    row = await conn.fetchrow(sql.RULE_BY_ID, rule_id)
    if row is None or not row["active"] or (row["store_id"] not in (None, store_id) and not chain_wide):
        raise NotFound("earning rule", rule_id)
    if row["store_id"] is None and not chain_wide:
        raise Forbidden("Chain-wide rules are changed by an administrator; add a rule for your store instead.")


async def change_rule(
    conn: asyncpg.Connection,
    store_id: uuid.UUID,
    rule_id: uuid.UUID,
    change: RateChange,
    *,
    staff_id: uuid.UUID,
    chain_wide: bool,
) -> EarningRule:
    await _editable(conn, rule_id, store_id, chain_wide)
    row = await conn.fetchrow(sql.UPDATE_RULE, rule_id, change.rate, change.promo_rate, staff_id)
    assert row is not None
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="earning_rule.changed",
        object_type="earning_rule",
        object_id=rule_id,
        details={"rate": change.rate, "promo_rate": change.promo_rate},
    )
    return _rule(row)


async def retire_rule(
    conn: asyncpg.Connection, store_id: uuid.UUID, rule_id: uuid.UUID, *, staff_id: uuid.UUID, chain_wide: bool
) -> EarningRule:
    await _editable(conn, rule_id, store_id, chain_wide)
    row = await conn.fetchrow(sql.RETIRE_RULE, rule_id, staff_id)
    assert row is not None
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="earning_rule.retired",
        object_type="earning_rule",
        object_id=rule_id,
    )
    return _rule(row)


async def list_tiers(conn: asyncpg.Connection) -> list[TierDef]:
    return [TierDef(**dict(r)) for r in await conn.fetch(sql.TIERS)]


async def put_tier(conn: asyncpg.Connection, tier: TierDef, *, store_id: uuid.UUID, staff_id: uuid.UUID) -> TierDef:
    try:
        await conn.execute(sql.UPSERT_TIER, tier.code, tier.name, tier.min_spend, tier.multiplier)
    except asyncpg.UniqueViolationError:
        raise Conflict(
            "Another tier already starts at this spend; choose a different minimum.", field="min_spend"
        ) from None
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="tier.set",
        object_type="tier",
        object_id=tier.code,
        details={"min_spend": tier.min_spend, "multiplier": tier.multiplier},
    )
    return tier


async def delete_tier(conn: asyncpg.Connection, code: str, *, store_id: uuid.UUID, staff_id: uuid.UUID) -> None:
    await conn.execute("UPDATE member SET tier_code = NULL WHERE tier_code = $1", code)
    if await conn.fetchval(sql.DELETE_TIER, code) is None:
        raise NotFound("tier", code)
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="tier.deleted",
        object_type="tier",
        object_id=code,
    )


async def list_campaigns(conn: asyncpg.Connection, store_id: uuid.UUID, *, chain_wide: bool) -> list[Campaign]:
    rows = await conn.fetch(sql.CAMPAIGNS)
    return [_campaign(r) for r in rows if chain_wide or r["store_ids"] is None or store_id in r["store_ids"]]


async def add_campaign(
    conn: asyncpg.Connection, store_id: uuid.UUID, new: CampaignNew, *, staff_id: uuid.UUID, chain_wide: bool
) -> Campaign:
    if new.ends_at <= new.starts_at:
        raise AppError("validation_failed", "A campaign must end after it starts.", details={"field": "ends_at"})
    if not chain_wide:
        if not new.store_ids:
            raise Forbidden("Only an administrator may run a campaign in every store; list your store.")
        for sid in new.store_ids:
            _own_store(sid, store_id, chain_wide, "campaigns")
    cid = new_id()
    await conn.execute(
        sql.INSERT_CAMPAIGN,
        cid,
        new.name,
        new.store_ids,
        new.starts_at,
        new.ends_at,
        new.spend_threshold,
        new.bonus,
        new.repeat,
        new.valid_days,
        new.ecoin_store_ids,
        new.ecoin_categories,
    )
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="campaign.added",
        object_type="campaign",
        object_id=cid,
        details={"bonus": new.bonus, "spend_threshold": new.spend_threshold},
    )
    row = await conn.fetchrow(f"SELECT {sql.CAMPAIGN_COLUMNS} FROM loyalty_campaign WHERE id = $1", cid)
    assert row is not None
    return _campaign(row)


async def end_campaign(
    conn: asyncpg.Connection, store_id: uuid.UUID, campaign_id: uuid.UUID, *, staff_id: uuid.UUID, chain_wide: bool
) -> None:
    visible = {c.id for c in await list_campaigns(conn, store_id, chain_wide=chain_wide)}
    row = await conn.fetchrow("SELECT store_ids FROM loyalty_campaign WHERE id = $1", campaign_id)
    if campaign_id not in visible or row is None or (not chain_wide and row["store_ids"] != [store_id]):
        raise NotFound("campaign", campaign_id)
    await conn.execute(sql.END_CAMPAIGN, campaign_id)
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="campaign.ended",
        object_type="campaign",
        object_id=campaign_id,
    )


async def get_settings(conn: asyncpg.Connection, store_id: uuid.UUID) -> LoyaltySettings:
    return LoyaltySettings(attach_days=await attach_days(conn, store_id))


async def put_settings(
    conn: asyncpg.Connection, store_id: uuid.UUID, settings: LoyaltySettings, *, staff_id: uuid.UUID
) -> LoyaltySettings:
    await conn.execute(sql.UPSERT_SETTINGS, store_id, settings.attach_days)
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="loyalty_settings.changed",
        object_type="store",
        object_id=store_id,
        details={"attach_days": settings.attach_days},
    )
    return settings


async def list_scopes(conn: asyncpg.Connection) -> list[AccountScopeDef]:
    return [AccountScopeDef(kind=r["kind"], scope=r["scope"]) for r in await conn.fetch(sql.SCOPES)]


async def set_scope(
    conn: asyncpg.Connection, scope: AccountScopeDef, *, store_id: uuid.UUID, staff_id: uuid.UUID
) -> AccountScopeDef:
    """How a kind of balance is split (chain, format, store). Fixed once members hold such accounts."""
    current = await conn.fetchval("SELECT scope FROM account_scope WHERE kind = $1 FOR UPDATE", scope.kind)
    if current != scope.scope and await conn.fetchval(sql.ACCOUNTS_OF_KIND, scope.kind):
        raise Conflict(
            f"Members already hold {scope.kind} accounts split by {current}; the split cannot change now.",
            MemberCodes.SCOPE_LOCKED,
        )
    await conn.execute(sql.SET_SCOPE, scope.kind, scope.scope)
    await record(
        conn,
        device_id=None,
        store_id=store_id,
        staff_id=staff_id,
        action="account_scope.set",
        object_type="account_scope",
        object_id=scope.kind,
        details={"scope": scope.scope},
    )
    return scope
