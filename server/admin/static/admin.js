// The admin pages' common core: words, the signed-in session (sessionStorage), the JSON API client,
// and small DOM helpers. No framework, nothing loaded from outside this server.
"use strict";

window.FT = (function () {
  const words = JSON.parse(document.getElementById("ft-words").textContent);
  const lang = document.body.dataset.lang || "zh";
  const KEY = "ft_admin_session";
  const MANAGER_ROLES = ["manager", "admin"];

  function t(key) {
    return Object.prototype.hasOwnProperty.call(words, key) ? words[key] : key;
  }

  // --- session ---------------------------------------------------------------------------------
  function session() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY) || "null");
    } catch (e) {
      return null;
    }
  }
  function saveSession(s) {
    sessionStorage.setItem(KEY, JSON.stringify({
      access_token: s.access_token,
      refresh_token: s.refresh_token,
      staff: s.staff,
    }));
    return s;
  }
  function clearSession() {
    sessionStorage.removeItem(KEY);
  }
  function toSignIn() {
    location.assign("/admin/sign-in?next=" + encodeURIComponent(location.pathname));
  }
  // Only our own pages are followed after sign-in (never another site).
  function safeNext(next) {
    return /^\/admin\/[a-z-]+$/.test(next || "") ? next : "/admin/dashboard";
  }

  // --- API ---------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || "HTTP " + status);
      this.status = status;
      this.code = body && body.code;
      this.body = body;
    }
  }

  async function raw(method, path, body, token) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = "Bearer " + token;
    let resp;
    try {
      resp = await fetch(path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (e) {
      throw new ApiError(0, { code: "network", message: t("network_down") });
    }
    if (resp.status === 204) return null;
    const text = await resp.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = { message: text };
      }
    }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }

  let refreshing = null;
  function refresh() {
    const s = session();
    if (!s) return Promise.reject(new ApiError(401, { message: t("session_over") }));
    if (!refreshing) {
      refreshing = raw("POST", "/auth/refresh", { refresh_token: s.refresh_token })
        .then(saveSession)
        .finally(function () {
          refreshing = null;
        });
    }
    return refreshing;
  }

  // A call with the manager's bearer token; an expired access token is refreshed once.
  async function api(method, path, body) {
    const s = session();
    if (!s) {
      toSignIn();
      throw new ApiError(401, { message: t("session_over") });
    }
    try {
      return await raw(method, path, body, s.access_token);
    } catch (e) {
      if (e.status !== 401) throw e;
      try {
        await refresh();
      } catch (e2) {
        clearSession();
        toSignIn();
        throw e;
      }
      return raw(method, path, body, session().access_token);
    }
  }

  // A file the API makes (CSV): fetched with the bearer token and handed to the browser to save.
  async function download(path, filename) {
    let s = session();
    let resp = await fetch(path, { headers: { Authorization: "Bearer " + s.access_token, Accept: "text/csv" } });
    if (resp.status === 401) {
      await refresh().catch(function () { clearSession(); toSignIn(); });
      s = session();
      resp = await fetch(path, { headers: { Authorization: "Bearer " + s.access_token, Accept: "text/csv" } });
    }
    if (!resp.ok) {
      const body = await resp.json().catch(function () { return null; });
      throw new ApiError(resp.status, body);
    }
    const url = URL.createObjectURL(await resp.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  async function signIn(staffCode, password) {
    const s = await raw("POST", "/auth/sign-in", { staff_code: staffCode, password: password });
    if (MANAGER_ROLES.indexOf(s.staff.role) < 0) {
      await raw("POST", "/auth/sign-out", { refresh_token: s.refresh_token }).catch(function () {});
      throw new ApiError(403, { code: "forbidden", message: t("not_manager") });
    }
    saveSession(s);
    return s;
  }

  async function signOut() {
    const s = session();
    clearSession();
    if (s) await raw("POST", "/auth/sign-out", { refresh_token: s.refresh_token }).catch(function () {});
    location.assign("/admin/sign-in");
  }

  // --- formatting ---------------------------------------------------------------------------------
  function money(fen, currency) {
    if (fen === null || fen === undefined) return "";
    const sign = fen < 0 ? "-" : "";
    const abs = Math.abs(fen);
    const yuan = Math.floor(abs / 100).toLocaleString(lang === "zh" ? "zh-CN" : "en-US");
    const cents = String(abs % 100).padStart(2, "0");
    const symbol = !currency || currency === "CNY" ? "¥" : currency + " ";
    return sign + symbol + yuan + "." + cents;
  }
  // "12.5" -> 1250 fen, exactly (no floating point); null when it is not an amount.
  function toFen(text) {
    const m = /^\s*(\d{1,10})(?:\.(\d{1,2}))?\s*$/.exec(String(text));
    if (!m) return null;
    return parseInt(m[1], 10) * 100 + parseInt((m[2] || "0").padEnd(2, "0"), 10);
  }
  function fenToText(fen) {
    if (fen === null || fen === undefined) return "";
    return Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0");
  }
  function when(value) {
    if (value === null || value === undefined || value === "" || value === 0) return "—";
    const d = new Date(value);
    if (isNaN(d.getTime())) return String(value);
    return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
  }
  function name(obj) {
    return lang === "zh" ? obj.name_zh || obj.name_en : obj.name_en || obj.name_zh;
  }

  // --- DOM -----------------------------------------------------------------------------------------
  function el(tag, attrs) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (let i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(node, c); });
    else node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  function $(id) {
    return document.getElementById(id);
  }
  function fill(target, content) {
    const node = typeof target === "string" ? $(target) : target;
    node.replaceChildren();
    append(node, content);
    return node;
  }

  // columns: [{label, value(row) -> text|Node, num}]
  function table(columns, rows) {
    if (!rows.length) return el("p", { class: "muted", text: t("no_rows") });
    return el("div", { class: "scroll" },
      el("table", {},
        el("thead", {}, el("tr", {}, columns.map(function (c) {
          return el("th", { class: c.num ? "num" : null, scope: "col" }, c.label);
        }))),
        el("tbody", {}, rows.map(function (r) {
          return el("tr", {}, columns.map(function (c) {
            return el("td", { class: c.num ? "num" : null }, c.value(r));
          }));
        }))));
  }

  let flashTimer = null;
  function flash(message, kind) {
    const box = $("flash");
    box.textContent = message;
    box.className = kind === "error" ? "flash error" : "flash";
    box.hidden = false;
    clearTimeout(flashTimer);
    if (kind !== "error") flashTimer = setTimeout(function () { box.hidden = true; }, 4000);
  }
  function showError(e) {
    flash((e && e.message) || String(e), "error");
  }
  // Run an action from a button; errors are shown, the button is disabled meanwhile.
  function action(button, fn) {
    return async function (event) {
      if (event) event.preventDefault();
      if (button) button.disabled = true;
      try {
        await fn(event);
      } catch (e) {
        showError(e);
      } finally {
        if (button) button.disabled = false;
      }
    };
  }
  function formData(form) {
    const out = {};
    new FormData(form).forEach(function (v, k) {
      out[k] = typeof v === "string" ? v.trim() : v;
    });
    return out;
  }

  let store = null;
  async function storeInfo() {
    if (!store) store = await api("GET", "/api/admin/store");
    return store;
  }
  async function fillCounterSelects() {
    const s = await storeInfo();
    document.querySelectorAll("select.counter-select").forEach(function (sel) {
      s.counters.filter(function (c) { return c.active; }).forEach(function (c) {
        sel.appendChild(el("option", { value: c.id }, c.code + " " + name(c)));
      });
    });
  }
  function counterName(id) {
    if (!store || !id) return "";
    const c = store.counters.find(function (x) { return x.id === id; });
    return c ? name(c) : "";
  }

  // A page's script: FT.page(async function () { ... }) runs once the manager is signed in.
  function page(init) {
    const s = session();
    if (!s || MANAGER_ROLES.indexOf((s.staff || {}).role) < 0) {
      clearSession();
      toSignIn();
      return;
    }
    fill("who", s.staff.name + " · " + s.staff.store_code);
    const out = $("sign-out");
    if (out) out.addEventListener("click", signOut);
    Promise.resolve()
      .then(init)
      .catch(showError);
  }

  return {
    t: t, lang: lang, api: api, download: download, signIn: signIn, signOut: signOut, session: session, safeNext: safeNext,
    money: money, toFen: toFen, fenToText: fenToText, when: when, name: name,
    el: el, $: $, fill: fill, table: table, flash: flash, showError: showError, action: action,
    formData: formData, storeInfo: storeInfo, fillCounterSelects: fillCounterSelects, counterName: counterName,
    page: page, ApiError: ApiError,
  };
})();
