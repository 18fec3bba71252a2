"""The handheld app: enrollment → sign-in → sell, with the connection bar always on top.

Screens talk only to presenters; presenters talk only to the ports in ``Services``. The app runs on
asyncio (``async_run``) so the websocket client and the UI share one loop and never block each other.
"""

from __future__ import annotations

import uuid
from typing import Any

from kivy.app import App
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from client_common.connection import ConnectionState
from client_common.presenters.enrollment import EnrollmentPresenter
from client_common.presenters.sign_in import SignInPresenter
from client_common.ui.screens.enrollment.enrollment import EnrollmentScreen
from client_common.ui.screens.sign_in.sign_in import SignInScreen
from client_common.ui.tasks import spawn
from client_common.ui.widgets import ConnectionBar
from handheld_app.presenters.card_payment import CardPayment
from handheld_app.presenters.issued import issued_view
from handheld_app.presenters.member import MemberPresenter
from handheld_app.presenters.my_tickets import MyTickets
from handheld_app.presenters.product_search import ProductSearch
from handheld_app.presenters.settings import SettingsPresenter
from handheld_app.presenters.ticket_builder import TicketBuilder
from handheld_app.screens.card_payment.card_payment import CardPaymentScreen
from handheld_app.screens.member.member import MemberScreen
from handheld_app.screens.my_tickets.my_tickets import MyTicketsScreen
from handheld_app.screens.sell.sell import SellScreen
from handheld_app.screens.settings.settings import SettingsScreen
from handheld_app.screens.ticket_qr.ticket_qr import TicketQrScreen
from handheld_app.services import Services, device_context


class HandheldApp(App):  # type: ignore[misc]
    title = "floorticket"

    def __init__(self, services: Services | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services
        self.builder: TicketBuilder | None = None
        self.my_tickets: MyTickets | None = None

    def build(self) -> BoxLayout:
        s = self.services
        assert s is not None, "HandheldApp needs its services (see handheld_app.wiring)"
        self.settings_presenter = SettingsPresenter(s.prefs_path)
        self.enrollment = EnrollmentPresenter(s.enroller, self.settings_presenter.prefs.server_url)
        self.sign_in = SignInPresenter(s.auth)

        root = BoxLayout(orientation="vertical")
        self.bar = ConnectionBar()
        s.connection.observe(self._connection)
        self.screens = ScreenManager(transition=NoTransition())
        root.add_widget(self.bar)
        root.add_widget(self.screens)
        self.screens.add_widget(EnrollmentScreen(self.enrollment, self._enrolled))
        self.screens.add_widget(SignInScreen(self.sign_in, self._signed_in))
        if self.enrollment.enrolled:
            self._enrolled()
        return root

    def _connection(self, state: ConnectionState) -> None:
        self.bar.state = state

    def go(self, name: str) -> None:
        self.screens.current = name

    # --- flow -------------------------------------------------------------------------------------

    def _enrolled(self) -> None:
        s = self.services
        assert s is not None
        device = self.enrollment.device
        assert device is not None
        if self.enrollment.server_url != self.settings_presenter.prefs.server_url:
            self.settings_presenter.save_server(self.enrollment.server_url)
        if self.builder is None:
            self.builder = TicketBuilder(s.book, s.auth, device_context(device))
            self.search = ProductSearch(s.catalog, self.builder.add)
            self.member = MemberPresenter(s.members)
            self.my_tickets = MyTickets(s.book, s.verifier)
            pay = None
            if s.one_stop is not None:
                self.card_payment = CardPayment(s.one_stop, s.book, s.connection)
                self.card_screen = CardPaymentScreen(self.card_payment, self.go)
                self.screens.add_widget(self.card_screen)
                pay = self.pay_by_card
            self.qr_screen = TicketQrScreen(self.go, pay)
            for screen in (
                SellScreen(self.builder, self.search, self.member, self.go, self.issue),
                MemberScreen(self.member, self.builder, self.go),
                self.qr_screen,
                MyTicketsScreen(self.my_tickets, self.go, pay),
                SettingsScreen(self.settings_presenter, self.go, self.sign_out, self._server_changed),
            ):
                self.screens.add_widget(screen)
        spawn(s.start_sync(None))  # the outbox of an earlier session flows before anyone signs in
        self.go("sign_in")

    def _signed_in(self) -> None:
        s, session = self.services, self.sign_in.session
        assert s is not None
        assert session is not None
        assert self.builder is not None
        assert self.my_tickets is not None
        self.builder.staff = session
        self.my_tickets.staff = session
        spawn(s.start_sync(session))  # already running since enrollment or app start: nothing happens
        self.go("sell")

    def issue(self) -> None:
        assert self.builder is not None
        assert self.services is not None
        ticket = self.builder.issue()
        if ticket is not None:
            self.qr_screen.show(issued_view(ticket, online=self.services.connection.state.online))
            self.go("ticket_qr")

    def pay_by_card(self, ticket_id: uuid.UUID) -> None:
        """One-stop: the customer pays this ticket on the handheld; back to where the payment started."""
        self.card_screen.show(ticket_id, back_to=self.screens.current)
        self.go("card_payment")

    def sign_out(self) -> None:
        assert self.services is not None
        assert self.builder is not None
        self.services.sign_out_staff()  # the device keeps syncing its outbox and events
        self.builder.clear()
        self.builder.staff = None
        self.sign_in.sign_out()
        self.go("sign_in")

    def _server_changed(self, url: str) -> None:
        s, session = self.services, self.sign_in.session
        assert s is not None

        async def restart() -> None:
            await s.stop_sync()  # also ends the session's tokens, which belong to the old server
            await s.start_sync(session)

        spawn(restart())
