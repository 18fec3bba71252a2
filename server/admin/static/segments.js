// Segments: build a member segment with the count updating as the filter changes; save, reopen,
// export its members (CSV, masked as the server decides) and turn it into service tasks.
"use strict";

FT.page(async function () {
  const t = FT.t, el = FT.el;
  const form = FT.$("segment-form");
  const store = await FT.storeInfo();
  const money = function (v) { return FT.money(v, store.currency); };
  let current = null; // the saved segment being edited
  let asked = 0;
  let timer = null;

  function list(text) {
    return String(text || "").split(/[,，、;]/).map(function (x) { return x.trim(); }).filter(Boolean);
  }

  // The form as a SegmentFilter; conditions left empty are left out.
  function filter() {
    const f = {};
    form.querySelectorAll("input[name]").forEach(function (input) {
      const v = input.value.trim();
      if (input.type === "checkbox" || input.name === "name" || v === "") return;
      if (input.hasAttribute("data-money")) {
        const fen = FT.toFen(v);
        if (fen === null) throw new Error(t("bad_amount"));
        f[input.name] = fen;
      } else if (input.hasAttribute("data-int")) {
        f[input.name] = parseInt(v, 10);
      } else if (input.hasAttribute("data-list")) {
        const items = list(v);
        if (items.length) f[input.name] = items;
      } else {
        f[input.name] = v;
      }
    });
    ["rfm_segments", "states"].forEach(function (name) {
      const checked = Array.from(form.querySelectorAll("input[name=" + name + "]:checked")).map(function (c) { return c.value; });
      if (checked.length) f[name] = checked;
    });
    return f;
  }

  function setFilter(f) {
    form.reset();
    Object.entries(f).forEach(function ([k, v]) {
      if (Array.isArray(v)) {
        const boxes = form.querySelectorAll("input[type=checkbox][name=" + k + "]");
        if (boxes.length) boxes.forEach(function (b) { b.checked = v.indexOf(b.value) >= 0; });
        else if (form.elements[k]) form.elements[k].value = v.join(", ");
      } else if (form.elements[k]) {
        form.elements[k].value = form.elements[k].hasAttribute("data-money") ? FT.fenToText(v) : v;
      }
    });
  }

  async function preview() {
    const mine = ++asked;
    const p = await FT.api("POST", "/api/admin/segments/preview", filter());
    if (mine !== asked) return; // a newer question is on its way
    FT.fill("segment-count", String(p.members));
    FT.fill("segment-window", p.window_from + " – " + p.window_to);
    FT.fill("sample", FT.table([
      { label: t("name"), value: function (m) { return m.name; } },
      { label: t("phone"), value: function (m) { return m.phone; } },
      { label: t("tier"), value: function (m) { return m.tier; } },
      { label: t("col_spend"), num: true, value: function (m) { return money(m.spend); } },
      { label: t("col_transactions"), num: true, value: function (m) { return m.transactions; } },
      { label: t("col_average_ticket"), num: true, value: function (m) { return money(m.average_ticket); } },
      { label: t("col_last_day"), value: function (m) { return m.last_day || "—"; } },
      { label: t("consent"), value: function (m) { return m.consent_marketing ? t("yes") : t("no"); } },
    ], p.sample));
  }
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(function () { preview().catch(FT.showError); }, 300);
  }

  async function loadSaved() {
    const segments = await FT.api("GET", "/api/admin/segments");
    FT.fill("segments", FT.table([
      { label: t("segment_name"), value: function (s) { return s.name; } },
      { label: t("updated"), value: function (s) { return FT.when(s.updated_at); } },
      { label: t("actions"), value: function (s) {
        const open = el("button", { type: "button", class: "secondary" }, t("load"));
        open.addEventListener("click", FT.action(open, async function () {
          current = await FT.api("GET", "/api/admin/segments/" + s.id);
          setFilter(current.filter);
          FT.$("segment-name").value = current.name;
          FT.$("save-new").hidden = false;
          form.scrollIntoView();
          await preview();
        }));
        const exp = el("button", { type: "button", class: "secondary" }, t("export_members"));
        exp.addEventListener("click", FT.action(exp, function () {
          return FT.download("/api/admin/segments/" + s.id + "/members?format=csv&limit=100000", "segment-" + s.name + ".csv");
        }));
        const tasks = el("a", { href: "/admin/tasks#segment=" + s.id }, t("make_tasks"));
        return [open, exp, tasks];
      } },
    ], segments));
  }

  async function save(asNew) {
    const name = FT.$("segment-name").value.trim();
    if (!name) {
      FT.$("segment-name").focus();
      throw new Error(t("segment_name"));
    }
    const body = { name: name, filter: filter() };
    current = current && !asNew
      ? await FT.api("PUT", "/api/admin/segments/" + current.id, body)
      : await FT.api("POST", "/api/admin/segments", body);
    FT.$("save-new").hidden = false;
    FT.flash(t("saved"));
    await loadSaved();
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  const saveButton = FT.$("save-segment"), saveNew = FT.$("save-new");
  saveButton.addEventListener("click", FT.action(saveButton, function () { return save(false); }));
  saveNew.addEventListener("click", FT.action(saveNew, function () { return save(true); }));
  await Promise.all([preview(), loadSaved()]);
});
