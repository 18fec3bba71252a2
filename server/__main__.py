"""``python -m server run|migrate|seed``: the operator's entry point."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import asyncpg
import uvicorn

from server.app import create_app
from server.db.embedded import EmbeddedPostgres
from server.db.migrate import migrate
from server.demo import DemoInfo, seed_demo
from server.history import generate
from server.settings import Settings

log = logging.getLogger("server")

DEMO_HISTORY_TICKETS = 3000  # a year of sales in the demo store, so the reports show something at once


async def prepare(dsn: str, settings: Settings, seed: bool) -> DemoInfo | None:
    conn = await asyncpg.connect(dsn)
    try:
        applied = await migrate(conn)
        for name in applied:
            print(f"  migration applied: {name}")
        if seed:
            return await seed_demo(conn, settings.enrollment_code_minutes, history_tickets=DEMO_HISTORY_TICKETS)
    finally:
        await conn.close()
    return None


def banner(settings: Settings, info: DemoInfo | None, embedded: bool) -> str:
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        "floorticket is running / 服务已启动",
        f"  API:        {base}",
        f"  Admin:      {base}/admin/sign-in   (managers sign in with their password)",
        f"  Health:     {base}/health",
        f"  OpenAPI:    {base}/schema/openapi.json",
        f"  Database:   {'embedded PostgreSQL in ' + str(settings.data_dir / 'pg') if embedded else 'DATABASE_URL'}",
    ]
    if info and info.store_id:
        lines.append("  Demo sign-ins (staff code / PIN / password):")
        for code, name, role, pin, password in info.staff:
            lines.append(
                f"    {code:5} {role:10} PIN {pin}" + (f"  password {password}" if password else "") + f"   {name}"
            )
        if info.enrollment_codes:
            lines.append("  Device enrollment codes (one-time):")
            for label, kind, code in info.enrollment_codes:
                lines.append(f"    {code}  {kind:8} {label}")
    lines.append("  Press Ctrl-C to stop (PostgreSQL stops with it).")
    return "\n".join(lines)


def cmd_run(settings: Settings) -> int:
    pg: EmbeddedPostgres | None = None
    dsn = settings.database_url
    if not dsn:
        pg = EmbeddedPostgres(settings.data_dir / "pg", port=int(_env("FT_PG_PORT", "54329")))
        print(f"Starting embedded PostgreSQL in {pg.data_dir} ...")
        pg.start()
        dsn = pg.dsn
    try:
        info = asyncio.run(prepare(dsn, settings, settings.seed_demo))
        app = create_app(settings, dsn=dsn)
        # Frames are small JSON: per-message compression would cost a zlib context (tens of KiB) per
        # open device stream for nothing (bench/ws_connections.py).
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            ws="websockets-sansio",
            ws_per_message_deflate=False,
        )
        server = uvicorn.Server(config)
        print(banner(settings, info, pg is not None), flush=True)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if pg is not None:
            print("Stopping embedded PostgreSQL ...")
            pg.stop()
    return 0


def cmd_migrate(settings: Settings) -> int:
    if not settings.database_url:
        print("Set DATABASE_URL to migrate an external database (run migrates the embedded one).")
        return 2
    asyncio.run(prepare(settings.database_url, settings, seed=False))
    print("migrations up to date")
    return 0


def cmd_history(settings: Settings, args: argparse.Namespace) -> int:
    """Add a generated sales history to DATABASE_URL (or the embedded database)."""
    pg: EmbeddedPostgres | None = None
    dsn = settings.database_url
    if not dsn:
        pg = EmbeddedPostgres(settings.data_dir / "pg", port=int(_env("FT_PG_PORT", "54329")))
        pg.start()
        dsn = pg.dsn
    try:
        asyncio.run(_history(dsn, settings, args))
    finally:
        if pg is not None:
            pg.stop()
    return 0


async def _history(dsn: str, settings: Settings, args: argparse.Namespace) -> None:
    await prepare(dsn, settings, seed=settings.seed_demo)
    conn = await asyncpg.connect(dsn)
    try:
        print(f"Generating {args.tickets:,} tickets for {args.members:,} new members over {args.days} days ...")
        made = await generate(
            conn, tickets=args.tickets, members=args.members, stores=args.stores, days=args.days, seed=args.seed,
            progress=lambda line: print(line, flush=True),
        )  # fmt: skip
        print(f"{made.tickets:,} tickets, {made.checkouts:,} checkouts, {made.lines:,} lines in {made.seconds:.0f} s")
    finally:
        await conn.close()


def _env(name: str, default: str) -> str:
    import os

    return os.environ.get(name, default)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m server", description="floorticket server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the server (embedded PostgreSQL unless DATABASE_URL is set)")
    sub.add_parser("migrate", help="apply migrations to DATABASE_URL")
    hist = sub.add_parser("history", help="add a generated year of sales history (demo data, benchmarks)")
    hist.add_argument("--tickets", type=int, default=100_000, help="paid tickets to make (default 100,000)")
    hist.add_argument("--members", type=int, default=10_000, help="new members to make (default 10,000)")
    hist.add_argument("--stores", type=int, default=1, help="add stores until the chain has this many")
    hist.add_argument("--days", type=int, default=365, help="days of history before today")
    hist.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same history")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "run":
        return cmd_run(settings)
    if args.command == "history":
        return cmd_history(settings, args)
    return cmd_migrate(settings)


if __name__ == "__main__":
    sys.exit(main())
