// Service tasks: turn a saved segment into tasks for staff, follow each campaign's tasks, and see
// completion and results per staff member or per campaign.
"use strict";

FT.page(async function () {
  const t = FT.t, el = FT.el;
  const store = await FT.storeInfo();
  const money = function (v) { return FT.money(v, store.currency); };
  const pct = function (v) { return (v * 100).toFixed(0) + "%"; };
  const OUTCOMES = ["reached", "no_answer", "declined", "interested", "purchased", "wrong_contact"];
  let staffNames = {};

  async function loadResults() {
    const by = document.querySelector("input[name=by]:checked").value;
    const r = await FT.api("GET", "/api/admin/campaigns/results?by=" + by);
    FTCharts.hbar(FT.$("chart-completion"), {
      label: t("completion"),
      labels: r.rows.map(function (x) { return x.name; }),
      values: r.rows.map(function (x) { return x.completion; }),
      format: pct,
    });
    FTCharts.donut(FT.$("chart-outcomes"), {
      label: t("outcome"),
      labels: OUTCOMES.map(function (o) { return t("out_" + o); }),
      values: OUTCOMES.map(function (o) { return r.rows.reduce(function (a, x) { return a + x[o]; }, 0); }),
      format: String,
    });
    const cols = [{ label: by === "staff" ? t("assignee") : t("campaign_name"), value: function (x) { return x.name; } }];
    ["tasks", "done", "open", "overdue"].forEach(function (f) {
      cols.push({ label: t("col_" + f), num: true, value: function (x) { return x[f]; } });
    });
    cols.push({ label: t("col_completion"), num: true, value: function (x) { return pct(x.completion); } });
    OUTCOMES.concat(["follow_ups", "converted"]).forEach(function (f) {
      cols.push({ label: t("col_" + f), num: true, value: function (x) { return x[f]; } });
    });
    cols.push({ label: t("col_converted_spend"), num: true, value: function (x) { return money(x.converted_spend); } });
    FT.fill("results", FT.table(cols, r.rows));
  }

  async function showTasks(c) {
    const tasks = await FT.api("GET", "/api/admin/campaigns/" + c.id + "/tasks");
    FT.fill("campaign-tasks-title", c.name);
    FT.fill("campaign-tasks", FT.table([
      { label: t("member"), value: function (x) { return x.member_name; } },
      { label: t("assignee"), value: function (x) { return staffNames[x.staff_id] || ""; } },
      { label: t("task_kind"), value: function (x) { return t("kind_" + x.kind); } },
      { label: t("due_date"), value: function (x) { return x.due_date; } },
      { label: t("state"), value: function (x) { return t("task_" + x.state); } },
      { label: t("outcome"), value: function (x) { return x.outcome ? t("out_" + x.outcome) : ""; } },
      { label: t("note"), value: function (x) { return x.note; } },
    ], tasks));
    FT.$("campaign-tasks-card").hidden = false;
  }

  async function loadCampaigns() {
    const campaigns = await FT.api("GET", "/api/admin/campaigns");
    FT.fill("campaigns", FT.table([
      { label: t("campaign_name"), value: function (c) { return c.name; } },
      { label: t("task_kind"), value: function (c) { return t("kind_" + c.kind); } },
      { label: t("due_date"), value: function (c) { return c.due_date; } },
      { label: t("col_tasks"), num: true, value: function (c) { return c.tasks; } },
      { label: t("skipped_without_consent"), num: true, value: function (c) { return c.skipped_without_consent; } },
      { label: t("actions"), value: function (c) {
        const b = el("button", { type: "button", class: "secondary" }, t("show_tasks"));
        b.addEventListener("click", FT.action(b, function () { return showTasks(c); }));
        return b;
      } },
    ], campaigns));
  }

  async function loadForm() {
    const [segments, staff] = await Promise.all([FT.api("GET", "/api/admin/segments"), FT.api("GET", "/staff")]);
    const select = FT.$("segment-select");
    segments.forEach(function (s) { select.appendChild(el("option", { value: s.id }, s.name)); });
    const wanted = /segment=([0-9a-f-]+)/.exec(location.hash);
    if (wanted) select.value = wanted[1];
    staffNames = {};
    const box = FT.$("assignees");
    staff.forEach(function (s) {
      staffNames[s.id] = s.name;
      if (!s.active || s.role === "admin") return;
      box.appendChild(el("label", { class: "check" },
        el("input", { type: "checkbox", name: "staff_ids", value: s.id }), " " + s.name + " (" + t("role_" + s.role) + ")"));
    });
  }

  const form = FT.$("new-campaign");
  form.addEventListener("submit", FT.action(form.querySelector("button[type=submit]"), async function () {
    const d = FT.formData(form);
    const staffIds = Array.from(form.querySelectorAll("input[name=staff_ids]:checked")).map(function (c) { return c.value; });
    const c = await FT.api("POST", "/api/admin/campaigns", {
      segment_id: d.segment_id, name: d.name, kind: d.kind, due_date: d.due_date, staff_ids: staffIds,
    });
    FT.flash(c.name + ": " + c.tasks + " " + t("col_tasks"));
    await Promise.all([loadCampaigns(), loadResults()]);
  }));
  document.querySelectorAll("input[name=by]").forEach(function (r) {
    r.addEventListener("change", FT.action(null, loadResults));
  });
  await loadForm();
  await Promise.all([loadCampaigns(), loadResults()]);
});
