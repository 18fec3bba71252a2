"""``/checkouts``, ``/refunds`` and one-stop ``/one-stop/checkouts``: thin handlers over the services."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypeAlias

import asyncpg
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from protocol.checkout import (
    CheckoutForRefund,
    CheckoutRequest,
    CheckoutResult,
    CustomerTickets,
    OneStopRequest,
    RefundRequest,
    RefundResult,
)
from protocol.payments import PaymentList
from server.auth.guards import SUPERVISORS, TILL, Caller, DeviceCaller
from server.checkout import refunds, service
from server.checkout.config import CheckoutConfig, config_from_env
from server.errors import AppError
from server.exceptions import service as exceptions
from server.payments import service as payments
from server.settings import Settings

Conn: TypeAlias = NamedDependency[asyncpg.Connection]
CallerDep: TypeAlias = NamedDependency[Caller]
DeviceDep: TypeAlias = NamedDependency[DeviceCaller]
PaymentsDep: TypeAlias = NamedDependency[service.Payments]
ConfigDep: TypeAlias = NamedDependency[CheckoutConfig]


async def provide_payments(request: Request[Any, Any, Any]) -> service.Payments:
    state = request.app.state
    return service.Payments(
        provider=state.payment_provider, config=getattr(state, "payments_config", None) or payments.DEFAULT_CONFIG
    )


async def provide_checkout_config(request: Request[Any, Any, Any]) -> CheckoutConfig:
    config: CheckoutConfig | None = getattr(request.app.state, "checkout_config", None)
    if config is None:
        config = request.app.state.checkout_config = config_from_env()
    return config


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DEPENDENCIES = {"pay": Provide(provide_payments), "config": Provide(provide_checkout_config)}


class CheckoutController(Controller):
    path = "/checkouts"
    tags = ["checkout"]  # noqa: RUF012 - Litestar reads these class attributes
    opt = {"roles": TILL}  # noqa: RUF012
    dependencies = DEPENDENCIES

    @get("/open-tickets", operation_id="findCustomerTickets")
    async def open_tickets(
        self,
        conn: Conn,
        caller: CallerDep,
        ticket_id: Annotated[uuid.UUID | None, QueryParameter(description="a scanned ticket")] = None,
        member_code: Annotated[str | None, QueryParameter(description="the member's code or card number")] = None,
    ) -> CustomerTickets:
        """Every open ticket of the customer in this store, from one scanned ticket or the member's code."""
        return await service.customer_tickets(conn, caller.store_id, ticket_id=ticket_id, member_code=member_code)

    @post("/", operation_id="settleCheckout", status_code=200)
    async def settle(
        self, data: JSONBody[CheckoutRequest], conn: Conn, caller: CallerDep, pay: PaymentsDep, config: ConfigDep
    ) -> CheckoutResult:
        """Settle tickets with tenders, all or nothing. Send again with the same id after any failure to
        get the stored result; a card is never charged twice."""
        who = await service.at_till(conn, caller)
        try:
            return await service.settle(conn, who, data, pay, config)
        except AppError as exc:  # money taken offline for a checkout refused now: kept for the manager
            await exceptions.record_refused_checkout(conn, who, data, exc)
            raise

    @get("/stray-payments", operation_id="listStrayCheckoutPayments", opt={"roles": SUPERVISORS})
    async def stray_payments(
        self,
        conn: Conn,
        caller: CallerDep,
        older_than_s: Annotated[int, QueryParameter(ge=0, le=86_400 * 30)] = 120,
    ) -> PaymentList:
        """Approved card and wallet payments of checkouts that never settled; give each back with
        ``POST /payments/{id}/refunds``."""
        return PaymentList(payments=await service.stray_payments(conn, caller.store_id, older_than_s))

    @get("/for-refund", operation_id="findCheckoutForRefund")
    async def for_refund(
        self,
        conn: Conn,
        caller: CallerDep,
        receipt: Annotated[str, QueryParameter(description="receipt number or the receipt QR text", min_length=4)],
    ) -> CheckoutForRefund:
        """A settled checkout by its receipt number or the customer's receipt QR, with what can still be returned."""
        return await refunds.for_refund(conn, caller.store_id, receipt=receipt)

    @get("/{checkout_id:uuid}/refundable", operation_id="getRefundableCheckout")
    async def refundable(self, checkout_id: FromPath[uuid.UUID], conn: Conn, caller: CallerDep) -> CheckoutForRefund:
        """A settled checkout with what can still be returned."""
        return await refunds.for_refund(conn, caller.store_id, checkout_id=checkout_id)

    @get("/{checkout_id:uuid}", operation_id="getCheckout")
    async def get_one(self, checkout_id: FromPath[uuid.UUID], conn: Conn, caller: CallerDep) -> CheckoutResult:
        return await service.get_checkout(conn, caller.store_id, checkout_id)


class RefundController(Controller):
    path = "/refunds"
    tags = ["checkout"]  # noqa: RUF012
    opt = {"roles": TILL}  # noqa: RUF012
    dependencies = DEPENDENCIES

    @post("/", operation_id="refundCheckout", status_code=200)
    async def refund(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RefundRequest],
        conn: Conn,
        caller: CallerDep,
        pay: PaymentsDep,
        config: ConfigDep,
    ) -> RefundResult:
        """Refund whole tickets or chosen lines of a settled checkout to its original tenders."""
        return await refunds.refund(conn, await service.at_till(conn, caller), data, pay, config, _settings(request))


class OneStopController(Controller):
    path = "/one-stop/checkouts"
    tags = ["checkout"]  # noqa: RUF012
    opt = {"device": ("handheld",)}  # noqa: RUF012
    dependencies = DEPENDENCIES

    @post("/", operation_id="settleOneStop", status_code=200)
    async def settle(
        self, data: JSONBody[OneStopRequest], conn: Conn, device: DeviceDep, pay: PaymentsDep, config: ConfigDep
    ) -> CheckoutResult:
        """A handheld settles the ticket it issued with a card or wallet tender, no till involved."""
        who = service.Who(store_id=device.store_id, staff_id=None, device_id=device.device_id, mode="one_stop")
        return await service.settle_one_stop(conn, who, data, pay, config)
