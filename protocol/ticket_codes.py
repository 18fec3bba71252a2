"""Stable error codes and websocket close codes of tickets, commands and the event stream.

Clients branch on these; never rename one, add new ones.
"""

from __future__ import annotations


class TicketCodes:
    """Refusals of a ticket or a change to it."""

    WRONG_STATE = "ticket_wrong_state"  # details: state (current), wanted (the transition asked for)
    TOTALS_MISMATCH = "ticket_totals_mismatch"  # details: line_no (or field "total"), expected, given
    DUPLICATE_LINE = "ticket_duplicate_line"  # details: line_no
    EMPTY = "ticket_empty"
    NUMBER_TAKEN = "ticket_number_taken"  # details: number
    ID_REUSED = "ticket_id_reused"  # details: field (first differing field of the earlier ticket)
    PRODUCT_MISMATCH = "ticket_product_mismatch"  # details: line_no, field (sku | counter_id | active)
    CURRENCY_MISMATCH = "ticket_currency_mismatch"  # details: currency, store_currency
    MEMBER_ALREADY_ATTACHED = "ticket_member_already_attached"  # details: member_id


class CommandCodes:
    """Refusals of a command as a whole (before its effect is tried)."""

    ID_REUSED = "command_id_reused"  # details: field (first differing field), command_id
    SEQ_REUSED = "device_seq_reused"  # details: device_seq, command_id (the command that holds it)
    BATCH_TOO_LARGE = "batch_too_large"  # details: max, given
    FAILED = "command_failed"  # the server could not apply it now; send it again later (not stored)
    UNSTORABLE = "command_unstorable"  # the database can never store it (details: sqlstate); make a new one


class StreamCodes:
    """Error frames of the websocket stream."""

    HELLO_EXPECTED = "hello_expected"
    FRAME_TOO_LARGE = "frame_too_large"  # details: max, given
    POSITION_AHEAD = "position_ahead"  # details: last_position, server_position
    ACK_AHEAD = "ack_ahead"  # details: position, sent_position
    TOO_SLOW = "too_slow"  # details: queue_size


class CloseCodes:
    """Websocket close codes the server uses (4000-4999 is the application range)."""

    UNAUTHENTICATED = 4001  # bad or revoked device token: enroll again
    UNSUPPORTED_VERSION = 4002  # update the app
    HELLO_EXPECTED = 4003  # the first frame must be Hello
    TOO_SLOW = 4008  # the client did not read fast enough: reconnect with its last position
    IDLE = 4009  # nothing heard for too long (no Ping/Pong): reconnect
    SERVICE_RESTART = 1012  # sent when the server process stops: reconnect (to any process)
