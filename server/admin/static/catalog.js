// Catalog: search products and change their prices (refused if someone else changed them meanwhile).
"use strict";

FT.page(async function () {
  const t = FT.t, el = FT.el;
  await FT.storeInfo();
  let editing = null;
  let last = [];

  function margin(p) {
    const price = p.promo_price !== null && p.promo_price !== undefined ? p.promo_price : p.list_price;
    if (!price || p.cost === null || p.cost === undefined) return "";
    return (((price - p.cost) * 100) / price).toFixed(1) + "%";
  }

  function editCells(p) {
    const list = el("input", { value: FT.fenToText(p.list_price), inputmode: "decimal", "aria-label": t("list_price") });
    const promo = el("input", { value: FT.fenToText(p.promo_price), inputmode: "decimal", "aria-label": t("promo_price") });
    const save = el("button", { type: "button" }, t("save"));
    save.addEventListener("click", FT.action(save, async function () {
      const listFen = FT.toFen(list.value);
      const promoFen = promo.value.trim() === "" ? null : FT.toFen(promo.value);
      if (listFen === null || (promo.value.trim() !== "" && promoFen === null)) throw new Error(t("bad_amount"));
      await FT.api("PATCH", "/catalog/products/" + p.id, {
        list_price: listFen, promo_price: promoFen, if_version: p.version,
      });
      editing = null;
      FT.flash(t("saved"));
      await search();
    }));
    const cancel = el("button", { type: "button", class: "secondary", onclick: function () { editing = null; render(last); } }, t("cancel"));
    return { list: list, promo: promo, buttons: [save, cancel] };
  }

  function render(items) {
    last = items;
    FT.fill("products", FT.table([
      { label: t("sku"), value: function (p) { return p.sku; } },
      { label: t("name"), value: function (p) { return FT.name(p); } },
      { label: t("category"), value: function (p) { return p.category; } },
      { label: t("counter"), value: function (p) { return FT.counterName(p.counter_id); } },
      { label: t("list_price"), num: true, value: function (p) {
        return editing && editing.id === p.id ? editing.cells.list : FT.money(p.list_price, p.currency);
      } },
      { label: t("promo_price"), num: true, value: function (p) {
        return editing && editing.id === p.id ? editing.cells.promo : FT.money(p.promo_price, p.currency);
      } },
      { label: t("cost"), num: true, value: function (p) { return FT.money(p.cost, p.currency); } },
      { label: t("margin"), num: true, value: function (p) { return margin(p); } },
      { label: t("active"), value: function (p) { return p.active ? t("yes") : t("no"); } },
      { label: t("actions"), value: function (p) {
        if (editing && editing.id === p.id) return editing.cells.buttons;
        return el("button", { type: "button", class: "secondary", onclick: function () {
          editing = { id: p.id, cells: editCells(p) };
          render(last);
        } }, t("edit"));
      } },
    ], items));
  }

  async function search() {
    const q = FT.$("q").value.trim();
    const page = await FT.api("GET", "/catalog/products?limit=200" + (q ? "&q=" + encodeURIComponent(q) : ""));
    FT.fill("count", page.items.length + " " + t("products_shown") + (page.more ? " · " + t("more_results") : ""));
    render(page.items);
  }

  const form = FT.$("search-form");
  form.addEventListener("submit", FT.action(form.querySelector("button"), search));
  await search();
});
