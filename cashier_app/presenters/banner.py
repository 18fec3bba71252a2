"""The till's offline banner: what still works and what waits for the network."""

from __future__ import annotations

from client_common.connection import ConnectionState
from client_common.i18n import translator

translator.add(
    {
        "en": {
            "till.offline": (
                "OFFLINE · Cash for tickets scanned from their QR codes only. "
                "Card, wallet, balances, refunds and top-ups wait for the network."
            ),
        },
        "zh": {
            "till.offline": "离线 · 仅可用现金结算扫码加入的小票。银行卡、移动支付、余额、退款和充值需等待网络恢复。",
        },
    }
)


def offline_banner(state: ConnectionState) -> str:
    """The banner text ("" when online or still connecting)."""
    return translator.tr("till.offline") if state.link == "offline" else ""
