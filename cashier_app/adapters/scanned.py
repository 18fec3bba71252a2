"""Uploading a ticket the till read from its QR code, as the issuing handheld's own command.

The QR carries the exact ``IssueTicket`` the handheld signed (same command id, same sequence number), so
the server applies it once whoever sends it first: the handheld's later upload, or the till's, is a replay
(``server.sync.scanned``). The till does this before it settles a ticket the server may not know yet.
"""

from __future__ import annotations

import msgspec

from client_common.adapters.identity import Device, port_error
from client_common.api import ApiError
from client_common.presenters.ports import Refused
from protocol.qr import PublicKeys, QrRefused, verify_ticket
from protocol.tickets import CommandBatch, IssueTicket, Ticket

UPLOADED = ("applied", "replayed")


def command_of(qr: str, keys: PublicKeys) -> IssueTicket:
    """The issue command a ticket QR carries, checked against the handheld keys this till holds."""
    try:
        return verify_ticket(qr, keys).command
    except QrRefused as exc:
        raise Refused(exc.code, exc.body.message) from None


async def upload(device: Device, keys: PublicKeys, qrs: list[str]) -> list[Ticket]:
    """Send the tickets behind ``qrs`` to the server; the tickets as the server holds them, in order.

    ``Refused`` with the server's reason when it refuses one (altered code, unknown handheld, bad totals);
    ``Unreachable`` when there is no answer.
    """
    commands = [msgspec.structs.replace(command_of(qr, keys), scanned_qr=qr) for qr in qrs]
    api = device.api()
    try:
        result = await api.upload(CommandBatch(commands=list(commands)))
    except ApiError as exc:
        raise port_error(exc) from None
    finally:
        await api.aclose()
    tickets = []
    for answer in result.results:
        if answer.status not in UPLOADED or answer.ticket is None:
            error = answer.error
            raise Refused(error.code if error else "ticket_refused", error.message if error else "Ticket refused.")
        tickets.append(answer.ticket)
    return tickets
