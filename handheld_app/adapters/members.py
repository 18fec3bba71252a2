"""Member lookup on the handheld, with the signed-in person's token (``client_common.adapters.staff``)."""

from __future__ import annotations

import uuid

from client_common.adapters.staff import StaffAuth
from client_common.api import Api
from client_common.presenters.ports import Refused
from handheld_app.presenters.ports import MemberCard
from protocol.members import Balances, Member, MemberCodes


class ServerMembers:
    """``Members`` over ``/api/members``: phone numbers look up by phone, anything else as a member code
    and then as a card number. Remembers the masked names it showed, for the ticket list."""

    def __init__(self, auth: StaffAuth) -> None:
        self._auth = auth
        self.names: dict[uuid.UUID, str] = {}

    async def find(self, code_or_phone: str) -> MemberCard | None:
        text = code_or_phone.strip()
        tries = [{"phone": text}] if text.isdigit() and len(text) == 11 else [{"code": text}, {"card": text}]
        for presented in tries:

            async def lookup(api: Api, token: str, kw: dict[str, str] = presented) -> Member:
                return await api.find_member(token, **kw)

            try:
                member = await self._auth.authorised(lookup)
            except Refused as exc:
                if exc.code == MemberCodes.MEMBER_NOT_FOUND:
                    continue
                raise
            self.names[member.id] = member.name
            return MemberCard(
                member_id=member.id,
                name=member.name,
                phone_masked=member.phone_masked,
                tier=member.tier or "",
                points=await self._points(member.id),
            )
        return None

    async def _points(self, member_id: uuid.UUID) -> int:
        async def balances(api: Api, token: str) -> Balances:
            return await api.member_balances(token, member_id)

        try:
            return (await self._auth.authorised(balances)).points
        except Refused:
            return 0  # balances need a till role on older servers; the member can still be attached
