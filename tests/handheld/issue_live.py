"""A handheld without its window: the real wiring, signed in, syncing, issuing tickets through the
ticket builder as fast as it can and printing each id once ``issue`` has returned. The kill test
SIGKILLs it at an arbitrary moment.

Usage: python tests/handheld/issue_live.py DATA_DIR   (the device in DATA_DIR is already enrolled)
"""

from __future__ import annotations

import asyncio
import sys

from client_common.transport import Backoff
from handheld_app.presenters.ticket_builder import TicketBuilder
from handheld_app.services import device_context
from handheld_app.wiring import build


async def main() -> None:
    hh = build(sys.argv[1], backoff=lambda: Backoff(base=0.05, cap=0.3))
    s = hh.services
    me = s.enroller.enrolled()
    assert me is not None
    session = await s.auth.sign_in("S001", "1111")
    await s.start_sync(session)
    async with asyncio.timeout(10):
        while hh.sync.catalog.loads < 1:
            await asyncio.sleep(0.02)
    item = s.catalog.by_code("6901234500011")
    assert item is not None
    builder = TicketBuilder(s.book, s.auth, device_context(me))
    builder.staff = session
    print("ready", flush=True)
    while True:
        builder.add(item)
        ticket = builder.issue()
        assert ticket is not None
        print("issued", ticket.id, flush=True)
        await asyncio.sleep(0.005)  # let the transport send while we keep issuing


if __name__ == "__main__":
    asyncio.run(main())
