"""The cashier station: enrollment → sign-in → shift → checkout, with the connection bar and the offline
banner always on top.

Screens talk only to presenters; presenters talk only to the ports in ``Services``. The app runs on
asyncio (``async_run``) so the websocket client and the UI share one loop and never block each other.
"""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import NoTransition, ScreenManager

from cashier_app.presenters.allowances import ReserveAllowance
from cashier_app.presenters.banner import offline_banner
from cashier_app.presenters.basket import Basket
from cashier_app.presenters.exceptions import ExceptionsPresenter
from cashier_app.presenters.ports import TillContext
from cashier_app.presenters.queue import TicketQueue
from cashier_app.presenters.receipt import receipt_view
from cashier_app.presenters.refunds import RefundPresenter
from cashier_app.presenters.shift import ShiftPresenter, till_refusal
from cashier_app.presenters.tenders import Payment
from cashier_app.presenters.top_up import TopUpPresenter
from cashier_app.screens.checkout.allowance_panel import AllowancePanel
from cashier_app.screens.checkout.checkout import CheckoutScreen
from cashier_app.screens.exceptions.exceptions import ExceptionsScreen
from cashier_app.screens.exceptions.exceptions import nav_button as exceptions_nav_button
from cashier_app.screens.receipt.receipt import ReceiptScreen
from cashier_app.screens.refunds.refunds import RefundsScreen
from cashier_app.screens.shift.shift import ShiftScreen
from cashier_app.screens.top_up.top_up import TopUpScreen
from cashier_app.services import Services
from client_common import prefs as prefs_file
from client_common.connection import ConnectionState
from client_common.i18n import translator
from client_common.presenters.enrollment import EnrollmentPresenter
from client_common.presenters.sign_in import SignInPresenter
from client_common.ui.lang import T
from client_common.ui.screens.enrollment.enrollment import EnrollmentScreen
from client_common.ui.screens.sign_in.sign_in import SignInScreen
from client_common.ui.tasks import spawn
from client_common.ui.widgets import ConnectionBar

Builder.load_string(
    """
<OfflineBanner>:
    size_hint_y: None
    height: 0
    opacity: 0
    font_size: "18sp"
    bold: True
    text_size: self.width - dp(16), None
    halign: "center"
    canvas.before:
        Color:
            rgba: 0.75, 0.12, 0.12, 1
        Rectangle:
            pos: self.pos
            size: self.size
"""
)


class OfflineBanner(Label):  # type: ignore[misc]
    """Red, under the connection bar, only while offline: what still works and what waits."""


class CashierApp(App):  # type: ignore[misc]
    title = "floorticket · till"

    def __init__(self, services: Services | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services
        self.basket: Basket | None = None
        self.payment: Payment | None = None

    def build(self) -> BoxLayout:
        s = self.services
        assert s is not None, "CashierApp needs its services (see cashier_app.wiring)"
        self.prefs = prefs_file.load(s.prefs_path)
        translator.set_language(self.prefs.language)
        translator.subscribe(self._language_changed)
        self.enrollment = EnrollmentPresenter(s.enroller, self.prefs.server_url)
        self.sign_in = SignInPresenter(s.auth)

        root = BoxLayout(orientation="vertical")
        self.bar = ConnectionBar()
        self.banner = OfflineBanner()
        self.screens = ScreenManager(transition=NoTransition())
        root.add_widget(self.bar)
        root.add_widget(self.banner)
        root.add_widget(self.screens)
        s.connection.observe(self._connection)
        T.bind(lang=lambda *_: self._connection(s.connection.state))
        self.screens.add_widget(EnrollmentScreen(self.enrollment, self._enrolled))
        self.screens.add_widget(SignInScreen(self.sign_in, self._signed_in))
        if self.enrollment.enrolled:
            self._enrolled()
        return root

    def _connection(self, state: ConnectionState) -> None:
        self.bar.state = state
        text = offline_banner(state)
        self.banner.text = text
        self.banner.height = 44 if text else 0
        self.banner.opacity = 1 if text else 0

    def _language_changed(self, language: str) -> None:
        s = self.services
        assert s is not None
        self.prefs.language = language
        prefs_file.save(s.prefs_path, self.prefs)

    def go(self, name: str) -> None:
        self.screens.current = name

    # --- flow -------------------------------------------------------------------------------------

    def _enrolled(self) -> None:
        s = self.services
        assert s is not None
        device = self.enrollment.device
        assert device is not None
        if self.enrollment.server_url != self.prefs.server_url:
            self.prefs.server_url = self.enrollment.server_url
            prefs_file.save(s.prefs_path, self.prefs)
        if self.basket is None:

            def till() -> TillContext:  # the store's rules as last read from the server
                return s.till(device)

            self.till_label = device.label
            self.basket = Basket(s.reader, s.customers, s.connection)
            self.payment = Payment(self.basket, s.terminal, s.checkouts, s.connection, till, s.allowances)
            self.queue = TicketQueue(s.events)
            self.shift = ShiftPresenter(s.shifts, s.connection, s.print_report)
            self.refunds = RefundPresenter(s.refunds, s.auth, s.connection, till)
            self.top_up = TopUpPresenter(s.customers, s.top_ups, s.connection)
            self.checkout_screen = CheckoutScreen(
                self.basket, self.payment, self.queue, self.go, self._settled, self.sign_out
            )
            self.receipt_screen = ReceiptScreen(self.next_customer)
            self.shift_screen = ShiftScreen(self.shift, self.go, self.sign_out)
            self.shift.observe(self._shift_changed)
            for screen in (
                self.checkout_screen,
                self.receipt_screen,
                self.shift_screen,
                RefundsScreen(self.refunds, self.go),
                TopUpScreen(self.top_up, self.go),
            ):
                self.screens.add_widget(screen)
            self._add_exceptions(s)
            self._add_allowances(s, till)
        self.go("sign_in")

    def _add_exceptions(self, s: Services) -> None:
        """The supervisor's exception queue, reached from the checkout screen's top bar."""
        if s.exceptions is None:
            return
        self.exceptions = ExceptionsPresenter(s.exceptions, s.connection)
        self.screens.add_widget(ExceptionsScreen(self.exceptions, self.go))
        after = self.checkout_screen.ids.nav_top_up
        bar = after.parent
        bar.add_widget(exceptions_nav_button(self.go), index=bar.children.index(after))

    def _add_allowances(self, s: Services, till: Any) -> None:
        """The offline-balance panel, under the member's balances in the basket."""
        if s.allowances is None or self.basket is None:
            return
        self.reserve = ReserveAllowance(self.basket, s.allowances, s.connection, till)
        after = self.checkout_screen.ids.balances
        column = after.parent
        column.add_widget(AllowancePanel(self.reserve), index=column.children.index(after))

    def _signed_in(self) -> None:
        s, session = self.services, self.sign_in.session
        assert s is not None
        assert session is not None
        refusal = till_refusal(session)
        if refusal:
            self.sign_in.sign_out()
            self.sign_in.error = refusal
            self.sign_in.changed()
            return
        who = translator.tr("till.cashier", name=session.name, till=self.till_label)
        self.checkout_screen.show_cashier(who)
        self.shift_screen.show_who(who)
        spawn(s.start_sync(session))
        spawn(self._resume_shift())

    async def _resume_shift(self) -> None:
        shift = await self.shift.resume()
        self.go("checkout" if shift is not None else "shift")

    def _shift_changed(self) -> None:
        shift_id = self.shift.shift.shift_id if self.shift.shift else None
        assert self.payment is not None
        self.payment.shift_id = shift_id
        self.top_up.shift_id = shift_id

    def _settled(self) -> None:
        assert self.payment is not None
        settled = self.payment.settled
        if settled is not None:
            self.receipt_screen.show(receipt_view(settled))
            self.go("receipt")

    def next_customer(self) -> None:
        assert self.payment is not None
        self.payment.next_customer()
        self.go("checkout")

    def sign_out(self) -> None:
        assert self.services is not None
        spawn(self.services.stop_sync())
        self.sign_in.sign_out()
        self.go("sign_in")
