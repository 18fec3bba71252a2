"""``ExceptionQueue`` over ``POST /exceptions/queries`` and ``POST /exceptions/{id}/resolve``, with the
signed-in cashier's token and the supervisor's staff code and PIN in each request (as refunds approve)."""

from __future__ import annotations

import uuid
from typing import get_args

from cashier_app.adapters.server import StaffCalls
from cashier_app.presenters.ports import Approval
from protocol.checkout import SupervisorApproval
from protocol.exceptions import ExceptionKind, ExceptionList, ExceptionQuery, ResolveException, StoreException

MAX_SHOWN = 200
KINDS = list(get_args(ExceptionKind))  # every kind this till can decode and show


def _approval(approval: Approval) -> SupervisorApproval:
    return SupervisorApproval(staff_code=approval.staff_code, pin=approval.pin)


class ServerExceptions(StaffCalls):
    async def open_exceptions(self, approval: Approval) -> list[StoreException]:
        query = ExceptionQuery(status="open", limit=MAX_SHOWN, approval=_approval(approval), kinds=KINDS)
        found = await self.call("POST", "/exceptions/queries", ExceptionList, body=query)
        return found.exceptions

    async def resolve(self, exception_id: uuid.UUID, note: str, approval: Approval) -> StoreException:
        body = ResolveException(note=note, approval=_approval(approval))
        return await self.call("POST", f"/exceptions/{exception_id}/resolve", StoreException, body=body)
