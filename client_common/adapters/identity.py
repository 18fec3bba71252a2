"""Who this device is (kept in the device store) and the enrollment that makes it so; a handheld and a
till differ only in the kind of enrollment code they accept."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec

from client_common import prefs
from client_common.api import NETWORK_UNAVAILABLE, Api, ApiError
from client_common.device_keys import DeviceKeys
from client_common.presenters.ports import EnrolledDevice, Refused, Unreachable
from client_common.store import DeviceStore

IDENTITY = "device_identity"
PREFS_FILE = "prefs.json"


class DeviceIdentity(msgspec.Struct, kw_only=True, frozen=True):
    device_id: uuid.UUID
    store_id: uuid.UUID
    store_code: str
    counter_id: uuid.UUID | None
    label: str
    kind: str
    device_token: str
    server_url: str
    counter_code: str = ""  # e.g. C-APL; empty when enrolled with an older server
    device_code: str = ""  # e.g. H1


def port_error(exc: ApiError) -> Exception:
    """An API failure as the presenters know it: no answer, or the server's refusal with its sentence."""
    if exc.code == NETWORK_UNAVAILABLE:
        return Unreachable(exc.body.message)
    return Refused(exc.code, exc.body.message, exc.body.details)


class Device:
    """The device's store, keys and identity, and the server address it talks to.

    ``timeout`` is how long one HTTP call waits for the server's answer before it counts as unreachable.
    """

    def __init__(self, data_dir: Path, store: DeviceStore, timeout: float = 15.0) -> None:
        self.data_dir = data_dir
        self.store = store
        self.timeout = timeout
        raw = store.get(IDENTITY)
        self._identity = None if raw is None else msgspec.convert(raw, DeviceIdentity)
        self._keys: DeviceKeys | None = None

    @property
    def identity(self) -> DeviceIdentity | None:
        return self._identity

    def keep(self, identity: DeviceIdentity) -> None:
        self.store.set(IDENTITY, msgspec.to_builtins(identity))
        self._identity = identity

    def keys(self) -> DeviceKeys:
        if self._keys is None:
            self._keys = DeviceKeys.load(self.data_dir)
        if self._keys is None:
            raise RuntimeError("this device has no key pair; enroll it first")
        return self._keys

    @property
    def server_url(self) -> str:
        """The address in Settings once someone saved one, else the one the device enrolled with."""
        if (self.data_dir / PREFS_FILE).exists():
            return prefs.load(self.data_dir / PREFS_FILE).server_url
        identity = self.identity
        return identity.server_url if identity else prefs.DEFAULT_SERVER

    def api(self, server_url: str | None = None) -> Api:
        identity = self.identity
        return Api(
            server_url or self.server_url,
            device_token=identity.device_token if identity else None,
            timeout=self.timeout,
        )


def enrolled_device(identity: DeviceIdentity) -> EnrolledDevice:
    return EnrolledDevice(
        device_id=identity.device_id,
        store_id=identity.store_id,
        label=identity.label,
        counter_id=identity.counter_id,
        store_code=identity.store_code,
        counter_code=identity.counter_code,
    )


WRONG_KIND = {
    "handheld": "This code enrolls a till, not a handheld; ask a manager for a handheld's code.",
    "till": "This code enrolls a handheld, not a till; ask a manager for a till's code.",
}


class Enrollment:
    """``Enroller``: the device makes its key pair once (kept across retries) and redeems the code.

    ``kind`` is what this app is (``handheld`` or ``till``); a code for the other kind is refused before
    anything is kept."""

    def __init__(self, device: Device, kind: str = "handheld") -> None:
        self._device = device
        self._kind = kind

    def enrolled(self) -> EnrolledDevice | None:
        identity = self._device.identity
        return None if identity is None else enrolled_device(identity)

    async def enroll(self, server_url: str, code: str) -> EnrolledDevice:
        keys = DeviceKeys.load(self._device.data_dir) or DeviceKeys.create(self._device.data_dir)
        api = Api(server_url)
        try:
            answer = await api.enroll(code, keys.public_key)
        except ApiError as exc:
            raise port_error(exc) from None
        finally:
            await api.aclose()
        if answer.get("kind") != self._kind:
            raise Refused("wrong_device_kind", WRONG_KIND.get(self._kind, "This code is for another kind of device."))
        identity = DeviceIdentity(
            device_id=uuid.UUID(answer["device_id"]),
            store_id=uuid.UUID(answer["store_id"]),
            store_code=answer.get("store_code", ""),
            counter_id=uuid.UUID(answer["counter_id"]) if answer.get("counter_id") else None,
            label=answer.get("label", ""),
            kind=answer["kind"],
            device_token=answer["device_token"],
            server_url=server_url,
            counter_code=answer.get("counter_code") or "",
            device_code=answer.get("device_code") or "",
        )
        self._device.keep(identity)
        return enrolled_device(identity)
