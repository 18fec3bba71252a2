// Dashboard: today's figures, sales by hour and by counter, device sync health, open tickets.
"use strict";

FT.page(async function () {
  const t = FT.t, el = FT.el;

  function tile(label, value, alert) {
    return el("div", { class: alert ? "tile alert" : "tile" }, el("div", { class: "k" }, label), el("div", { class: "v" }, value));
  }

  async function load() {
    const d = await FT.api("GET", "/api/admin/dashboard");
    const money = function (v) { return FT.money(Math.round(v), d.currency); };
    FT.fill("business-day", d.business_day + " · " + FT.name({ name_zh: d.store_name_zh, name_en: d.store_name_en }));
    FT.fill("tiles", [
      tile(t("net_sales"), money(d.net_sales)),
      tile(t("sales"), money(d.sales)),
      tile(t("refunds"), money(d.refunds)),
      tile(t("checkouts"), d.checkouts),
      tile(t("average_checkout"), money(d.average_checkout)),
      tile(t("tickets_paid"), d.tickets_paid),
      tile(t("tickets_issued"), d.tickets_issued),
      tile(t("open_tickets"), d.open_tickets),
      tile(t("unresolved_payments"), d.unresolved_payments, d.unresolved_payments > 0),
      tile(t("open_exceptions"), d.open_exceptions, d.open_exceptions > 0),
    ]);
    FTCharts.bar(FT.$("chart-hour"), {
      label: t("sales_by_hour"),
      labels: d.by_hour.map(function (h) { return String(h.hour).padStart(2, "0") + ":00"; }),
      values: d.by_hour.map(function (h) { return h.sales; }),
      format: money,
    });
    FTCharts.hbar(FT.$("chart-counter"), {
      label: t("sales_by_counter"),
      labels: d.by_counter.map(function (c) { return FT.name(c); }),
      values: d.by_counter.map(function (c) { return c.sales; }),
      format: money,
    });
    FT.fill("table-counter", FT.table([
      { label: t("counter"), value: function (c) { return c.code + " " + FT.name(c); } },
      { label: t("sales"), num: true, value: function (c) { return money(c.sales); } },
      { label: t("tickets"), num: true, value: function (c) { return c.tickets; } },
    ], d.by_counter));
    FT.fill("devices", FT.table([
      { label: t("device"), value: function (x) { return x.label; } },
      { label: t("kind"), value: function (x) { return t(x.kind); } },
      { label: t("health"), value: function (x) { return el("span", { class: "badge " + x.health }, t("health_" + x.health)); } },
      { label: t("last_seen"), value: function (x) { return FT.when(x.last_seen_at); } },
      { label: t("last_command"), value: function (x) { return FT.when(x.last_command_at); } },
      { label: t("last_applied_seq"), num: true, value: function (x) { return x.last_applied_seq; } },
      { label: t("commands_applied"), num: true, value: function (x) { return x.commands_applied; } },
      { label: t("dead_letters"), num: true, value: function (x) { return x.commands_rejected + " (" + x.rejected_24h + ")"; } },
      { label: t("events_behind"), num: true, value: function (x) { return x.events_behind === null ? "—" : x.events_behind; } },
    ], d.devices));
    await FT.storeInfo();
    const open = await FT.api("GET", "/tickets?state=issued&limit=20");
    FT.fill("open-tickets", FT.table([
      { label: t("number"), value: function (x) { return x.number; } },
      { label: t("counter"), value: function (x) { return FT.counterName(x.counter_id); } },
      { label: t("total"), num: true, value: function (x) { return FT.money(x.total, x.currency); } },
      { label: t("issued_at"), value: function (x) { return FT.when(x.issued_at_ms); } },
      { label: t("member"), value: function (x) { return x.member_id ? t("yes") : ""; } },
    ], open));
  }

  const button = FT.$("refresh");
  button.addEventListener("click", FT.action(button, load));
  await load();
  setInterval(function () { load().catch(FT.showError); }, 60000);
});
