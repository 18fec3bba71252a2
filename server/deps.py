"""Type aliases for the app's named dependencies (``create_app`` provides them).

Litestar wants injected parameters marked explicitly; write ``conn: Conn`` in a handler rather than
``conn: asyncpg.Connection``.
"""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from litestar.di import NamedDependency

from server.auth.guards import Caller, DeviceCaller

Conn: TypeAlias = NamedDependency[asyncpg.Connection]
CallerDep: TypeAlias = NamedDependency[Caller]
DeviceDep: TypeAlias = NamedDependency[DeviceCaller]
