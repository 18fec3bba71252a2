"""Enrollment: the device redeems a manager's one-time code once and keeps its identity."""

from __future__ import annotations

from client_common.i18n import tr
from client_common.prefs import normalise_server_url
from client_common.presenters.observable import Observable
from client_common.presenters.ports import EnrolledDevice, Enroller, Refused, Unreachable


class EnrollmentPresenter(Observable):
    def __init__(self, enroller: Enroller, server_url: str) -> None:
        super().__init__()
        self._enroller = enroller
        self.server_url = server_url
        self.error = ""
        self.busy = False
        self.device: EnrolledDevice | None = enroller.enrolled()

    @property
    def enrolled(self) -> bool:
        return self.device is not None

    async def submit(self, server_text: str, code_text: str) -> bool:
        """Redeem the code; on success ``device`` is set and the server address is kept."""
        server = normalise_server_url(server_text)
        code = code_text.strip().replace(" ", "").replace("-", "").upper()
        if server is None:
            return self._fail(tr("enroll.bad_server"))
        if not code:
            return self._fail(tr("enroll.need_code"))
        self.busy, self.error = True, ""
        self.changed()
        try:
            self.device = await self._enroller.enroll(server, code)
        except Refused as exc:
            return self._fail(exc.message)
        except Unreachable:
            return self._fail(tr("error.network"))
        finally:
            self.busy = False
        self.server_url = server
        self.changed()
        return True

    def _fail(self, message: str) -> bool:
        self.error = message
        self.changed()
        return False
