"""``/api/admin/loyalty``: earning rules, tiers, campaigns, settings and account scopes.

Managers edit their store's rules, campaigns and settings; chain-wide rules, tiers and account
scopes are the administrator's.
"""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody

from protocol.members import (
    AccountScopeDef,
    Campaign,
    CampaignNew,
    EarningRule,
    EarningRuleNew,
    LoyaltySettings,
    RateChange,
    TierDef,
    TierRecompute,
)
from server.auth.guards import ADMINS, MANAGERS
from server.deps import CallerDep, Conn
from server.errors import AppError
from server.loyalty import rules
from server.loyalty.service import recompute_all_tiers


class LoyaltyController(Controller):
    path = "/api/admin/loyalty"
    tags = ("loyalty",)

    @get("/rules", operation_id="list_earning_rules", opt={"roles": MANAGERS})
    async def list_rules(self, conn: Conn, caller: CallerDep) -> list[EarningRule]:
        return await rules.list_rules(conn, caller.store_id, chain_wide=caller.chain_wide)

    @post("/rules", operation_id="add_earning_rule", opt={"roles": MANAGERS})
    async def add_rule(self, conn: Conn, caller: CallerDep, data: JSONBody[EarningRuleNew]) -> EarningRule:
        async with conn.transaction():
            return await rules.add_rule(
                conn, caller.store_id, data, staff_id=caller.staff_id, chain_wide=caller.chain_wide
            )

    @put("/rules/{rule_id:uuid}", operation_id="change_earning_rule", opt={"roles": MANAGERS})
    async def change_rule(
        self,
        conn: Conn,
        caller: CallerDep,
        rule_id: FromPath[uuid.UUID],
        data: JSONBody[RateChange],
    ) -> EarningRule:
        async with conn.transaction():
            return await rules.change_rule(
                conn, caller.store_id, rule_id, data, staff_id=caller.staff_id, chain_wide=caller.chain_wide
            )

    @delete("/rules/{rule_id:uuid}", operation_id="retire_earning_rule", opt={"roles": MANAGERS})
    async def retire_rule(self, conn: Conn, caller: CallerDep, rule_id: FromPath[uuid.UUID]) -> None:
        async with conn.transaction():
            await rules.retire_rule(
                conn, caller.store_id, rule_id, staff_id=caller.staff_id, chain_wide=caller.chain_wide
            )

    @get("/tiers", operation_id="list_tiers", opt={"roles": MANAGERS})
    async def list_tiers(self, conn: Conn) -> list[TierDef]:
        return await rules.list_tiers(conn)

    @put("/tiers/{code:str}", operation_id="set_tier", opt={"roles": ADMINS})
    async def set_tier(self, conn: Conn, caller: CallerDep, code: FromPath[str], data: JSONBody[TierDef]) -> TierDef:
        if code != data.code:
            raise AppError("validation_failed", "The tier code in the address and the body differ.")
        async with conn.transaction():
            return await rules.put_tier(conn, data, store_id=caller.store_id, staff_id=caller.staff_id)

    @delete("/tiers/{code:str}", operation_id="delete_tier", opt={"roles": ADMINS})
    async def delete_tier(self, conn: Conn, caller: CallerDep, code: FromPath[str]) -> None:
        async with conn.transaction():
            await rules.delete_tier(conn, code, store_id=caller.store_id, staff_id=caller.staff_id)

    @post("/tiers/recompute", operation_id="recompute_tiers", opt={"roles": MANAGERS}, status_code=200)
    async def recompute(self, conn: Conn) -> TierRecompute:
        async with conn.transaction():
            return TierRecompute(members_changed=await recompute_all_tiers(conn))

    @get("/campaigns", operation_id="list_campaigns", opt={"roles": MANAGERS})
    async def list_campaigns(self, conn: Conn, caller: CallerDep) -> list[Campaign]:
        return await rules.list_campaigns(conn, caller.store_id, chain_wide=caller.chain_wide)

    @post("/campaigns", operation_id="add_campaign", opt={"roles": MANAGERS})
    async def add_campaign(self, conn: Conn, caller: CallerDep, data: JSONBody[CampaignNew]) -> Campaign:
        async with conn.transaction():
            return await rules.add_campaign(
                conn, caller.store_id, data, staff_id=caller.staff_id, chain_wide=caller.chain_wide
            )

    @delete("/campaigns/{campaign_id:uuid}", operation_id="end_campaign", opt={"roles": MANAGERS})
    async def end_campaign(self, conn: Conn, caller: CallerDep, campaign_id: FromPath[uuid.UUID]) -> None:
        async with conn.transaction():
            await rules.end_campaign(
                conn, caller.store_id, campaign_id, staff_id=caller.staff_id, chain_wide=caller.chain_wide
            )

    @get("/settings", operation_id="get_loyalty_settings", opt={"roles": MANAGERS})
    async def get_settings(self, conn: Conn, caller: CallerDep) -> LoyaltySettings:
        return await rules.get_settings(conn, caller.store_id)

    @put("/settings", operation_id="set_loyalty_settings", opt={"roles": MANAGERS})
    async def put_settings(self, conn: Conn, caller: CallerDep, data: JSONBody[LoyaltySettings]) -> LoyaltySettings:
        async with conn.transaction():
            return await rules.put_settings(conn, caller.store_id, data, staff_id=caller.staff_id)

    @get("/scopes", operation_id="list_account_scopes", opt={"roles": MANAGERS})
    async def list_scopes(self, conn: Conn) -> list[AccountScopeDef]:
        return await rules.list_scopes(conn)

    @put("/scopes", operation_id="set_account_scope", opt={"roles": ADMINS})
    async def set_scope(self, conn: Conn, caller: CallerDep, data: JSONBody[AccountScopeDef]) -> AccountScopeDef:
        async with conn.transaction():
            return await rules.set_scope(conn, data, store_id=caller.store_id, staff_id=caller.staff_id)
