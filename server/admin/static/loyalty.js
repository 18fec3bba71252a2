// Loyalty rules: earning rates (per store and category), tiers, e-coin campaigns, settings.
"use strict";

FT.page(async function () {
  const t = FT.t, el = FT.el;
  const me = FT.session().staff;
  const admin = me.role === "admin";
  const store = await FT.storeInfo();
  const money = function (v) { return FT.money(v, store.currency); };

  function button(label, cls, fn) {
    const b = el("button", { type: "button", class: cls }, label);
    b.addEventListener("click", FT.action(b, fn));
    return b;
  }

  async function loadRules() {
    const rules = await FT.api("GET", "/api/admin/loyalty/rules");
    FT.fill("rules", FT.table([
      { label: t("scope"), value: function (r) {
        return r.store_id ? (r.store_id === store.id ? t("this_store") : r.store_id.slice(0, 8)) : t("chain_wide");
      } },
      { label: t("category"), value: function (r) { return r.category || t("all_categories"); } },
      { label: t("rate"), num: true, value: function (r) { return el("input", { type: "number", min: 0, value: r.rate, "data-rule": r.id, "data-field": "rate", "aria-label": t("rate") }); } },
      { label: t("promo_rate"), num: true, value: function (r) { return el("input", { type: "number", min: 0, value: r.promo_rate, "data-rule": r.id, "data-field": "promo_rate", "aria-label": t("promo_rate") }); } },
      { label: t("actions"), value: function (r) {
        if (!r.store_id && !admin) return "";
        return [
          button(t("save"), "", async function () {
            const rate = document.querySelector('input[data-rule="' + r.id + '"][data-field="rate"]').value;
            const promo = document.querySelector('input[data-rule="' + r.id + '"][data-field="promo_rate"]').value;
            await FT.api("PUT", "/api/admin/loyalty/rules/" + r.id, { rate: parseInt(rate, 10), promo_rate: parseInt(promo, 10) });
            FT.flash(t("saved"));
            await loadRules();
          }),
          button(t("retire"), "danger", async function () {
            if (!window.confirm(t("confirm"))) return;
            await FT.api("DELETE", "/api/admin/loyalty/rules/" + r.id);
            await loadRules();
          }),
        ];
      } },
    ], rules.filter(function (r) { return r.active; })));
  }

  async function loadTiers() {
    const tiers = await FT.api("GET", "/api/admin/loyalty/tiers");
    FT.fill("tiers", FT.table([
      { label: t("name"), value: function (x) { return x.name + " (" + x.code + ")"; } },
      { label: t("tier_min_spend"), num: true, value: function (x) { return money(x.min_spend); } },
      { label: t("multiplier"), num: true, value: function (x) { return "×" + (x.multiplier / 100).toFixed(2); } },
    ], tiers));
  }

  async function loadCampaigns() {
    const campaigns = await FT.api("GET", "/api/admin/loyalty/campaigns");
    FT.fill("campaigns", FT.table([
      { label: t("campaign_name"), value: function (c) { return c.name; } },
      { label: t("starts"), value: function (c) { return FT.when(c.starts_at); } },
      { label: t("ends"), value: function (c) { return FT.when(c.ends_at); } },
      { label: t("spend_threshold"), num: true, value: function (c) { return money(c.spend_threshold); } },
      { label: t("bonus"), num: true, value: function (c) { return money(c.bonus); } },
      { label: t("repeat"), value: function (c) { return c.repeat ? t("yes") : t("no"); } },
      { label: t("active"), value: function (c) { return c.active ? t("yes") : t("no"); } },
      { label: t("actions"), value: function (c) {
        if (!c.active) return "";
        return button(t("end_campaign"), "danger", async function () {
          if (!window.confirm(t("confirm"))) return;
          await FT.api("DELETE", "/api/admin/loyalty/campaigns/" + c.id);
          await loadCampaigns();
        });
      } },
    ], campaigns));
  }

  async function loadSettings() {
    const s = await FT.api("GET", "/api/admin/loyalty/settings");
    FT.$("settings").elements.attach_days.value = s.attach_days;
  }

  const ruleForm = FT.$("new-rule");
  ruleForm.addEventListener("submit", FT.action(ruleForm.querySelector("button"), async function () {
    const d = FT.formData(ruleForm);
    await FT.api("POST", "/api/admin/loyalty/rules", {
      store_id: store.id, category: d.category || null, rate: parseInt(d.rate, 10), promo_rate: parseInt(d.promo_rate, 10),
    });
    ruleForm.reset();
    FT.flash(t("saved"));
    await loadRules();
  }));

  const campaignForm = FT.$("new-campaign");
  campaignForm.addEventListener("submit", FT.action(campaignForm.querySelector("button"), async function () {
    const d = FT.formData(campaignForm);
    const threshold = FT.toFen(d.spend_threshold), bonus = FT.toFen(d.bonus);
    if (threshold === null || bonus === null) throw new Error(t("bad_amount"));
    await FT.api("POST", "/api/admin/loyalty/campaigns", {
      name: d.name,
      starts_at: new Date(d.starts_at + "T00:00:00").toISOString(),
      ends_at: new Date(d.ends_at + "T23:59:59").toISOString(),
      spend_threshold: threshold, bonus: bonus, repeat: !!d.repeat,
      valid_days: parseInt(d.valid_days || "90", 10), store_ids: [store.id],
    });
    campaignForm.reset();
    FT.flash(t("saved"));
    await loadCampaigns();
  }));

  const settingsForm = FT.$("settings");
  settingsForm.addEventListener("submit", FT.action(settingsForm.querySelector("button"), async function () {
    await FT.api("PUT", "/api/admin/loyalty/settings", { attach_days: parseInt(settingsForm.elements.attach_days.value, 10) });
    FT.flash(t("saved"));
  }));

  const recompute = FT.$("recompute");
  recompute.addEventListener("click", FT.action(recompute, async function () {
    const r = await FT.api("POST", "/api/admin/loyalty/tiers/recompute");
    FT.fill("recompute-result", r.members_changed + " " + t("members_changed"));
  }));

  await Promise.all([loadRules(), loadTiers(), loadCampaigns(), loadSettings()]);
});
