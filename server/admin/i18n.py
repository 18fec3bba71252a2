"""The admin pages' words in English and Chinese. Templates and the pages' scripts share this table."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"

# key, English, 中文
_WORDS: list[tuple[str, str, str]] = [
    # frame
    ("app_name", "floorticket admin", "电子小票 管理后台"),
    ("lang_switch", "中文", "English"),
    ("sign_out", "Sign out", "退出登录"),
    ("loading", "Loading…", "加载中…"),
    ("refresh", "Refresh", "刷新"),
    ("save", "Save", "保存"),
    ("cancel", "Cancel", "取消"),
    ("edit", "Edit", "编辑"),
    ("add", "Add", "添加"),
    ("search", "Search", "搜索"),
    ("actions", "Actions", "操作"),
    ("yes", "Yes", "是"),
    ("no", "No", "否"),
    ("none", "None", "无"),
    ("saved", "Saved.", "已保存。"),
    ("confirm", "Are you sure?", "确定吗？"),
    ("error", "Error", "错误"),
    ("no_rows", "Nothing to show.", "暂无数据。"),
    ("table", "Table", "表格"),
    ("chart", "Chart", "图表"),
    ("not_manager", "The admin pages are for managers and administrators.", "管理后台仅限店长和管理员使用。"),
    ("session_over", "Your session has ended; sign in again.", "登录已过期，请重新登录。"),
    ("network_down", "The server cannot be reached; check the connection.", "无法连接服务器，请检查网络。"),
    # navigation
    ("nav_dashboard", "Dashboard", "概览"),
    ("nav_catalog", "Catalog", "商品"),
    ("nav_staff", "Staff", "员工"),
    ("nav_devices", "Devices", "设备"),
    ("nav_loyalty", "Loyalty rules", "积分规则"),
    ("nav_exceptions", "Exceptions", "异常队列"),
    ("nav_reports", "Reports", "报表"),
    ("nav_segments", "Segments", "客群"),
    ("nav_tasks", "Service tasks", "服务任务"),
    # sign-in
    ("signin_title", "Sign in", "登录"),
    (
        "signin_lead",
        "Managers and administrators sign in with their staff code and password.",
        "店长和管理员请使用员工编号和密码登录。",
    ),
    ("staff_code", "Staff code", "员工编号"),
    ("password", "Password", "密码"),
    ("signin_button", "Sign in", "登录"),
    # dashboard
    ("dashboard_title", "Today at a glance", "今日概览"),
    ("business_day", "Business day", "营业日"),
    ("net_sales", "Net sales", "净销售额"),
    ("sales", "Sales", "销售额"),
    ("refunds", "Refunds", "退款"),
    ("checkouts", "Checkouts", "结账笔数"),
    ("average_checkout", "Average checkout", "客单价"),
    ("tickets_paid", "Tickets paid", "已付小票"),
    ("tickets_issued", "Tickets issued", "开单数"),
    ("open_tickets", "Open tickets", "待付小票"),
    ("unresolved_payments", "Unresolved payments", "待确认支付"),
    ("sales_by_hour", "Sales by hour", "分时段销售"),
    ("sales_by_counter", "Sales by counter", "专柜销售"),
    ("sync_health", "Device sync health", "设备同步状态"),
    ("open_tickets_list", "Open tickets, newest first", "待付小票（最新在前）"),
    ("hour", "Hour", "时段"),
    ("counter", "Counter", "专柜"),
    ("tickets", "Tickets", "小票数"),
    ("device", "Device", "设备"),
    ("kind", "Kind", "类型"),
    ("state", "State", "状态"),
    ("health", "Health", "健康"),
    ("last_seen", "Last seen", "最后在线"),
    ("last_command", "Last command", "最后指令"),
    ("last_applied_seq", "Last applied no.", "已应用序号"),
    ("commands_applied", "Applied", "已应用"),
    ("dead_letters", "Dead letters (24 h)", "拒收指令（24小时）"),
    ("events_behind", "Events not acknowledged", "未确认事件"),
    ("health_ok", "OK", "正常"),
    ("health_stale", "Not seen lately", "长时间未在线"),
    ("health_never_seen", "Never seen", "从未上线"),
    ("health_rejects", "Refused commands", "有被拒指令"),
    ("health_pending", "Waiting for enrollment", "待激活"),
    ("health_revoked", "Revoked", "已吊销"),
    ("number", "Number", "编号"),
    ("total", "Total", "金额"),
    ("issued_at", "Issued", "开单时间"),
    ("member", "Member", "会员"),
    # catalog
    ("catalog_title", "Catalog", "商品目录"),
    ("catalog_search_hint", "SKU, barcode or part of a name", "货号、条码或名称"),
    ("sku", "SKU", "货号"),
    ("barcode", "Barcode", "条码"),
    ("name", "Name", "名称"),
    ("category", "Category", "品类"),
    ("brand", "Brand", "品牌"),
    ("list_price", "List price", "标价"),
    ("promo_price", "Promotion price", "促销价"),
    ("cost", "Cost", "成本"),
    ("margin", "Margin", "毛利率"),
    ("active", "Active", "启用"),
    (
        "price_hint",
        "Yuan, e.g. 1299.00; leave the promotion price empty for none",
        "单位元，如 1299.00；促销价留空表示无促销",
    ),
    ("products_shown", "products shown", "个商品"),
    ("more_results", "More match; narrow the search.", "还有更多结果，请缩小搜索范围。"),
    ("bad_amount", "Enter an amount in yuan, e.g. 12.50.", "请输入金额（元），如 12.50。"),
    # staff
    ("staff_title", "Staff", "员工管理"),
    ("new_staff", "New staff member", "新增员工"),
    ("role", "Role", "角色"),
    ("pin", "PIN", "PIN 码"),
    ("locked", "Locked", "已锁定"),
    ("deactivate", "Deactivate", "停用"),
    ("unlock", "Unlock", "解锁"),
    ("set_credentials", "New PIN / password", "重设 PIN/密码"),
    ("role_sales", "Sales", "导购"),
    ("role_cashier", "Cashier", "收银员"),
    ("role_supervisor", "Supervisor", "主管"),
    ("role_manager", "Manager", "店长"),
    ("role_admin", "Administrator", "管理员"),
    (
        "staff_hint",
        "Floor and till roles need a PIN (4-8 digits); managers a password (8+ characters).",
        "导购、收银和主管需要 PIN（4-8 位数字）；店长需要密码（至少 8 位）。",
    ),
    # devices
    ("devices_title", "Devices", "设备管理"),
    ("new_device", "New device", "新增设备"),
    ("label", "Label", "名称"),
    ("handheld", "Handheld", "手持终端"),
    ("till", "Till", "收银台"),
    ("enrolled_at", "Enrolled", "激活时间"),
    ("enrollment_code", "Enrollment code", "激活码"),
    (
        "enrollment_once",
        "Shown once: enter it on the device before it expires.",
        "仅显示一次：请在过期前在设备上输入。",
    ),
    ("expires", "Expires", "过期时间"),
    ("new_code", "New code", "新激活码"),
    ("revoke", "Revoke", "吊销"),
    (
        "revoke_confirm",
        "Revoke this device? It is refused on its next request.",
        "确定吊销该设备？其下一次请求将被拒绝。",
    ),
    ("state_pending", "Pending", "待激活"),
    ("state_active", "Active", "已激活"),
    ("state_revoked", "Revoked", "已吊销"),
    # loyalty
    ("loyalty_title", "Loyalty rules", "会员积分规则"),
    ("earning_rules", "Earning rules", "积分规则"),
    (
        "rules_hint",
        "Points per 100 yuan: 100 = 1 point per yuan. The most specific rule wins.",
        "每 100 元积分：100 表示每元 1 分。最具体的规则优先。",
    ),
    ("scope", "Applies to", "适用范围"),
    ("all_categories", "All categories", "全部品类"),
    ("chain_wide", "Whole chain", "全连锁"),
    ("this_store", "This store", "本店"),
    ("rate", "Rate", "积分率"),
    ("promo_rate", "Promotion rate", "促销积分率"),
    ("retire", "Retire", "停用"),
    ("tiers", "Tiers", "会员等级"),
    ("min_spend", "From spend (12 months)", "起始消费（12个月）"),
    ("multiplier", "Points multiplier", "积分倍数"),
    ("recompute_tiers", "Recompute tiers", "重新计算等级"),
    ("members_changed", "members changed tier", "位会员等级变化"),
    ("campaigns", "Campaigns", "营销活动"),
    ("campaign_name", "Campaign", "活动名称"),
    ("starts", "Starts", "开始"),
    ("ends", "Ends", "结束"),
    ("spend_threshold", "Spend", "满额"),
    ("bonus", "E-coin bonus", "赠电子币"),
    ("repeat", "Repeat", "可累计"),
    ("valid_days", "Valid days", "有效天数"),
    ("end_campaign", "End", "结束活动"),
    ("settings", "Settings", "设置"),
    ("attach_days", "Days to attach a purchase to a member afterwards", "补登会员的期限（天）"),
    # exceptions
    ("exceptions_title", "Exception queue", "异常队列"),
    ("unresolved_title", "Payments with an unknown outcome", "结果未知的支付"),
    (
        "unresolved_hint",
        "Ask the provider what became of each one; never charge again.",
        "向支付机构查询结果，切勿重复扣款。",
    ),
    ("payment", "Payment", "支付"),
    ("tender", "Tender", "支付方式"),
    ("amount", "Amount", "金额"),
    ("status", "Status", "状态"),
    ("created", "Created", "创建时间"),
    ("attempts", "Attempts", "尝试次数"),
    ("reference", "Reference", "关联单号"),
    ("resolve", "Ask the provider", "查询结果"),
    ("resolved_as", "Outcome", "结果"),
    ("queue_empty", "The queue is empty.", "队列为空。"),
    ("ledger_check", "Member ledger check", "会员账务核对"),
    (
        "ledger_hint",
        "Every balance must equal the sum of its entries, and every movement must sum to zero.",
        "每个余额须等于其分录之和，每笔变动借贷平衡。",
    ),
    ("run_check", "Run the check", "开始核对"),
    ("ledger_ok", "The ledger is consistent.", "账务一致。"),
    ("ledger_problems", "Problems found", "发现问题"),
    ("accounts_checked", "accounts checked", "个账户已核对"),
    ("movements_checked", "movements checked", "笔变动已核对"),
    ("tender_card", "Bank card", "银行卡"),
    ("tender_wallet", "Mobile wallet", "移动支付"),
    ("tender_cash", "Cash", "现金"),
    ("tender_stored_value", "Stored value", "储值"),
    ("tender_ecoin", "E-coin", "电子币"),
    ("tender_points", "Points", "积分"),
    ("status_unknown", "Unknown", "未知"),
    ("status_pending", "Pending", "处理中"),
    ("status_approved", "Approved", "已批准"),
    ("status_declined", "Declined", "已拒绝"),
    ("status_failed", "Failed", "失败"),
]

WORDS: dict[Lang, dict[str, str]] = {
    "en": {key: en for key, en, _ in _WORDS},
    "zh": {key: zh for key, _, zh in _WORDS},
}


def add_words(words: list[tuple[str, str, str]]) -> None:
    """More words (key, English, Chinese) for a page added later."""
    for key, en, zh in words:
        WORDS["en"][key] = en
        WORDS["zh"][key] = zh


def pick_lang(query: str | None, cookie: str | None, accept_language: str) -> Lang:
    """The page language: ``?lang=`` first, then the remembered choice, then the browser's wish."""
    for wish in (query, cookie):
        if wish == "zh":
            return "zh"
        if wish == "en":
            return "en"
    first = accept_language.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else DEFAULT_LANG
