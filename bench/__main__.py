"""``python -m bench [name ...]``: run the performance benchmarks and print one table."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import traceback

from bench.common import Result, print_table

# Module name in bench/ -> what it measures. Each module has ``run() -> Result``.
BENCHMARKS: dict[str, str] = {
    "catalog_load": "100,000 catalog items into a handheld's local store",
    "offline_sync": "a handheld back online with 10,000 queued tickets",
    "ws_connections": "open device streams per server process and their memory",
    "ticket_push": "ticket issued -> received on 20 connected tills at 100 tickets/s",
    "checkout": "consolidated checkouts (3 tickets, split tender, member earning) against pgbench",
    "reports": "member reports over 1M tickets and 100k members",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"subset of: {', '.join(BENCHMARKS) or '(none yet)'}")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    results: list[Result] = []
    failed = []
    for name in names:
        print(f"running {name}: {BENCHMARKS.get(name, '?')} ...", flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            outcome = module.run()
            results.extend(outcome if isinstance(outcome, list) else [outcome])
        except Exception:
            traceback.print_exc()
            failed.append(name)
    print()
    print_table(results)
    if failed:
        print(f"failed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
