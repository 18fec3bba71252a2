"""``/auth``: sign in, refresh, sign out, who am I."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import HeaderParameter, JSONBody

from protocol.identity import Me, RefreshRequest, Session, SignIn, SignOut
from server.auth import service
from server.auth.guards import FLOOR
from server.deps import CallerDep, Conn


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]  # noqa: RUF012

    @post("/sign-in", operation_id="signIn", opt={"public": True}, status_code=200)
    async def sign_in(
        self,
        conn: Conn,
        state: State,
        data: JSONBody[SignIn],
        device_token: Annotated[
            str | None,
            HeaderParameter(name="x-device-token", required=False, description="bind the session to this device"),
        ] = None,
    ) -> Session:
        return await service.sign_in(conn, state.settings, data, device_token)

    @post("/refresh", operation_id="refreshSession", opt={"public": True}, status_code=200)
    async def refresh(self, conn: Conn, state: State, data: JSONBody[RefreshRequest]) -> Session:
        return await service.refresh(conn, state.settings, data.refresh_token)

    @post("/sign-out", operation_id="signOut", opt={"public": True}, status_code=204)
    async def sign_out(self, conn: Conn, data: JSONBody[SignOut]) -> None:
        await service.sign_out(conn, data.refresh_token)

    @get("/me", operation_id="me", opt={"roles": FLOOR})
    async def me(self, conn: Conn, caller: CallerDep) -> Me:
        return await service.me(conn, caller)
