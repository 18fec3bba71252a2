"""The baseline of ``ticket_push``: a bare websocket server that relays each message it receives to
every other connection (no database, no decoding). ``python -m bench._broadcast PORT``."""

from __future__ import annotations

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, broadcast, serve


async def main(port: int) -> None:
    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            async for message in ws:
                broadcast([c for c in clients if c is not ws], message)
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", port, max_size=None, compression=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
