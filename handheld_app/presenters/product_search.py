"""Find products by typing or scanning. A barcode scanner acts as a keyboard: it types the code and
presses Enter, so Enter with an exact SKU or barcode adds the product at once."""

from __future__ import annotations

from collections.abc import Callable

from client_common.i18n import translator
from client_common.money_text import fmt
from client_common.presenters.observable import Observable
from client_common.scan import clean_scan
from handheld_app.presenters.ports import Catalog, CatalogItem

RESULT_LIMIT = 30

translator.add(
    {
        "en": {
            "search.hint": "Scan, or type SKU, barcode or name",
            "search.not_found": "No product matches “{text}”.",
            "search.added": "Added {name}",
            "search.pick": "{count} products match; tap one.",
        },
        "zh": {
            "search.hint": "扫码，或输入货号、条码、商品名",
            "search.not_found": "没有与“{text}”匹配的商品。",
            "search.added": "已添加 {name}",
            "search.pick": "找到 {count} 个商品，请点选。",
        },
    }
)


def matches(item: CatalogItem, text: str) -> bool:
    """SKU, barcode or either name contains the text (case-insensitive)."""
    needle = text.casefold()
    return any(needle in field.casefold() for field in (item.sku, item.barcode, item.name_zh, item.name_en))


class ProductSearch(Observable):
    def __init__(self, catalog: Catalog, on_pick: Callable[[CatalogItem], None]) -> None:
        super().__init__()
        self._catalog = catalog
        self._on_pick = on_pick
        self.results: list[CatalogItem] = []
        self.message = ""

    def on_text(self, text: str) -> None:
        """Search as the person types."""
        query = clean_scan(text)
        self.results = self._catalog.search(query, RESULT_LIMIT) if query else []
        self.message = ""
        self.changed()

    def on_enter(self, text: str) -> bool:
        """Enter (or the scanner's Enter): add the exact match, or the only match. True when added."""
        query = clean_scan(text)
        if not query:
            return False
        item = self._catalog.by_code(query)
        if item is None:
            found = self._catalog.search(query, RESULT_LIMIT)
            if len(found) == 1:
                item = found[0]
            else:
                self.results = found
                key = "search.pick" if found else "search.not_found"
                self.message = translator.tr(key, count=len(found), text=query)
                self.changed()
                return False
        self.pick(item)
        return True

    def pick(self, item: CatalogItem) -> None:
        self._on_pick(item)
        self.results = []
        self.message = translator.tr("search.added", name=item.name(translator.language))
        self.changed()

    def result_text(self, item: CatalogItem) -> tuple[str, str]:
        price = item.promo_price if item.promo_price is not None else item.list_price
        return f"{item.name(translator.language)}  ·  {item.sku}", fmt(price)
