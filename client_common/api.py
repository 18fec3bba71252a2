"""The small HTTP client both apps use: enrollment, sign-in, catalog pages, batch upload of the outbox.

Every refusal becomes ``ApiError`` carrying the server's error body (stable ``code``, a sentence to
show). A network failure becomes ``ApiError`` with code ``network_unavailable`` so screens can say
"offline" rather than crash.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import msgspec

from protocol.catalog_sync import CatalogPage
from protocol.checkout import CheckoutResult, OneStopRequest
from protocol.errors import ErrorBody
from protocol.identity import DeviceDirectory
from protocol.members import Balances, Member, MemberLookup
from protocol.tickets import BatchResult, CommandBatch

NETWORK_UNAVAILABLE = "network_unavailable"

T = TypeVar("T")

ENROLL = "/devices/enroll"
SIGN_IN = "/auth/sign-in"
PRODUCTS = "/catalog/products"
UPLOAD = "/sync/commands"
MEMBERS_LOOKUP = "/api/members/lookup"
DIRECTORY = "/devices/directory"
ONE_STOP = "/one-stop/checkouts"
ONE_STOP_WAIT_S = 45.0  # the server waits up to its provider timeout (15 s by default) per card

_pages = msgspec.json.Decoder(CatalogPage)
_batch_results = msgspec.json.Decoder(BatchResult)
_errors = msgspec.json.Decoder(ErrorBody)
_members = msgspec.json.Decoder(Member)
_balances = msgspec.json.Decoder(Balances)
_directory = msgspec.json.Decoder(DeviceDirectory)
_checkouts = msgspec.json.Decoder(CheckoutResult)


class ApiError(Exception):
    def __init__(self, body: ErrorBody, status: int = 0) -> None:
        super().__init__(body.message)
        self.body = body
        self.status = status

    @property
    def code(self) -> str:
        return self.body.code


Progress = Callable[[int, int], None]
"""(items loaded so far, items expected in this load)."""


class Api:
    def __init__(
        self,
        base_url: str,
        *,
        device_token: str | None = None,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.device_token = device_token
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self.http.aclose()

    def _device_headers(self) -> dict[str, str]:
        return {"Authorization": f"Device {self.device_token}"} if self.device_token else {}

    async def _call(self, method: str, path: str, **kwargs: Any) -> bytes:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            details: dict[str, Any] = {"reason": str(exc) or type(exc).__name__}
            if not isinstance(exc, httpx.ConnectError):
                details["sent"] = True  # the request may have reached the server (timeout, dropped answer)
            raise ApiError(
                ErrorBody(
                    code=NETWORK_UNAVAILABLE,
                    message="The server cannot be reached; work goes on offline and syncs when it is back.",
                    details=details,
                )
            ) from None
        if response.is_success:
            return response.content
        try:
            body = _errors.decode(response.content)
        except msgspec.MsgspecError:
            body = ErrorBody(
                code="http_" + str(response.status_code), message=f"The server answered {response.status_code}."
            )
        raise ApiError(body, response.status_code)

    # --- identity -----------------------------------------------------------------------------------

    async def enroll(self, code: str, public_key: bytes) -> dict[str, Any]:
        """Send the manager's one-time code and our public key; returns the device identity (with
        ``device_token``, shown once: store it in the device store straight away)."""
        payload = {"code": code.strip(), "public_key": base64.b64encode(public_key).decode()}
        enrolled: dict[str, Any] = msgspec.json.decode(await self._call("POST", ENROLL, json=payload))
        self.device_token = enrolled.get("device_token", self.device_token)
        return enrolled

    async def sign_in(self, staff_code: str, pin: str) -> dict[str, Any]:
        """Staff sign-in with a PIN, bound to this device; returns the session (tokens and staff)."""
        headers = {"X-Device-Token": self.device_token} if self.device_token else {}
        body = await self._call("POST", SIGN_IN, json={"staff_code": staff_code, "pin": pin}, headers=headers)
        session: dict[str, Any] = msgspec.json.decode(body)
        return session

    # --- catalog ------------------------------------------------------------------------------------

    async def catalog_page(self, since: str | None, limit: int = 1000) -> CatalogPage:
        params: dict[str, str | int] = {"limit": limit}
        if since:
            params["since"] = since
        return _pages.decode(await self._call("GET", PRODUCTS, params=params, headers=self._device_headers()))

    async def load_catalog(self, store: Any, progress: Progress | None = None, limit: int = 1000) -> int:
        """Full load on first start, deltas after: pages from the stored cursor until the last one,
        each page written with its cursor in one transaction. Returns the number of items received."""
        since = store.get("catalog_cursor")
        loaded = 0
        expected = 0
        while True:
            page = await self.catalog_page(since, limit)
            if page.remaining:
                # Every page says how many follow from it on (itself included); a product changed
                # during the download comes again at its end, so the figure may grow.
                expected = loaded + page.remaining
            elif not expected:
                expected = page.total or len(page.items)
            store.upsert_catalog(page.items, cursor=page.next_cursor)
            loaded += len(page.items)
            if progress is not None:
                progress(loaded, max(expected, loaded))
            since = page.next_cursor
            if not page.more:
                return loaded

    # --- sync ---------------------------------------------------------------------------------------

    async def upload(self, batch: CommandBatch) -> BatchResult:
        """``POST /sync/commands``: an offline outbox in one request, answered per command."""
        body = await self._call(
            "POST",
            UPLOAD,
            content=msgspec.json.encode(batch),
            headers={**self._device_headers(), "Content-Type": "application/json"},
        )
        return _batch_results.decode(body)

    # --- staff calls (bearer token of the signed-in person) --------------------------------------------

    async def sign_out(self, refresh_token: str) -> None:
        """End a session (e.g. the supervisor's, right after approving a price)."""
        await self._call("POST", "/auth/sign-out", json={"refresh_token": refresh_token})

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Trade the single-use refresh token for a new session."""
        session: dict[str, Any] = msgspec.json.decode(
            await self._call("POST", "/auth/refresh", json={"refresh_token": refresh_token})
        )
        return session

    async def find_member(self, access_token: str, *, phone: str = "", card: str = "", code: str = "") -> Member:
        """``POST /api/members/lookup``: what the customer presents goes in the body, never the address."""
        lookup = MemberLookup(phone=phone or None, card=card or None, code=code or None)
        body = await self._call(
            "POST", MEMBERS_LOOKUP, content=msgspec.json.encode(lookup), headers=_bearer(access_token, json=True)
        )
        return _members.decode(body)

    async def member_balances(self, access_token: str, member_id: uuid.UUID) -> Balances:
        body = await self._call("GET", f"/api/members/{member_id}/balances", headers=_bearer(access_token))
        return _balances.decode(body)

    async def staff_call(
        self,
        access_token: str,
        method: str,
        path: str,
        answer: type[T],
        *,
        body: msgspec.Struct | None = None,
        params: dict[str, str] | None = None,
    ) -> T:
        """Any staff endpoint: ``body`` (a protocol Struct) sent as JSON, the answer decoded as ``answer``."""
        kwargs: dict[str, Any] = {"headers": _bearer(access_token, json=body is not None)}
        if body is not None:
            kwargs["content"] = msgspec.json.encode(body)
        if params:
            kwargs["params"] = params
        return msgspec.json.decode(await self._call(method, path, **kwargs), type=answer)

    # --- device calls ---------------------------------------------------------------------------------

    async def one_stop(self, request: OneStopRequest) -> CheckoutResult:
        """``POST /one-stop/checkouts``: settle this handheld's own ticket with one card or wallet tender.
        Send the same request again after any failure; the card is never charged twice."""
        body = await self._call(
            "POST",
            ONE_STOP,
            content=msgspec.json.encode(request),
            headers={**self._device_headers(), "Content-Type": "application/json"},
            timeout=ONE_STOP_WAIT_S,
        )
        return _checkouts.decode(body)

    async def device_call(self, method: str, path: str, answer: type[T], *, body: msgspec.Struct | None = None) -> T:
        """Any endpoint the device calls with its own token: ``body`` sent as JSON, the answer decoded."""
        headers = self._device_headers()
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["content"] = msgspec.json.encode(body)
            headers["Content-Type"] = "application/json"
        return msgspec.json.decode(await self._call(method, path, headers=headers, **kwargs), type=answer)

    async def directory(self) -> DeviceDirectory:
        """Every active device of this store with its public key (for checking signed QR codes)."""
        return _directory.decode(await self._call("GET", DIRECTORY, headers=self._device_headers()))


def _bearer(token: str, json: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if json:
        headers["Content-Type"] = "application/json"
    return headers
