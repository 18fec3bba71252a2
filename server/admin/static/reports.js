// Reports: each report of /api/admin/reports as charts with its table, over a chosen period;
// the same rows as CSV for download.
"use strict";

FT.page(async function () {
  const t = FT.t, el = FT.el;
  const form = FT.$("report-form");
  const store = await FT.storeInfo();
  const money = function (v) { return v === null || v === undefined ? "—" : FT.money(Math.round(v), store.currency); };
  const pct = function (v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; };
  const num = function (v) { return v === null || v === undefined ? "—" : String(v); };
  const dec = function (v) { return v === null || v === undefined ? "—" : Number(v).toFixed(2); };
  const flag = function (v) { return v ? "▲" : ""; };
  const seg = function (v) { return t("seg_" + v); };
  const state = function (v) { return t("cs_" + v); };

  // field -> formatter; columns are listed per report below
  const FORMAT = {
    sales: money, cost: money, gross_profit: money, average_ticket: money, sales_per_m2: money,
    gross_profit_per_m2: money, promo_sales: money, regular_sales: money, spend: money, weighted_spend: money,
    weighted_gross_profit: money, monetary: money, average_monetary: money, gross_sales: money, refunds: money,
    net_sales: money, commission: money, payable: money,
    gross_margin: pct, share: pct, promo_share: pct,
    floor_area_m2: dec, regular_promo_ratio: dec, average_recency_days: dec, average_frequency: dec,
    spend_rising: flag, average_ticket_rising: flag, frequency_rising: flag, flagged: flag,
    segment: seg, state: state,
  };

  function columns(fields) {
    return fields.map(function (f) {
      const fmt = FORMAT[f] || num;
      const numeric = fmt !== seg && fmt !== state && fmt !== flag && ["key", "name", "category", "dimension", "format_code", "code", "brand", "last_day"].indexOf(f) < 0;
      return { label: t("col_" + f), num: numeric, value: function (r) { return fmt(r[f]); } };
    });
  }
  function structureKey(r) {
    if (r.dimension === "tender") return t("tender_" + r.key);
    if (r.dimension === "customer") return r.key === "member" ? t("member_yes") : t("non_member");
    return r.key + ":00";
  }
  function chart(title, draw) {
    const box = el("div", { class: "chart" });
    const figure = el("figure", {}, el("figcaption", { class: "muted" }, title), box);
    return { node: figure, draw: function () { draw(box); } };
  }
  function top(rows, n) { return rows.slice(0, n); }

  const REPORTS = {
    categories: {
      path: "/api/admin/reports/categories",
      params: function (d) { return { dimension: d.dimension }; },
      summary: function (r) { return t("col_sales") + " " + money(r.total.sales) + " · " + t("col_gross_margin") + " " + pct(r.total.gross_margin); },
      fields: ["key", "sales", "gross_profit", "gross_margin", "tickets", "average_ticket", "floor_area_m2", "sales_per_m2", "gross_profit_per_m2", "share"],
      charts: function (r) {
        return [
          chart(t("col_sales"), function (box) { FTCharts.hbar(box, { labels: r.rows.map(function (x) { return x.key; }), values: r.rows.map(function (x) { return x.sales; }), format: money }); }),
          chart(t("col_gross_margin"), function (box) { FTCharts.hbar(box, { labels: r.rows.map(function (x) { return x.key; }), values: r.rows.map(function (x) { return x.gross_margin; }), format: pct }); }),
        ];
      },
    },
    promotion_categories: {
      path: "/api/admin/reports/promotion/categories",
      summary: function (r) { return t("col_promo_share") + " " + pct(r.total.promo_share); },
      fields: ["category", "sales", "promo_sales", "regular_sales", "promo_share"],
      charts: function (r) {
        return [chart(t("col_promo_share"), function (box) { FTCharts.hbar(box, { labels: r.rows.map(function (x) { return x.category; }), values: r.rows.map(function (x) { return x.promo_share; }), format: pct }); })];
      },
    },
    promotion_members: {
      path: "/api/admin/reports/promotion/members",
      summary: function (r) { return t("members_total") + " " + r.members_total + " · " + t("average_promo_share") + " " + pct(r.average_promo_share); },
      fields: ["name", "sales", "promo_sales", "regular_sales", "promo_share", "transactions"],
      charts: function (r) {
        const rows = top(r.rows, 10);
        return [chart(t("top_members") + " · " + t("col_promo_share"), function (box) { FTCharts.hbar(box, { labels: rows.map(function (x) { return x.name; }), values: rows.map(function (x) { return x.promo_share; }), format: pct }); })];
      },
    },
    sales_structure: {
      path: "/api/admin/reports/sales-structure",
      summary: function (r) { return t("col_sales") + " " + money(r.sales); },
      fields: ["dimension", "key", "sales", "count", "share"],
      rowsFor: function (r) { return r.rows.map(function (x) { return Object.assign({}, x, { dimension: t("dim_" + x.dimension), key: structureKey(x) }); }); },
      charts: function (r) {
        const of = function (dim) { return r.rows.filter(function (x) { return x.dimension === dim; }); };
        const hours = of("hour");
        return [
          chart(t("tender_mix"), function (box) { FTCharts.donut(box, { labels: of("tender").map(structureKey), values: of("tender").map(function (x) { return x.sales; }), format: money }); }),
          chart(t("customer_mix"), function (box) { FTCharts.donut(box, { labels: of("customer").map(structureKey), values: of("customer").map(function (x) { return x.sales; }), format: money }); }),
          chart(t("hour_mix"), function (box) { FTCharts.bar(box, { labels: hours.map(structureKey), values: hours.map(function (x) { return x.sales; }), format: money }); }),
        ];
      },
    },
    member_contribution: {
      path: "/api/admin/reports/member-contribution",
      summary: function (r) { return t("members_total") + " " + r.members_total; },
      fields: ["name", "format_code", "spend", "transactions", "average_ticket", "gross_profit", "regular_sales", "promo_sales", "regular_promo_ratio", "weighted_spend", "weighted_gross_profit"],
      charts: function (r) {
        const rows = top(r.rows, 10);
        return [chart(t("top_members") + " · " + t("col_weighted_gross_profit"), function (box) { FTCharts.hbar(box, { labels: rows.map(function (x) { return x.name; }), values: rows.map(function (x) { return x.weighted_gross_profit; }), format: money }); })];
      },
    },
    member_potential: {
      path: "/api/admin/reports/member-potential",
      summary: function (r) { return t("members_total") + " " + r.members_total + " · " + t("flagged_total") + " " + r.flagged_total; },
      fields: ["name", "spend", "transactions", "average_ticket", "spend_rising", "average_ticket_rising", "frequency_rising", "flagged"],
      charts: function (r) {
        const flagged = top(r.rows.filter(function (x) { return x.flagged; }), 6);
        const labels = r.buckets.map(function (b) { return b.period_from.slice(5) + "–" + b.period_to.slice(5); });
        return [chart(t("spend_by_bucket"), function (box) {
          FTCharts.line(box, { labels: labels, series: flagged.map(function (x) { return { name: x.name, values: x.spend_by_bucket }; }), format: money });
        })];
      },
    },
    rfm: {
      path: "/api/admin/reports/rfm/segments",
      summary: function (r) { return t("members_total") + " " + r.members_total; },
      fields: ["segment", "members", "share", "monetary", "average_recency_days", "average_frequency", "average_monetary"],
      charts: function (r) {
        return [
          chart(t("members_by_segment"), function (box) { FTCharts.donut(box, { labels: r.rows.map(function (x) { return seg(x.segment); }), values: r.rows.map(function (x) { return x.members; }), format: num }); }),
          chart(t("col_monetary"), function (box) { FTCharts.hbar(box, { labels: r.rows.map(function (x) { return seg(x.segment); }), values: r.rows.map(function (x) { return x.monetary; }), format: money }); }),
        ];
      },
    },
    customer_states: {
      path: "/api/admin/reports/customer-states/summary",
      summary: function (r) {
        const total = r.rows.reduce(function (a, x) { return a + x.members; }, 0);
        return t("members_total") + " " + total;
      },
      fields: ["state", "members", "share"],
      charts: function (r) {
        return [chart(t("report_customer_states"), function (box) { FTCharts.donut(box, { labels: r.rows.map(function (x) { return state(x.state); }), values: r.rows.map(function (x) { return x.members; }), format: num }); })];
      },
    },
    concessions: {
      path: "/api/admin/reports/concessions",
      summary: function (r) { return t("col_net_sales") + " " + money(r.net_sales) + " · " + t("col_commission") + " " + money(r.commission) + " · " + t("col_payable") + " " + money(r.payable); },
      fields: ["code", "name", "brand", "tickets", "gross_sales", "refunds", "net_sales", "commission_bp", "commission", "payable"],
      charts: function (r) {
        return [chart(t("col_payable"), function (box) { FTCharts.hbar(box, { labels: r.rows.map(function (x) { return x.name; }), values: r.rows.map(function (x) { return x.payable; }), format: money }); })];
      },
    },
  };

  function query(d, csv) {
    const spec = REPORTS[d.report];
    const q = new URLSearchParams(spec.params ? spec.params(d) : {});
    // No period chosen yet: the server's default (the 30 days up to the store's today, in its timezone).
    if (d.from) q.set("from", d.from);
    if (d.to) q.set("to", d.to);
    if (csv) q.set("format", "csv");
    return spec.path + "?" + q.toString();
  }

  async function show() {
    const d = FT.formData(form);
    const spec = REPORTS[d.report];
    FT.$("dimension-field").hidden = d.report !== "categories";
    location.hash = d.report;
    const r = await FT.api("GET", query(d, false));
    if (!form.elements.from.value) form.elements.from.value = r.scope.period_from;
    if (!form.elements.to.value) form.elements.to.value = r.scope.period_to;
    FT.fill("report-title", form.report.options[form.report.selectedIndex].text + " · " + r.scope.period_from + " – " + r.scope.period_to);
    FT.fill("report-summary", spec.summary(r));
    const charts = spec.charts(r);
    FT.fill("report-charts", charts.map(function (c) { return c.node; }));
    charts.forEach(function (c) { c.draw(); });
    FT.fill("report-table", FT.table(columns(spec.fields), spec.rowsFor ? spec.rowsFor(r) : r.rows));
  }

  function downloadCsv() {
    const d = FT.formData(form);
    return FT.download(query(d, true), d.report + "_" + d.from + "_" + d.to + ".csv");
  }

  const wanted = location.hash.slice(1);
  if (REPORTS[wanted]) form.report.value = wanted;
  form.addEventListener("submit", FT.action(form.querySelector("button[type=submit]"), show));
  form.report.addEventListener("change", FT.action(null, show));
  const csv = FT.$("csv");
  csv.addEventListener("click", FT.action(csv, downloadCsv));
  await show();
});
