from __future__ import annotations

import pytest

from client_common.i18n import translator
from client_common.scan import clean_scan
from handheld_app.presenters.member import MemberPresenter
from handheld_app.presenters.ports import CatalogItem
from handheld_app.presenters.product_search import ProductSearch
from tests.handheld.fakes import MEMBER, PRODUCTS, FakeCatalog, FakeMembers


@pytest.fixture
def picked() -> list[CatalogItem]:
    return []


@pytest.fixture
def search(picked: list[CatalogItem]) -> ProductSearch:
    return ProductSearch(FakeCatalog(), picked.append)


def test_scanner_types_a_barcode_then_enter_adds_the_product(search: ProductSearch, picked: list[CatalogItem]) -> None:
    # What a keyboard-wedge scanner sends: the digits (one on_text per keystroke), then Enter.
    code = "6901234500073"
    for n in range(1, len(code) + 1):
        search.on_text(code[:n])
    assert search.on_enter(code + "\r\n")
    assert [i.sku for i in picked] == ["SNY-XM5"]
    assert search.message == "Added Sony WH-1000XM5"
    assert search.results == []


def test_enter_with_an_exact_sku_adds_even_when_the_sku_prefixes_others(picked: list[CatalogItem]) -> None:
    extra = CatalogItem(PRODUCTS[0].product_id.__class__(int=99), "APL-IP16-PRO", "1", "x", "x", 1)
    search = ProductSearch(FakeCatalog([*PRODUCTS, extra]), picked.append)
    assert search.on_enter("APL-IP16")
    assert picked == [PRODUCTS[0]]


@pytest.mark.parametrize(
    ("query", "skus"),
    [
        ("华为", ["HUA-P70"]),
        ("huawei", ["HUA-P70"]),
        ("降噪", ["SNY-XM5"]),
        ("kettle", ["HOM-KT01"]),
        ("apl-", ["APL-IP16", "APL-APP2"]),
        ("6901234500", ["APL-IP16", "APL-APP2", "HUA-P70", "SNY-XM5", "HOM-KT01"]),
    ],
)
def test_search_by_sku_barcode_and_name_in_either_language(search: ProductSearch, query: str, skus: list[str]) -> None:
    search.on_text(query)
    assert [i.sku for i in search.results] == skus


def test_enter_on_a_name_with_one_match_adds_it(search: ProductSearch, picked: list[CatalogItem]) -> None:
    assert search.on_enter("电热水壶")
    assert picked[0].sku == "HOM-KT01"


def test_enter_with_several_matches_asks_to_pick(search: ProductSearch, picked: list[CatalogItem]) -> None:
    assert not search.on_enter("APL")
    assert picked == []
    assert search.message == "2 products match; tap one."
    search.pick(search.results[1])
    assert picked[0].sku == "APL-APP2"


def test_unknown_code_says_so_in_the_current_language(search: ProductSearch) -> None:
    assert not search.on_enter("0000000000000")
    assert search.message == "No product matches “0000000000000”."
    translator.set_language("zh")
    assert not search.on_enter("0000000000000")
    assert search.message == "没有与“0000000000000”匹配的商品。"


def test_clean_scan_drops_scanner_noise() -> None:
    assert clean_scan(" \t6901234500011\r\n") == "6901234500011"


def test_result_text_shows_name_in_language_and_the_price_charged(search: ProductSearch) -> None:
    pura = PRODUCTS[2]
    assert search.result_text(pura) == ("Huawei Pura 70  ·  HUA-P70", "¥4,999.00")
    translator.set_language("zh")
    assert search.result_text(pura)[0] == "华为 Pura 70  ·  HUA-P70"


async def test_member_by_phone_shows_tier_and_points() -> None:
    p = MemberPresenter(FakeMembers())
    found = await p.lookup(" 13800000001\r")
    assert found == MEMBER
    assert p.card_text(MEMBER) == "王*  138****0001\nGold · 12340 points"


async def test_unknown_member_and_offline_member_lookup_say_what_to_do() -> None:
    members = FakeMembers()
    p = MemberPresenter(members)
    assert await p.lookup("13999999999") is None
    assert p.message == "No member found for “13999999999”."
    members.offline = True
    assert await p.lookup("13800000001") is None
    assert "attach the member later" in p.message
