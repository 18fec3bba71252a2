"""The device store: nothing lost, nothing duplicated, whatever moment the app dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import msgspec

from client_common.store import MIGRATIONS, DeviceStore
from protocol.catalog_sync import CatalogItem
from protocol.errors import ErrorBody
from protocol.sync import DeadLetter, DeadLettered, Done, EventApplied, ViewReset
from protocol.tickets import CommandResult, TicketEvent
from tests.client_common.issue_forever import DEVICE, STORE, draft
from tests.protocol.sync_harness import Network
from tests.protocol.sync_model import ModelServer

ROOT = Path(__file__).resolve().parents[2]


def test_settings_survive_a_restart(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path)
    store.set_many({"server": "http://10.0.0.5:8000", "language": "zh", "device_token": "t0k"})
    store.set("language", "en")
    store.close()
    again = DeviceStore(tmp_path)
    assert again.get("server") == "http://10.0.0.5:8000"
    assert again.get("language") == "en"
    assert again.get("missing", "x") == "x"
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert again.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_issuing_stores_the_ticket_and_its_command_with_the_next_sequence_number(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path)
    first = store.issue(draft(), device_id=DEVICE, made_at_ms=5)
    second = store.issue(draft(), device_id=DEVICE, made_at_ms=6)
    assert (first.device_seq, second.device_seq) == (1, 2)
    assert first.command_id == first.ticket.id
    assert [c.command_id for c in store.outbox()] == [first.command_id, second.command_id]
    assert store.ticket(first.ticket.id).state == "issued"  # type: ignore[union-attr]
    assert store.next_seq == 3


def test_sync_outputs_are_written_down(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path)
    ok = store.issue(draft(), device_id=DEVICE, made_at_ms=0)
    bad = store.issue(draft(), device_id=DEVICE, made_at_ms=0)
    core = store.sync_client("tok")
    assert core.waiting == 2
    store.persist(Done(ok.command_id, CommandResult(command_id=ok.command_id, status="applied")))
    error = ErrorBody(code="ticket_exists", message="A ticket with this id already exists.")
    store.persist(DeadLettered(DeadLetter(command=bad, error=error)))
    server_ticket = store.ticket(ok.ticket.id)
    event = TicketEvent(position=7, store_id=STORE, kind="ticket_paid", ticket=server_ticket, at_ms=0)  # type: ignore[arg-type]
    store.persist(EventApplied(event))
    store.close()

    store = DeviceStore(tmp_path)
    assert store.outbox() == []
    (letter,) = store.dead_letters()
    assert letter.error == error
    assert store.position == 7
    restored = store.sync_client("tok")
    assert restored.position == 7
    assert ok.ticket.id in restored.tickets
    assert bad.command_id in restored.dead_letters
    store.dismiss(bad.command_id)
    assert store.dead_letters() == []
    store.persist(ViewReset(error))
    assert store.position == 0
    assert store.confirmed_tickets() == []


def test_catalog_upsert_keeps_the_newest_version_and_finds_by_barcode_sku_or_name(tmp_path: Path) -> None:
    store = DeviceStore(tmp_path)
    pid = uuid.UUID(int=42)
    v2 = CatalogItem(
        id=pid,
        sku="HOM-KT01",
        barcode="6901234500127",
        name_zh="电热水壶",
        name_en="Electric kettle",
        counter_id=STORE,
        list_price=19900,
        promo_price=14900,
        version=2,
    )
    store.upsert_catalog([v2])
    store.upsert_catalog(
        [CatalogItem(**{**{f: getattr(v2, f) for f in v2.__struct_fields__}, "version": 1, "list_price": 1})]
    )
    assert store.product(pid) == v2
    assert store.find_product("6901234500127") == v2
    assert store.find_product("HOM-KT01") == v2
    assert store.search_products("热水") == [v2]
    assert store.search_products("kettle") == [v2]
    assert store.search_products("%") == []
    assert store.names(pid) == ("HOM-KT01", "电热水壶")


def test_a_hundred_thousand_items_load_and_a_reload_changes_without_duplicating(tmp_path: Path) -> None:
    """How fast is measured in bench/catalog_load.py; here: everything arrives once, a delta updates."""
    store = DeviceStore(tmp_path)
    items = [
        CatalogItem(
            id=uuid.UUID(int=i + 1),
            sku=f"SKU{i:06d}",
            barcode=f"69{i:011d}",
            name_zh=f"商品{i}",
            name_en=f"Item {i}",
            counter_id=STORE,
            list_price=100 + i,
        )
        for i in range(100_000)
    ]
    for start in range(0, len(items), 5000):
        store.upsert_catalog(items[start : start + 5000])
    assert store.catalog_count() == 100_000
    changed = [msgspec.structs.replace(item, list_price=1, version=item.version + 1) for item in items[:5000]]
    store.upsert_catalog(changed)
    assert store.catalog_count() == 100_000
    found = store.find_product("SKU000042")
    assert found is not None
    assert found.list_price == 1


def test_killing_the_app_mid_issue_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    for round_ in range(3):  # kill it, restart it, kill it again
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.client_common.issue_forever", str(tmp_path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        printed: list[str] = []
        while len(printed) < 40 + 13 * round_:
            printed.append(proc.stdout.readline().strip())
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        printed += [line.strip() for line in proc.stdout if line.strip()]

        store = DeviceStore(tmp_path)
        outbox = store.outbox()
        ids = [str(c.command_id) for c in outbox]
        tickets = {str(t.id) for t in store.tickets()}
        assert len(ids) == len(set(ids)), "a command twice in the outbox"
        assert set(ids) == tickets, "every ticket has its command and every command its ticket"
        assert set(printed) <= tickets, "a committed ticket was lost"
        assert [c.device_seq for c in outbox] == list(range(1, len(outbox) + 1))
        assert store.next_seq == len(outbox) + 1
        store.close()

    # ... and after the restart the outbox syncs exactly once.
    store = DeviceStore(tmp_path)
    server = ModelServer()
    net = Network(server, STORE, 1)
    device = net.devices[0]
    device.core = store.sync_client(device.token)
    net.heal()
    for command_id in device.done:
        store.persist(Done(command_id, CommandResult(command_id=command_id, status="applied")))
    assert sorted(server.effects.values()) == [1] * len(tickets)
    assert store.outbox_count() == 0


OLD_TICKET_TABLE = """
CREATE TABLE ticket (id TEXT PRIMARY KEY, number TEXT NOT NULL, state TEXT NOT NULL, confirmed INTEGER NOT NULL,
                     body BLOB NOT NULL)
"""


def test_a_database_of_the_first_release_opens_and_its_tickets_get_their_owner_columns(tmp_path: Path) -> None:
    import sqlite3

    import msgspec

    from protocol.tickets import Ticket

    old = draft()
    ticket = Ticket(
        id=old.id,
        store_id=STORE,
        counter_id=STORE,
        device_id=DEVICE,
        staff_id=STORE,
        number=old.number,
        lines=old.lines,
        total=old.total,
        issued_at_ms=1234,
    )
    db = sqlite3.connect(tmp_path / "device.sqlite3")
    db.execute(OLD_TICKET_TABLE)
    db.execute(
        "INSERT INTO ticket VALUES (?, ?, 'issued', 1, ?)", (str(ticket.id), ticket.number, msgspec.json.encode(ticket))
    )
    db.commit()
    db.close()

    store = DeviceStore(tmp_path)
    assert store.schema_version == len(MIGRATIONS)
    row = store.db.execute("SELECT device_id, staff_id, issued_at_ms FROM ticket WHERE id = ?", (str(ticket.id),))
    assert row.fetchone() == (str(DEVICE), str(STORE), 1234)
    assert store.ticket(ticket.id) == ticket
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM ticket WHERE device_id = ? ORDER BY issued_at_ms", ("x",)
    )
    assert "ticket_device" in " ".join(str(r) for r in plan.fetchall())
    store.close()
    again = DeviceStore(tmp_path)  # migrations run once
    assert again.schema_version == len(MIGRATIONS)
    assert again.ticket(ticket.id) == ticket
    again.close()
