"""Issues tickets into a device store as fast as it can, printing each id once its transaction is
committed. The kill test SIGKILLs it at an arbitrary moment."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from client_common.store import DeviceStore
from protocol.ids import new_id
from protocol.tickets import TicketDraft, TicketLine

STORE = uuid.UUID(int=1)
DEVICE = uuid.UUID(int=2)


def draft() -> TicketDraft:
    line = TicketLine(
        line_no=1,
        product_id=STORE,
        sku="K1",
        name="kettle",
        qty=1,
        list_price=14900,
        unit_price=14900,
        line_total=14900,
    )
    ticket_id = new_id()
    return TicketDraft(id=ticket_id, store_id=STORE, counter_id=STORE, number=str(ticket_id), lines=[line], total=14900)


def main() -> None:
    store = DeviceStore(Path(sys.argv[1]))
    print("ready", flush=True)
    while True:
        command = store.issue(draft(), device_id=DEVICE, made_at_ms=0)
        print(command.command_id, flush=True)


if __name__ == "__main__":
    main()
