// Exception queue: conflicts to put right (money taken offline for tickets the server could not
// settle, voids of paid tickets) with the fix and a resolve form; payments whose outcome is unknown
// (ask the provider, never charge again); and the member ledger's invariant check.
"use strict";

FT.page(async function () {
  const t = FT.t, el = FT.el;
  const lang = document.body.dataset.lang || "zh";

  function resolveForm(x) {
    const note = el("input", { type: "text", name: "note", required: true, maxlength: "500", size: "22",
      placeholder: t("exception_note"), "aria-label": t("exception_note") });
    const button = el("button", { type: "submit" }, t("exception_resolve"));
    // Cash to give back: say whether it went back to the customer (out of the till's drawer) or stays.
    const hasCash = x.fix.some(function (m) { return m.action === "refund_cash"; });
    const cash = hasCash ? el("select", { name: "cash_outcome", "aria-label": t("exception_cash_outcome") },
      el("option", { value: "given_back" }, t("exception_given_back")),
      el("option", { value: "kept" }, t("exception_kept"))) : null;
    const form = el("form", { class: "row", "data-exception": x.id }, note, cash, button);
    form.addEventListener("submit", FT.action(button, async function () {
      const body = { note: note.value.trim() };
      if (cash) { body.cash_outcome = cash.value; }
      await FT.api("POST", "/exceptions/" + x.id + "/resolve", body);
      FT.flash(t("exception_resolved") + ": " + x.number);
      await loadExceptions();
    }));
    return form;
  }

  async function loadExceptions() {
    const list = await FT.api("GET", "/exceptions?status=open&limit=200");
    if (!list.exceptions.length) {
      FT.fill("store-exceptions", el("p", { class: "muted" }, t("queue_empty")));
      return;
    }
    FT.fill("store-exceptions", FT.table([
      { label: t("exception_no"), num: true, value: function (x) { return x.number; } },
      { label: t("exception_kind"), value: function (x) { return el("span", { class: "badge stale" }, t("kind_" + x.kind)); } },
      { label: t("created"), value: function (x) { return FT.when(x.created_at_ms); } },
      { label: t("exception_where"), value: function (x) { return [x.device_label, x.staff_name].filter(Boolean).join(" / "); } },
      { label: t("exception_tickets"), value: function (x) { return x.ticket_numbers.filter(Boolean).join(", ") || "—"; } },
      { label: t("exception_receipt"), value: function (x) { return x.offline_receipt_no ? el("code", {}, x.offline_receipt_no) : "—"; } },
      { label: t("exception_taken"), num: true, value: function (x) {
        return Object.keys(x.taken).map(function (k) { return t("tender_" + k) + " " + FT.money(x.taken[k], x.currency); }).join(", ") || "—";
      } },
      { label: t("exception_fix"), value: function (x) { return x.fix_text[lang] || x.fix_text.en || ""; } },
      { label: t("actions"), value: resolveForm },
    ], list.exceptions));
  }

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
  await loadExceptions();
  await load();
});
