"""The device's local store: one SQLite file in the app's data folder.

WAL with ``synchronous=FULL``: a transaction that returned is on disk, and killing the app at any
moment loses nothing and duplicates nothing. A command is written to the outbox, with its id and its
sequence number allocated in the same transaction, *before* it is handed to the sync core, so every
retry after a crash reuses the same id.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from protocol.catalog_sync import CatalogItem
from protocol.sync import DeadLetter, DeadLettered, Done, EventApplied, Output, SyncClient, ViewReset
from protocol.tickets import AnyCommand, IssueTicket, Ticket, TicketDraft

C = TypeVar("C", bound=AnyCommand)

DB_FILE = "device.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS setting (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    command_id TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    command_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ticket (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    state TEXT NOT NULL,
    confirmed INTEGER NOT NULL,       -- 0 while only this device knows it
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS catalog (
    id TEXT PRIMARY KEY,
    sku TEXT NOT NULL,
    barcode TEXT,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    version INTEGER NOT NULL,
    active INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS catalog_sku ON catalog (sku);
CREATE INDEX IF NOT EXISTS catalog_barcode ON catalog (barcode);
"""

UPSERT_CATALOG = """
INSERT INTO catalog (id, sku, barcode, name_zh, name_en, version, active, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    sku = excluded.sku, barcode = excluded.barcode, name_zh = excluded.name_zh, name_en = excluded.name_en,
    version = excluded.version, active = excluded.active, body = excluded.body
WHERE excluded.version >= catalog.version
"""


def _ticket_owner_columns(db: sqlite3.Connection) -> None:
    """Who issued each ticket, as columns with an index, so a handheld lists its own tickets without
    decoding every ticket of the store. Rows of an older database are filled in from their bodies."""
    for column in ("device_id TEXT", "staff_id TEXT", "issued_at_ms INTEGER NOT NULL DEFAULT 0"):
        db.execute(f"ALTER TABLE ticket ADD COLUMN {column}")
    rows = db.execute("SELECT id, body FROM ticket").fetchall()
    db.executemany(
        "UPDATE ticket SET device_id = ?, staff_id = ?, issued_at_ms = ? WHERE id = ?",
        [
            (str(t.device_id), _opt(t.staff_id), t.issued_at_ms, i)
            for i, t in ((i, _tickets.decode(b)) for i, b in rows)
        ],
    )
    db.execute("CREATE INDEX ticket_device ON ticket (device_id, issued_at_ms)")


def _till_allowances(db: sqlite3.Connection) -> None:
    """A till's local copy of the offline spending allowances the server granted it, and what it spent
    from them offline (``cashier_app.adapters.allowances``). Amounts in ledger units: points for points,
    fen otherwise. A handheld keeps the tables empty."""
    db.execute(
        "CREATE TABLE till_allowance ("
        " id TEXT PRIMARY KEY, member_id TEXT NOT NULL, kind TEXT NOT NULL, amount INTEGER NOT NULL,"
        " spent INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL)"
    )
    db.execute(
        "CREATE TABLE till_allowance_spend ("
        " tender_id TEXT PRIMARY KEY, allowance_id TEXT NOT NULL, checkout_id TEXT NOT NULL,"
        " amount INTEGER NOT NULL, state TEXT NOT NULL, applied_seq INTEGER)"  # state: waiting | applied | released
    )
    db.execute("CREATE INDEX till_allowance_spend_checkout ON till_allowance_spend (checkout_id)")
    db.execute("CREATE INDEX till_allowance_spend_allowance ON till_allowance_spend (allowance_id, state)")


# Changes to a device's database after the first release, applied in order on open (one transaction
# with the version bump, ``PRAGMA user_version``). Never edit one that shipped; append a new one.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_ticket_owner_columns, _till_allowances]

_commands = msgspec.json.Decoder(AnyCommand)
_letters = msgspec.json.Decoder(DeadLetter)
_tickets = msgspec.json.Decoder(Ticket)
_items = msgspec.json.Decoder(CatalogItem)
_enc = msgspec.json.Encoder()


class DeviceStore:
    """Everything the device keeps. One instance per process, used from one thread (the UI loop)."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_FILE
        self.db = sqlite3.connect(self.path, isolation_level=None)  # we open transactions ourselves
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=5000")
        with self._tx() as db:
            for statement in _statements(SCHEMA):
                db.execute(statement)
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                migration(db)
                db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- settings: server address, language, device token, last position ... --------------------------

    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM setting WHERE key = ?", (key,)).fetchone()
        return default if row is None else msgspec.json.decode(row[0])

    def set(self, key: str, value: Any) -> None:
        with self._tx() as db:
            _put(db, key, value)

    def set_many(self, values: dict[str, Any]) -> None:
        with self._tx() as db:
            for key, value in values.items():
                _put(db, key, value)

    @property
    def position(self) -> int:
        return int(self.get("last_position", 0))

    @property
    def next_seq(self) -> int:
        return int(self.get("next_seq", 1))

    # --- outbox -------------------------------------------------------------------------------------

    def add_command(self, make: Callable[[int], C], ticket: Ticket | None = None) -> C:
        """Allocate the next sequence number, build the command and store it (with the local ticket
        it creates or changes) in one transaction; hand the result to the sync core afterwards."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM setting WHERE key = 'next_seq'").fetchone()
            seq = int(msgspec.json.decode(row[0])) if row else 1
            command = make(seq)
            if command.device_seq != seq:
                raise ValueError("the command must carry the sequence number it was given")
            db.execute(
                "INSERT INTO outbox (seq, command_id, body) VALUES (?, ?, ?)",
                (seq, str(command.command_id), _enc.encode(command)),
            )
            _put(db, "next_seq", seq + 1)
            if ticket is not None:
                _put_ticket(db, ticket, confirmed=False)
        return command

    def issue(self, draft: TicketDraft, *, device_id: uuid.UUID, made_at_ms: int) -> IssueTicket:
        """Store a newly issued ticket and its command. The command id is the ticket id (one id to keep,
        and the ticket QR is 16 bytes shorter)."""
        ticket = Ticket(
            id=draft.id,
            store_id=draft.store_id,
            counter_id=draft.counter_id,
            device_id=device_id,
            staff_id=draft.staff_id,
            number=draft.number,
            lines=draft.lines,
            total=draft.total,
            currency=draft.currency,
            member_id=draft.member_id,
            issued_at_ms=draft.issued_at_ms,
        )
        return self.add_command(
            lambda seq: IssueTicket(command_id=draft.id, device_seq=seq, made_at_ms=made_at_ms, ticket=draft), ticket
        )

    def outbox(self) -> list[AnyCommand]:
        return [_commands.decode(b) for (b,) in self.db.execute("SELECT body FROM outbox ORDER BY seq")]

    def outbox_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def dead_letters(self) -> list[DeadLetter]:
        return [_letters.decode(b) for (b,) in self.db.execute("SELECT body FROM dead_letter ORDER BY seq")]

    def dismiss(self, command_id: uuid.UUID) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM dead_letter WHERE command_id = ?", (str(command_id),))

    # --- local view of tickets ----------------------------------------------------------------------

    def tickets(self) -> list[Ticket]:
        return [_tickets.decode(b) for (b,) in self.db.execute("SELECT body FROM ticket ORDER BY number")]

    def ticket(self, ticket_id: uuid.UUID) -> Ticket | None:
        row = self.db.execute("SELECT body FROM ticket WHERE id = ?", (str(ticket_id),)).fetchone()
        return None if row is None else _tickets.decode(row[0])

    def confirmed_tickets(self) -> list[Ticket]:
        rows = self.db.execute("SELECT body FROM ticket WHERE confirmed = 1 ORDER BY number")
        return [_tickets.decode(b) for (b,) in rows]

    # --- the sync core ------------------------------------------------------------------------------

    def sync_client(self, device_token: str, **options: Any) -> SyncClient:
        """A sync core restored from what is on disk."""
        return SyncClient(
            device_token,
            position=self.position,
            tickets=self.confirmed_tickets(),
            outbox=self.outbox(),
            dead_letters=self.dead_letters(),
            next_seq=self.next_seq,
            **options,
        )

    def persist(self, output: Output) -> None:
        """Write down what a sync output means for the device; ``Send`` and the rest are the driver's."""
        match output:
            case Done(command_id=command_id):
                with self._tx() as db:
                    db.execute("DELETE FROM outbox WHERE command_id = ?", (str(command_id),))
            case DeadLettered(letter=letter):
                with self._tx() as db:
                    db.execute("DELETE FROM outbox WHERE command_id = ?", (str(letter.command.command_id),))
                    db.execute(
                        "INSERT OR REPLACE INTO dead_letter (command_id, seq, body) VALUES (?, ?, ?)",
                        (str(letter.command.command_id), letter.command.device_seq, _enc.encode(letter)),
                    )
            case EventApplied(event=event):
                with self._tx() as db:
                    _put_ticket(db, event.ticket, confirmed=True)
                    _put(db, "last_position", event.position)
            case ViewReset():
                with self._tx() as db:
                    db.execute("DELETE FROM ticket WHERE confirmed = 1")
                    _put(db, "last_position", 0)
            case _:
                pass

    # --- catalog cache ------------------------------------------------------------------------------

    def upsert_catalog(self, items: Iterable[CatalogItem], cursor: str | None = None) -> int:
        """Insert or update many items in one transaction (a page of thousands takes milliseconds),
        with the cursor that follows them, so a load interrupted anywhere resumes where it stopped."""
        rows = [
            (str(i.id), i.sku, i.barcode, i.name_zh, i.name_en, i.version, int(i.active), _enc.encode(i)) for i in items
        ]
        with self._tx() as db:
            db.executemany(UPSERT_CATALOG, rows)
            if cursor is not None:
                _put(db, "catalog_cursor", cursor)
        return len(rows)

    def catalog_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM catalog WHERE active = 1").fetchone()[0])

    def product(self, product_id: uuid.UUID) -> CatalogItem | None:
        row = self.db.execute("SELECT body FROM catalog WHERE id = ?", (str(product_id),)).fetchone()
        return None if row is None else _items.decode(row[0])

    def find_product(self, code: str) -> CatalogItem | None:
        """By barcode (what a scanner types) or SKU."""
        row = self.db.execute(
            "SELECT body FROM catalog WHERE active = 1 AND (barcode = ? OR sku = ?) LIMIT 1", (code, code)
        ).fetchone()
        return None if row is None else _items.decode(row[0])

    def search_products(self, text: str, limit: int = 50) -> list[CatalogItem]:
        """SKU, barcode or either name containing ``text`` (case-insensitive for Latin letters)."""
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.db.execute(
            "SELECT body FROM catalog WHERE active = 1 AND (sku LIKE ?1 ESCAPE '\\' OR barcode LIKE ?1 ESCAPE '\\'"
            " OR name_zh LIKE ?1 ESCAPE '\\' OR name_en LIKE ?1 ESCAPE '\\') ORDER BY sku LIMIT ?2",
            (like, limit),
        )
        return [_items.decode(b) for (b,) in rows]

    def names(self, product_id: uuid.UUID) -> tuple[str, str] | None:
        """(sku, name) for filling a scanned ticket QR's lines (``protocol.qr.verify_ticket``)."""
        item = self.product(product_id)
        return None if item is None else (item.sku, item.name_zh)


def _put(db: sqlite3.Connection, key: str, value: Any) -> None:
    db.execute(
        "INSERT INTO setting (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, _enc.encode(value)),
    )


def _put_ticket(db: sqlite3.Connection, ticket: Ticket, *, confirmed: bool) -> None:
    db.execute(
        "INSERT INTO ticket (id, number, state, confirmed, body, device_id, staff_id, issued_at_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE"
        " SET number = excluded.number, state = excluded.state, confirmed = excluded.confirmed, body = excluded.body,"
        " device_id = excluded.device_id, staff_id = excluded.staff_id, issued_at_ms = excluded.issued_at_ms",
        (
            str(ticket.id),
            ticket.number,
            ticket.state,
            int(confirmed),
            _enc.encode(ticket),
            str(ticket.device_id),
            _opt(ticket.staff_id),
            ticket.issued_at_ms,
        ),
    )


def _opt(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
