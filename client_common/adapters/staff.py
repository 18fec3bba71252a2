"""Staff sign-in (PIN, bound to this device), supervisor approval, and staff calls with the signed-in
person's token, refreshed when it runs out (a shift is longer than an access token)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from client_common.adapters.identity import Device, port_error
from client_common.api import Api, ApiError
from client_common.presenters.ports import Refused, StaffSession

T = TypeVar("T")


@dataclass
class Tokens:
    access: str
    refresh: str


def _session(answer: dict[str, Any]) -> tuple[StaffSession, Tokens]:
    staff = answer["staff"]
    session = StaffSession(
        staff_id=uuid.UUID(staff["staff_id"]),
        name=staff["name"],
        role=staff["role"],
        store_id=uuid.UUID(staff["store_id"]),
    )
    return session, Tokens(answer["access_token"], answer["refresh_token"])


class StaffAuth:
    """``Authenticator`` over ``/auth``: the session's tokens stay here, never in a presenter."""

    def __init__(self, device: Device) -> None:
        self._device = device
        self.session: StaffSession | None = None
        self._tokens: Tokens | None = None

    async def _with_api(self, call: Callable[[Api], Awaitable[T]]) -> T:
        api = self._device.api()
        try:
            return await call(api)
        except ApiError as exc:
            raise port_error(exc) from None
        finally:
            await api.aclose()

    async def sign_in(self, staff_code: str, pin: str) -> StaffSession:
        answer = await self._with_api(lambda api: api.sign_in(staff_code, pin))
        self.session, self._tokens = _session(answer)
        return self.session

    async def check_supervisor(self, staff_code: str, pin: str) -> StaffSession:
        """Sign the supervisor in to prove the PIN, then end that session at once."""

        async def approve(api: Api) -> StaffSession:
            who, tokens = _session(await api.sign_in(staff_code, pin))
            with contextlib.suppress(ApiError):  # else the short session expires by itself
                await api.sign_out(tokens.refresh)
            return who

        return await self._with_api(approve)

    def sign_out(self) -> None:
        self.session, self._tokens = None, None

    async def authorised(self, call: Callable[[Api, str], Awaitable[T]]) -> T:
        """Run a staff call with the access token; on 401 refresh once and try again."""
        if self._tokens is None:
            raise Refused("unauthenticated", "Sign in first.")

        async def attempt(api: Api) -> T:
            assert self._tokens is not None
            try:
                return await call(api, self._tokens.access)
            except ApiError as exc:
                if exc.status != 401:
                    raise
            _, self._tokens = _session(await api.refresh(self._tokens.refresh))
            return await call(api, self._tokens.access)

        return await self._with_api(attempt)
