"""One-stop card payment on the handheld: the customer pays the ticket here by card or wallet code.

The attempt's ids (checkout id, payment id) are made and kept on disk before the first send. When the
answer is unknown — the acquirer has not answered, the request timed out, the connection dropped —
the same attempt is sent again with *Check again*: the server asks the acquirer what happened and
never charges a second time. Only a final answer (paid, declined, refused) ends the attempt; a new
card after a decline is a new attempt with new ids.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from client_common.connection import ConnectionFeed, ConnectionState
from client_common.i18n import translator
from client_common.money_text import fmt
from client_common.presenters.observable import Observable
from client_common.scan import clean_scan
from handheld_app.presenters.ports import CardAttempt, CardOutcome, LocalTicket, OneStop, PayKind, TicketBook
from protocol.ids import new_id

translator.add(
    {
        "en": {
            "onestop.title": "Card payment",
            "onestop.open": "Pay by card",
            "onestop.amount": "To pay {total}",
            "onestop.hint": "Card number or the customer's payment code",
            "onestop.charge": "Charge",
            "onestop.check_again": "Check again",
            "onestop.busy": "Waiting for the bank…",
            "onestop.ready": "Scan or type the card number or the customer's payment code, then tap Charge.",
            "onestop.offline": (
                "Card payment needs the server and this handheld is offline. "
                "The customer can pay at any till with the ticket code."
            ),
            "onestop.not_sent": "This ticket has not reached the server yet; wait a moment, then charge.",
            "onestop.not_open": "{number} is {state}; only an issued ticket can be paid here.",
            "onestop.bad_number": "This is not a valid card number or payment code; check it and enter it again.",
            "onestop.declined": "Declined: {reason}. Ask for another card or payment code.",
            "onestop.unknown": (
                "The bank has not answered yet. Tap Check again in a moment; the customer is never charged twice."
            ),
            "onestop.timeout": (
                "No answer in time; the payment may have gone through. Tap Check again; "
                "the customer is never charged twice."
            ),
            "onestop.lost": (
                "The connection dropped during the payment. When the handheld is online, tap Check again; "
                "the customer is never charged twice."
            ),
            "onestop.same_card": "Present the same {kind} (ending {last4}) again and tap Check again.",
            "onestop.paid": "Paid {total} · {masked} · receipt {receipt_no}. Release the goods.",
            "onestop.released": "Goods released for {number}.",
            "onestop.kind.card": "card",
            "onestop.kind.wallet": "payment code",
            "onestop.decline.insufficient_funds": "insufficient funds",
            "onestop.decline.card_expired": "the card has expired",
            "onestop.decline.do_not_honour": "the bank refused the payment",
            "onestop.decline.invalid_card": "the card number is not valid",
        },
        "zh": {
            "onestop.title": "刷卡付款",
            "onestop.open": "刷卡付款",
            "onestop.amount": "应付 {total}",
            "onestop.hint": "银行卡号或顾客付款码",
            "onestop.charge": "收款",
            "onestop.check_again": "再次查询",
            "onestop.busy": "等待银行应答…",
            "onestop.ready": "扫描或输入银行卡号或顾客付款码，然后点收款。",
            "onestop.offline": "刷卡需要连接服务器，本机目前离线。顾客可凭小票码到任意收银台付款。",
            "onestop.not_sent": "此小票还没到达服务器；请稍候再收款。",
            "onestop.not_open": "{number} 状态为{state}；只有已开单的小票可在此付款。",
            "onestop.bad_number": "这不是有效的银行卡号或付款码；请核对后重新输入。",
            "onestop.declined": "支付被拒：{reason}。请顾客换一张卡或付款码。",
            "onestop.unknown": "银行尚未应答。请稍后点“再次查询”；顾客不会被重复扣款。",
            "onestop.timeout": "应答超时，款项可能已扣。请点“再次查询”；顾客不会被重复扣款。",
            "onestop.lost": "付款时网络中断。恢复联网后点“再次查询”；顾客不会被重复扣款。",
            "onestop.same_card": "请再次出示同一{kind}（尾号 {last4}），然后点“再次查询”。",
            "onestop.paid": "已收款 {total} · {masked} · 凭证 {receipt_no}。请发货。",
            "onestop.released": "{number} 已发货。",
            "onestop.kind.card": "银行卡",
            "onestop.kind.wallet": "付款码",
            "onestop.decline.insufficient_funds": "余额不足",
            "onestop.decline.card_expired": "卡已过期",
            "onestop.decline.do_not_honour": "发卡行拒绝交易",
            "onestop.decline.invalid_card": "卡号无效",
        },
    }
)

# Mobile wallet payment codes are 18 digits: WeChat Pay starts 10–15, Alipay 25–30.
WALLET_PREFIXES = frozenset({*(str(n) for n in range(10, 16)), *(str(n) for n in range(25, 31))})

WAIT_MESSAGES = {"unknown": "onestop.unknown", "timeout": "onestop.timeout", "offline": "onestop.lost"}

Phase = Literal["entry", "busy", "pending", "paid", "released", "closed"]
Tone = Literal["info", "ok", "warn", "error"]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def read_instrument(text: str) -> tuple[PayKind, str] | None:
    """A typed or scanned card number or wallet payment code, or None when it is neither."""
    digits = "".join(ch for ch in clean_scan(text) if ch not in " -")
    if not digits.isdigit():
        return None
    if len(digits) == 18 and digits[:2] in WALLET_PREFIXES:
        return "wallet", digits
    if 12 <= len(digits) <= 19 and luhn_ok(digits):
        return "card", digits
    return None


def decline_text(reason: str) -> str:
    key = f"onestop.decline.{reason}"
    text = translator.tr(key)
    return reason.replace("_", " ") if text == key else text


class CardPayment(Observable):
    """The card payment screen of one ticket."""

    def __init__(self, one_stop: OneStop, book: TicketBook, connection: ConnectionFeed) -> None:
        super().__init__()
        self._one_stop = one_stop
        self._book = book
        self._connection = connection
        self.ticket: LocalTicket | None = None
        self.attempt: CardAttempt | None = None
        self.phase: Phase = "closed"
        self.message = ""
        self.tone: Tone = "info"
        self._token = ""  # the card number or code of the open attempt: memory only, never on disk
        self.sent = 0  # requests sent, for tests and diagnostics
        connection.observe(self._link_changed)
        book.on_change(self._ticket_changed)

    # --- what the screen shows ----------------------------------------------------------------------

    @property
    def online(self) -> bool:
        return self._connection.state.online

    @property
    def title(self) -> str:
        return self.ticket.number if self.ticket else ""

    @property
    def amount(self) -> str:
        return translator.tr("onestop.amount", total=fmt(self.ticket.total)) if self.ticket else ""

    @property
    def blocked(self) -> str:
        """Why no payment can be taken now ("" when it can)."""
        t = self.ticket
        if t is None:
            return ""
        if not self.online:
            return translator.tr("onestop.offline")
        if t.state != "issued" and self.phase not in ("paid", "released"):
            return translator.tr("onestop.not_open", number=t.number, state=translator.tr(f"state.{t.state}"))
        if not t.synced and self.phase == "entry":
            return translator.tr("onestop.not_sent")
        return ""

    @property
    def can_enter(self) -> bool:
        """The card field takes input: a new card, or the same card again for a check after a restart."""
        return self.phase == "entry" or (self.phase == "pending" and not self._token)

    @property
    def can_charge(self) -> bool:
        return self.phase == "entry" and not self.blocked

    @property
    def can_check_again(self) -> bool:
        return self.phase == "pending" and self.online

    @property
    def can_release(self) -> bool:
        return self.phase == "paid"

    @property
    def can_leave(self) -> bool:
        return self.phase != "busy"

    @property
    def notice(self) -> str:
        """The line under the amount: a block reason, else the last message."""
        if self.phase in ("entry", "pending") and self.blocked:
            return self.blocked
        return self.message

    # --- actions ------------------------------------------------------------------------------------

    def open(self, ticket_id: uuid.UUID) -> None:
        self.ticket = self._book.ticket(ticket_id)
        self.attempt = self._one_stop.pending(ticket_id)
        self._token = ""
        if self.ticket is not None and self.ticket.state == "paid" and self.attempt is None:
            self.phase, self.tone, self.message = "paid", "ok", ""
        elif self.attempt is not None:
            self.phase, self.tone = "pending", "warn"
            self.message = self._same_card_text(self.attempt)
        else:
            self.phase, self.tone, self.message = "entry", "info", translator.tr("onestop.ready")
        self.changed()

    def close(self) -> None:
        self.phase, self._token, self.ticket, self.attempt = "closed", "", None, None
        self.changed()

    async def charge(self, text: str) -> CardOutcome | None:
        """Charge the card or code in ``text`` for the ticket's total: a new attempt with new ids."""
        t = self.ticket
        if t is None or self.phase != "entry" or self.blocked:
            return None
        found = read_instrument(text)
        if found is None:
            self._say("onestop.bad_number", "error")
            return None
        kind, number = found
        attempt = CardAttempt(
            checkout_id=new_id(), tender_id=new_id(), ticket_id=t.id, kind=kind, amount=t.total, last4=number[-4:]
        )
        self._one_stop.keep(attempt)  # on disk before the first send
        self.attempt, self._token = attempt, number
        return await self._send()

    async def check_again(self, text: str = "") -> CardOutcome | None:
        """Send the open attempt again, unchanged: the server asks the acquirer, never charges twice."""
        if self.phase != "pending" or self.attempt is None or not self.online:
            return None
        if not self._token:
            found = read_instrument(text)
            if found is None or found[0] != self.attempt.kind or found[1][-4:] != self.attempt.last4:
                self._say_text(self._same_card_text(self.attempt), "warn")
                return None
            self._token = found[1]
        return await self._send()

    def release(self) -> bool:
        t = self.ticket
        if t is None or self.phase != "paid":
            return False
        self._book.release(t.id)
        self.phase = "released"
        self._say("onestop.released", "ok", number=t.number)
        return True

    # --- the answer ---------------------------------------------------------------------------------

    async def _send(self) -> CardOutcome:
        attempt = self.attempt
        assert attempt is not None
        self.phase, self.tone, self.message = "busy", "info", translator.tr("onestop.busy")
        self.changed()
        self.sent += 1
        outcome = await self._one_stop.pay(attempt, self._token)
        if outcome.state in ("paid", "declined", "refused"):
            self._one_stop.forget(attempt.ticket_id)
            self._token = ""
        match outcome.state:
            case "paid":
                self.phase = "paid"
                total = fmt(self.ticket.total if self.ticket else attempt.amount)
                masked = outcome.masked or f"**** {attempt.last4}"
                self._say("onestop.paid", "ok", total=total, masked=masked, receipt_no=outcome.receipt_no)
            case "declined":
                self.phase, self.attempt = "entry", None
                self._say("onestop.declined", "error", reason=decline_text(outcome.reason))
            case "refused":
                self.phase, self.attempt = "entry", None
                self._say_text(outcome.message, "error")
            case "unknown" | "timeout" | "offline":
                self.phase = "pending"
                self._say(WAIT_MESSAGES[outcome.state], "warn")
        return outcome

    def _same_card_text(self, attempt: CardAttempt) -> str:
        kind = translator.tr(f"onestop.kind.{attempt.kind}")
        return translator.tr("onestop.same_card", kind=kind, last4=attempt.last4)

    def _say(self, key: str, tone: Tone, **values: Any) -> None:
        self._say_text(translator.tr(key, **values), tone)

    def _say_text(self, text: str, tone: Tone) -> None:
        self.message, self.tone = text, tone
        self.changed()

    def _link_changed(self, _state: ConnectionState) -> None:
        if self.phase != "closed":
            self.changed()

    def _ticket_changed(self) -> None:
        if self.ticket is not None and self.phase != "closed":
            self.ticket = self._book.ticket(self.ticket.id) or self.ticket
            self.changed()
