"""The till's offline banner: what still works and what waits for the network."""

from __future__ import annotations

from client_common.connection import ConnectionState
from client_common.i18n import translator

translator.add(
    {
        "en": {
            "till.offline": (
                "OFFLINE · Tickets scanned from their QR codes only: cash, card on the card terminal "
                "(key in its approval code), and balances within the allowances reserved online. "
                "Wallet, refunds and top-ups wait for the network."
            ),
        },
        "zh": {
            "till.offline": (
                "离线 · 仅可结算扫码加入的小票：现金、在刷卡机上刷卡（输入授权码），"
                "以及联网时预留额度内的会员余额。移动支付、退款和充值需等待网络恢复。"
            ),
        },
    }
)


def offline_banner(state: ConnectionState) -> str:
    """The banner text ("" when online or still connecting)."""
    return translator.tr("till.offline") if state.link == "offline" else ""
