"""Links ``SyncClient``s to the model server through a network that can lose, repeat and reorder frames.

Like h11's ``ConnectionPair``: no sockets, no clock; every step is chosen by the test.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

import msgspec

from protocol.codec import encode
from protocol.messages import Message
from protocol.sync import (
    DeadLettered,
    Done,
    EventApplied,
    Fatal,
    Problem,
    Reconnect,
    Send,
    SyncClient,
    ViewReset,
    client_frames,
)
from protocol.tickets import AnyCommand, BatchResult, TicketDraft, TicketLine
from tests.protocol.sync_model import ModelConnection, ModelServer


@dataclass
class Link:
    """One websocket: frames on the wire each way, as bytes (so the codecs are exercised too)."""

    server_end: ModelConnection
    to_server: list[bytes] = field(default_factory=list)
    to_client: list[bytes] = field(default_factory=list)


@dataclass
class Device:
    token: str
    core: SyncClient
    link: Link | None = None
    made: list[AnyCommand] = field(default_factory=list)
    done: list[uuid.UUID] = field(default_factory=list)
    problems: list[Message | object] = field(default_factory=list)
    fatal: bool = False


class Network:
    def __init__(self, server: ModelServer, store_id: uuid.UUID, devices: int) -> None:
        self.server = server
        self.store_id = store_id
        self.counter_id = uuid.UUID(int=7)
        self.devices: list[Device] = []
        self._ids = 1000
        self.stats: Counter[str] = Counter()
        for i in range(devices):
            token = f"token-{i}"
            server.enroll(token, uuid.UUID(int=100 + i), store_id)
            self.devices.append(Device(token, SyncClient(token, batch_size=3, window=5, ack_every=2)))

    def new_id(self) -> uuid.UUID:
        self._ids += 1
        return uuid.UUID(int=self._ids)

    # --- device actions -----------------------------------------------------------------------------

    def issue(self, d: Device) -> uuid.UUID:
        ticket_id = self.new_id()
        line = TicketLine(
            line_no=1,
            product_id=uuid.UUID(int=9),
            sku="SKU",
            name="kettle",
            qty=1,
            list_price=100,
            unit_price=100,
            line_total=100,
        )
        draft = TicketDraft(
            id=ticket_id,
            store_id=self.store_id,
            counter_id=self.counter_id,
            number=f"T-{ticket_id.int}",
            lines=[line],
            total=100,
        )
        d.made.append(d.core.issue(draft, command_id=self.new_id()))
        self.flush(d)
        return ticket_id

    def act(self, d: Device, kind: str, ticket_id: uuid.UUID) -> None:
        cid = self.new_id()
        if kind == "void":
            d.made.append(d.core.void(ticket_id, command_id=cid))
        elif kind == "attach":
            d.made.append(d.core.attach_member(ticket_id, uuid.UUID(int=5), command_id=cid))
        else:
            d.made.append(d.core.release(ticket_id, command_id=cid))
        self.flush(d)

    def connect(self, d: Device) -> None:
        if d.link is None and not d.fatal:
            d.link = Link(self.server.connect())
            d.core.connection_made()
            self.flush(d)

    def cut(self, d: Device) -> None:
        if d.link is not None:
            self.server.disconnect(d.link.server_end)
            d.link = None
            d.core.connection_lost()
            self.flush(d)

    def upload(self, d: Device, lose_answer: bool) -> None:
        """The HTTP batch path, which may run while a websocket is also up."""
        batch = d.core.batch(limit=4)
        if not batch.commands:
            return
        answer = self.server.upload(d.token, batch)
        if not lose_answer:
            d.core.batch_answered(msgspec.json.decode(encode(answer), type=BatchResult))
            self.flush(d)

    # --- the wire -----------------------------------------------------------------------------------

    def flush(self, d: Device) -> None:
        """Carry out the core's outputs and move the server's frames onto the wire."""
        for out in d.core.outputs():
            match out:
                case Send():
                    if d.link is not None:
                        d.link.to_server.append(out.data)
                case Reconnect():
                    self.stats["reconnect asked"] += 1
                    self.cut(d)
                case Done():
                    d.done.append(out.command_id)
                case Fatal():
                    d.fatal = True
                    d.problems.append(out)
                case Problem():
                    d.problems.append(out)
                case DeadLettered() | EventApplied() | ViewReset():
                    pass
        self.pull_server_frames()

    def pull_server_frames(self) -> None:
        for d in self.devices:
            if d.link is not None and d.link.server_end.to_client:
                d.link.to_client.extend(encode(f) for f in d.link.server_end.to_client)
                d.link.server_end.to_client.clear()

    def deliver(self, d: Device, to_server: bool, index: int, keep: bool) -> None:
        """Deliver the frame at ``index`` (reordering), optionally leaving a copy (duplication)."""
        if d.link is None:
            return
        queue = d.link.to_server if to_server else d.link.to_client
        if not queue:
            return
        index %= len(queue)
        self.stats["delivered"] += 1
        self.stats["reordered"] += index > 0
        self.stats["duplicated"] += keep
        data = queue[index] if keep else queue.pop(index)
        if to_server:
            d.link.server_end.receive(client_frames.decode(data))
            self.pull_server_frames()
        else:
            d.core.receive_data(data)
            self.flush(d)

    def drop(self, d: Device, to_server: bool, index: int) -> None:
        if d.link is None:
            return
        queue = d.link.to_server if to_server else d.link.to_client
        if queue:
            self.stats["dropped"] += 1
            queue.pop(index % len(queue))

    # --- healing ------------------------------------------------------------------------------------

    def heal(self) -> None:
        """Reconnect everyone over a perfect network and run until nothing moves."""
        for d in self.devices:
            self.cut(d)
            self.connect(d)
        for _ in range(10_000):
            moved = False
            for d in self.devices:
                if d.link is None and not d.fatal:
                    self.connect(d)
                    moved = True
                if d.link is not None and d.link.to_server:
                    self.deliver(d, True, 0, keep=False)
                    moved = True
                if d.link is not None and d.link.to_client:
                    self.deliver(d, False, 0, keep=False)
                    moved = True
            if not moved:
                return
        raise AssertionError("the network never settled")
