"""Every route handler and controller of the server, in one list (the one place to register)."""

from __future__ import annotations

from typing import Any

from server.admin.controller import AdminApiController, AdminPagesController, admin_static
from server.auth.controller import AuthController
from server.catalog.controller import CatalogController
from server.checkout.controller import CheckoutController, OneStopController, RefundController
from server.devices.controller import DeviceController
from server.exceptions.controller import ExceptionsController
from server.health.controller import health
from server.ledger.controller import AllowanceController, LedgerAdminController
from server.loyalty.controller import LoyaltyController
from server.marketing.controller import CampaignsController, SegmentsController, TasksController
from server.members.controller import MembersController
from server.payments.controller import PaymentsController
from server.reports.controller import AnalyticsSettingsController, ReportsController
from server.shifts.controller import ShiftsController
from server.staff.controller import StaffController
from server.sync.controller import upload_commands
from server.tickets.controller import TicketController
from server.till.controller import TillDeviceController
from server.ws.endpoint import stream

ROUTES: list[Any] = [
    health,
    AuthController,
    DeviceController,
    StaffController,
    CatalogController,
    MembersController,
    LoyaltyController,
    LedgerAdminController,
    AllowanceController,
    PaymentsController,
    TicketController,
    upload_commands,
    stream,
    ShiftsController,
    CheckoutController,
    RefundController,
    OneStopController,
    ReportsController,
    AnalyticsSettingsController,
    SegmentsController,
    CampaignsController,
    TasksController,
    AdminApiController,
    AdminPagesController,
    admin_static,
    ExceptionsController,
    TillDeviceController,
]
