// Exception queue: payments whose outcome is unknown (ask the provider, never charge again), and
// the member ledger's invariant check.
"use strict";

FT.page(async function () {
  const t = FT.t, el = FT.el;

  async function load() {
    const list = await FT.api("GET", "/payments/unresolved");
    if (!list.payments.length) {
      FT.fill("payments", el("p", { class: "muted" }, t("queue_empty")));
      return;
    }
    FT.fill("payments", FT.table([
      { label: t("payment"), value: function (p) { return el("code", {}, p.id.slice(0, 8)); } },
      { label: t("tender"), value: function (p) { return t("tender_" + p.tender); } },
      { label: t("amount"), num: true, value: function (p) { return FT.money(p.amount, p.currency); } },
      { label: t("status"), value: function (p) { return el("span", { class: "badge stale" }, t("status_" + p.status)); } },
      { label: t("created"), value: function (p) { return FT.when(p.created_at_ms); } },
      { label: t("attempts"), num: true, value: function (p) { return p.attempts; } },
      { label: t("reference"), value: function (p) { return p.reference; } },
      { label: t("actions"), value: function (p) {
        const b = el("button", { type: "button" }, t("resolve"));
        b.addEventListener("click", FT.action(b, async function () {
          const out = await FT.api("POST", "/payments/" + p.id + "/resolve", { note: "admin page" });
          FT.flash(t("resolved_as") + ": " + t("status_" + out.status));
          await load();
        }));
        return b;
      } },
    ], list.payments));
  }

  const run = FT.$("run-check");
  run.addEventListener("click", FT.action(run, async function () {
    const r = await FT.api("GET", "/api/admin/ledger/check");
    FT.fill("ledger-result", [
      el("p", { class: r.ok ? "badge ok" : "badge bad" }, r.ok ? t("ledger_ok") : t("ledger_problems")),
      el("p", { class: "muted" }, r.accounts_checked + " " + t("accounts_checked") + " · " +
        r.movements_checked + " " + t("movements_checked")),
      r.problems.length ? el("ul", {}, r.problems.map(function (p) { return el("li", {}, p); })) : null,
    ]);
  }));
  await load();
});
