"""Staff sign-in with staff number and PIN on an enrolled device."""

from __future__ import annotations

from client_common.i18n import tr
from client_common.presenters.observable import Observable
from client_common.presenters.ports import Authenticator, Refused, StaffSession, Unreachable


class SignInPresenter(Observable):
    def __init__(self, auth: Authenticator) -> None:
        super().__init__()
        self._auth = auth
        self.session: StaffSession | None = None
        self.error = ""
        self.busy = False

    async def submit(self, staff_text: str, pin_text: str) -> bool:
        staff, pin = staff_text.strip().upper(), pin_text.strip()
        if not staff or not pin:
            self.error = tr("signin.need_both")
            self.changed()
            return False
        self.busy, self.error = True, ""
        self.changed()
        try:
            self.session = await self._auth.sign_in(staff, pin)
        except Refused as exc:
            self.error = exc.message
        except Unreachable:
            self.error = tr("error.network")
        finally:
            self.busy = False
        self.changed()
        return self.session is not None

    def sign_out(self) -> None:
        self.session = None
        self.error = ""
        self.changed()

    @property
    def greeting(self) -> str:
        return tr("signin.signed_in", name=self.session.name) if self.session else ""
