"""The payment-provider interface: what the server needs from an acquirer or wallet gateway.

Every call carries an idempotency key. ``charge`` is a sale (authorisation and capture together).
A charge can end three ways for the caller: approved, declined (with a reason), or unknown (the
provider answered "unknown", or no answer came in time). Unknown is resolved with ``query`` and
never by charging again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

ChargeOutcome = Literal["approved", "declined", "unknown"]
QueryOutcome = Literal["approved", "declined", "processing", "not_found"]
RefundOutcome = Literal["approved", "declined", "unknown"]


class ProviderTimeout(Exception):
    """No answer in time: the provider may or may not have acted."""


class ProviderUnavailable(Exception):
    """The request certainly did not reach the provider (connection refused before sending)."""


@dataclass(frozen=True)
class Instrument:
    """What the customer presented, held in memory for one call and never stored.

    ``number`` is the card number read by the terminal or the wallet payment code.
    """

    tender: Literal["card", "wallet"]
    number: str

    @property
    def last4(self) -> str:
        return self.number[-4:]

    def __repr__(self) -> str:  # keep numbers out of logs and tracebacks
        return f"Instrument({self.tender}, ****{self.last4})"


@dataclass(frozen=True)
class ChargeResult:
    outcome: ChargeOutcome
    ref: str | None = None  # the provider's reference for the charge
    token: str | None = None  # the provider's token for the card or wallet
    last4: str | None = None
    decline_reason: str | None = None


@dataclass(frozen=True)
class QueryResult:
    outcome: QueryOutcome
    amount: int | None = None
    ref: str | None = None
    token: str | None = None
    last4: str | None = None
    decline_reason: str | None = None


@dataclass(frozen=True)
class RefundResult:
    outcome: RefundOutcome
    ref: str | None = None
    decline_reason: str | None = None


@runtime_checkable
class PaymentProvider(Protocol):
    """An acquirer or wallet gateway. Implementations must honour idempotency keys."""

    name: str

    async def charge(self, *, key: str, amount: int, currency: str, instrument: Instrument) -> ChargeResult:
        """Take ``amount`` from the instrument. May raise ``ProviderTimeout``/``ProviderUnavailable``."""
        ...

    async def query(self, key: str) -> QueryResult:
        """What really became of the charge made with ``key`` (``not_found`` if none reached us)."""
        ...

    async def refund(self, *, key: str, charge_key: str, amount: int) -> RefundResult:
        """Give back ``amount`` of the charge ``charge_key``; ``key`` makes the refund idempotent."""
        ...
