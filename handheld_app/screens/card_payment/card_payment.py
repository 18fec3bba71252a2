"""One-stop card payment of one ticket: amount, card or code entry, the bank's answer, release goods."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

import client_common.ui.widgets  # noqa: F401
from client_common.ui.lang import T
from client_common.ui.tasks import spawn
from handheld_app.presenters.card_payment import CardPayment

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

TONES = {
    "info": (0.85, 0.85, 0.9, 1),
    "ok": (0.3, 0.85, 0.4, 1),
    "warn": (1, 0.75, 0.3, 1),
    "error": (1, 0.4, 0.4, 1),
}


class CardPaymentScreen(Screen):  # type: ignore[misc]
    def __init__(self, presenter: CardPayment, go: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(name="card_payment", **kwargs)
        self.presenter = presenter
        self._go = go
        self._back_to = "my_tickets"
        self._redraw = Clock.create_trigger(lambda _dt: self.redraw())
        presenter.observe(self._redraw)
        T.bind(lang=lambda *_: self._redraw())

    def show(self, ticket_id: uuid.UUID, back_to: str) -> None:
        self._back_to = back_to
        self.ids.number.text = ""
        self.presenter.open(ticket_id)
        self.redraw()

    def on_enter(self, *_: Any) -> None:
        if self.presenter.can_enter:
            Clock.schedule_once(lambda _dt: setattr(self.ids.number, "focus", True), 0)

    def entered(self) -> None:
        """Enter in the field (a scanner, or the keyboard): charge, or check again with the same card."""
        if self.presenter.phase == "pending":
            self.check_again()
        else:
            self.charge()

    def charge(self) -> None:
        text, self.ids.number.text = self.ids.number.text, ""
        spawn(self.presenter.charge(text))

    def check_again(self) -> None:
        text, self.ids.number.text = self.ids.number.text, ""
        spawn(self.presenter.check_again(text))

    def release(self) -> None:
        self.presenter.release()

    def back(self) -> None:
        if self.presenter.can_leave:
            self.presenter.close()
            self._go(self._back_to)

    def redraw(self) -> None:
        p = self.presenter
        self.ids.title.text = p.title
        self.ids.amount.text = p.amount
        self.ids.notice.text = p.notice
        self.ids.notice.color = TONES["warn" if p.blocked and p.phase in ("entry", "pending") else p.tone]
        self.ids.number.disabled = not p.can_enter
        self.ids.charge.disabled = not p.can_charge
        self.ids.check_again.disabled = not p.can_check_again
        self.ids.release.disabled = not p.can_release
        self.ids.back.disabled = not p.can_leave
