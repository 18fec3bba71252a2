// Sign-in: a manager's or administrator's staff code and password; the session stays in this tab.
"use strict";

(function () {
  const form = FT.$("sign-in-form");
  const button = form.querySelector("button");
  form.addEventListener("submit", FT.action(button, async function () {
    const data = FT.formData(form);
    await FT.signIn(data.staff_code, data.password);
    const next = new URLSearchParams(location.search).get("next");
    location.assign(FT.safeNext(next));
  }));
  FT.$("staff_code").focus();
})();
