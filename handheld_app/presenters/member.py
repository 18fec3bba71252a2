"""Attach a member to the ticket: scan the member's code or type the phone number."""

from __future__ import annotations

from client_common.i18n import translator
from client_common.presenters.observable import Observable
from client_common.presenters.ports import Refused, Unreachable
from client_common.scan import clean_scan
from handheld_app.presenters.ports import MemberCard, Members

translator.add(
    {
        "en": {
            "member.title": "Member",
            "member.hint": "Scan member code or type phone",
            "member.find": "Find",
            "member.attach": "Attach to ticket",
            "member.detach": "Remove member",
            "member.none": "No member found for “{text}”.",
            "member.card": "{name}  {phone}\n{tier} · {points} points",
            "member.offline": "Members need the server; issue the ticket now and attach the member later.",
        },
        "zh": {
            "member.title": "会员",
            "member.hint": "扫会员码或输入手机号",
            "member.find": "查找",
            "member.attach": "关联到小票",
            "member.detach": "取消会员",
            "member.none": "没有找到“{text}”对应的会员。",
            "member.card": "{name}  {phone}\n{tier} · {points} 积分",
            "member.offline": "查询会员需要联网；可先开单，之后再关联会员。",
        },
    }
)


class MemberPresenter(Observable):
    def __init__(self, members: Members) -> None:
        super().__init__()
        self._members = members
        self.found: MemberCard | None = None
        self.message = ""
        self.busy = False

    async def lookup(self, text: str) -> MemberCard | None:
        query = clean_scan(text)
        if not query:
            return None
        self.busy, self.found, self.message = True, None, ""
        self.changed()
        try:
            self.found = await self._members.find(query)
            if self.found is None:
                self.message = translator.tr("member.none", text=query)
        except Refused as exc:
            self.message = exc.message
        except Unreachable:
            self.message = translator.tr("member.offline")
        finally:
            self.busy = False
        self.changed()
        return self.found

    @staticmethod
    def card_text(card: MemberCard) -> str:
        return translator.tr("member.card", name=card.name, phone=card.phone_masked, tier=card.tier, points=card.points)
