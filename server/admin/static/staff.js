// Staff: list, add, deactivate, unlock, and set a new PIN or password.
"use strict";

FT.page(async function () {
  const t = FT.t, el = FT.el;
  await FT.fillCounterSelects();

  function button(label, cls, fn) {
    const b = el("button", { type: "button", class: cls }, label);
    b.addEventListener("click", FT.action(b, fn));
    return b;
  }

  async function load() {
    const staff = await FT.api("GET", "/staff");
    FT.fill("staff", FT.table([
      { label: t("staff_code"), value: function (s) { return s.code; } },
      { label: t("name"), value: function (s) { return s.name; } },
      { label: t("role"), value: function (s) { return t("role_" + s.role); } },
      { label: t("counter"), value: function (s) { return FT.counterName(s.counter_id); } },
      { label: t("active"), value: function (s) { return s.active ? t("yes") : t("no"); } },
      { label: t("locked"), value: function (s) {
        return s.locked_until && new Date(s.locked_until) > new Date() ? FT.when(s.locked_until) : "";
      } },
      { label: t("actions"), value: function (s) {
        const out = [];
        if (s.active) {
          out.push(button(t("deactivate"), "danger", async function () {
            if (!window.confirm(t("confirm"))) return;
            await FT.api("POST", "/staff/" + s.id + "/deactivate");
            await load();
          }));
        }
        if (s.locked_until) {
          out.push(button(t("unlock"), "secondary", async function () {
            await FT.api("POST", "/staff/" + s.id + "/unlock");
            await load();
          }));
        }
        out.push(button(t("set_credentials"), "secondary", async function () {
          const manager = s.role === "manager" || s.role === "admin";
          const secret = window.prompt(manager ? t("password") : t("pin"));
          if (!secret) return;
          await FT.api("PUT", "/staff/" + s.id + "/credentials", manager ? { password: secret } : { pin: secret });
          FT.flash(t("saved"));
          await load();
        }));
        return out;
      } },
    ], staff));
  }

  const form = FT.$("new-staff");
  form.addEventListener("submit", FT.action(form.querySelector("button[type=submit]"), async function () {
    const d = FT.formData(form);
    const body = { code: d.code, name: d.name, role: d.role };
    if (d.counter_id) body.counter_id = d.counter_id;
    if (d.pin) body.pin = d.pin;
    if (d.password) body.password = d.password;
    await FT.api("POST", "/staff", body);
    form.reset();
    FT.flash(t("saved"));
    await load();
  }));
  await load();
});
