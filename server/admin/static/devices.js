// Devices: list, add (its enrollment code is shown once), a new code for a pending device, revoke.
"use strict";

FT.page(async function () {
  const t = FT.t, el = FT.el;
  await FT.fillCounterSelects();

  function showCode(label, enrollment) {
    FT.fill("enrollment-device", label);
    FT.fill("enrollment-code", enrollment.code);
    FT.fill("enrollment-expires", FT.when(enrollment.expires_at));
    FT.$("enrollment").hidden = false;
    FT.$("enrollment").scrollIntoView();
  }
  function button(label, cls, fn) {
    const b = el("button", { type: "button", class: cls }, label);
    b.addEventListener("click", FT.action(b, fn));
    return b;
  }

  async function load() {
    const devices = await FT.api("GET", "/devices");
    FT.fill("devices", FT.table([
      { label: t("label"), value: function (d) { return d.label; } },
      { label: t("kind"), value: function (d) { return t(d.kind); } },
      { label: t("counter"), value: function (d) { return FT.counterName(d.counter_id); } },
      { label: t("state"), value: function (d) {
        const cls = d.state === "active" ? "ok" : d.state === "revoked" ? "revoked" : "pending";
        return el("span", { class: "badge " + cls }, t("state_" + d.state));
      } },
      { label: t("last_seen"), value: function (d) { return FT.when(d.last_seen_at); } },
      { label: t("enrolled_at"), value: function (d) { return FT.when(d.enrolled_at); } },
      { label: t("actions"), value: function (d) {
        const out = [];
        if (d.state === "pending") {
          out.push(button(t("new_code"), "secondary", async function () {
            showCode(d.label, await FT.api("POST", "/devices/" + d.id + "/enrollment-code"));
          }));
        }
        if (d.state !== "revoked") {
          out.push(button(t("revoke"), "danger", async function () {
            if (!window.confirm(t("revoke_confirm"))) return;
            await FT.api("POST", "/devices/" + d.id + "/revoke");
            await load();
          }));
        }
        return out;
      } },
    ], devices));
  }

  const form = FT.$("new-device");
  form.addEventListener("submit", FT.action(form.querySelector("button[type=submit]"), async function () {
    const d = FT.formData(form);
    const body = { kind: d.kind, label: d.label };
    if (d.counter_id) body.counter_id = d.counter_id;
    const created = await FT.api("POST", "/devices", body);
    form.reset();
    showCode(created.device.label, created.enrollment);
    await load();
  }));
  await load();
});
