"""``/payments``: take a card or wallet payment once, look it up, resolve an unknown one, refund."""

from __future__ import annotations

import uuid
from typing import Any, TypeAlias

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from protocol.payments import ChargeRequest, Payment, PaymentList, PaymentRefund, RefundRequest, ResolvePayment
from server.auth.guards import FLOOR, SUPERVISORS, Caller
from server.payments import service
from server.payments.provider import PaymentProvider

Conn: TypeAlias = NamedDependency[asyncpg.Connection]
CallerDep: TypeAlias = NamedDependency[Caller]
ProviderDep: TypeAlias = NamedDependency[PaymentProvider]
ConfigDep: TypeAlias = NamedDependency[service.PaymentsConfig]


async def provide_provider(request: Request[Any, Any, Any]) -> PaymentProvider:
    provider: PaymentProvider = request.app.state.payment_provider
    return provider


async def provide_config(request: Request[Any, Any, Any]) -> service.PaymentsConfig:
    config: service.PaymentsConfig = request.app.state.payments_config
    return config


def _actor(caller: Caller) -> service.Actor:
    return service.Actor(staff_id=caller.staff_id, device_id=caller.device_id)


class PaymentsController(Controller):
    path = "/payments"
    tags = ["payments"]  # noqa: RUF012 - Litestar reads it as a class attribute
    dependencies = {"provider": Provide(provide_provider), "config": Provide(provide_config)}  # noqa: RUF012

    @post("/", operation_id="chargePayment", opt={"roles": FLOOR}, status_code=200)
    async def charge(
        self,
        data: JSONBody[ChargeRequest],
        conn: Conn,
        caller: CallerDep,
        provider: ProviderDep,
        config: ConfigDep,
    ) -> Payment:
        """Take a card or wallet payment. Retry with the same ``payment_id`` until the status is final."""
        return await service.charge_once(
            conn,
            provider=provider,
            payment_id=data.payment_id,
            store_id=caller.store_id,
            tender=data.tender,
            amount=data.amount,
            currency=data.currency,
            card_number=data.card_number,
            wallet_code=data.wallet_code,
            reference=data.reference,
            actor=_actor(caller),
            config=config,
        )

    @get("/{payment_id:uuid}", operation_id="getPayment", opt={"roles": FLOOR})
    async def get_one(self, payment_id: FromPath[uuid.UUID], conn: Conn, caller: CallerDep) -> Payment:
        return await service.get_payment(conn, store_id=caller.store_id, payment_id=payment_id)

    @get("/unresolved", operation_id="listUnresolvedPayments", opt={"roles": SUPERVISORS})
    async def unresolved(self, conn: Conn, caller: CallerDep) -> PaymentList:
        return PaymentList(payments=await service.list_unresolved(conn, store_id=caller.store_id))

    @post("/{payment_id:uuid}/resolve", operation_id="resolvePayment", opt={"roles": SUPERVISORS}, status_code=200)
    async def resolve(
        self,
        payment_id: FromPath[uuid.UUID],
        data: JSONBody[ResolvePayment],
        conn: Conn,
        caller: CallerDep,
        provider: ProviderDep,
        config: ConfigDep,
    ) -> Payment:
        """Ask the provider now what became of a payment whose outcome is unknown."""
        return await service.resolve(
            conn,
            provider=provider,
            store_id=caller.store_id,
            payment_id=payment_id,
            actor=_actor(caller),
            config=config,
        )

    @post("/{payment_id:uuid}/refunds", operation_id="refundPayment", opt={"roles": SUPERVISORS}, status_code=200)
    async def refund(
        self,
        payment_id: FromPath[uuid.UUID],
        data: JSONBody[RefundRequest],
        conn: Conn,
        caller: CallerDep,
        provider: ProviderDep,
        config: ConfigDep,
    ) -> PaymentRefund:
        """Give back part or all of an approved payment to the same card or wallet."""
        return await service.refund(
            conn,
            provider=provider,
            store_id=caller.store_id,
            payment_id=payment_id,
            refund_id=data.refund_id,
            amount=data.amount,
            reason=data.reason,
            actor=_actor(caller),
            config=config,
        )
