"""A local, persistent cStar API for development and tests (``cstar emulator start``).

It speaks the reference's REST API (tickets, customers, messages, articles, webhooks) and the server
contract's extra endpoints (``/me``, API keys, listen sessions over WebSocket, request logs), keeps
everything in SQLite, signs and retries webhook deliveries, and adds test controls under
``/_emulator/``. ``docs/emulator.md`` is the user guide; ``docs/protocol.md`` the contract as built.

Layers, each importing only those below it: ``server`` (start/run) and ``app`` (the Starlette
application) → ``routes`` (one module per resource: parse, validate, call a service, answer) and
``middleware`` (request IDs, auth, rate limits, idempotency, logging) → ``state`` (wires everything
into one :class:`Emulator`) → ``services`` (the rules: what each write changes and which events it
fires) → ``repositories`` (the SQL, one module per table) → ``models`` (row → API object), ``db``,
``envelope``, ``validate``, ``ids``, ``hub``. Beside them: ``listeners`` (open listen WebSockets),
``idempotency``, ``hosts``, ``seed``, ``samples``. ``docs/emulator.md`` ("Code layout") has more.

Importing this package starts nothing.
"""

from cstar_emulator.app import create_app
from cstar_emulator.db import DatabaseError, default_db_path
from cstar_emulator.server import AddressInUseError, serve
from cstar_emulator.state import Emulator, Settings

__all__ = ["AddressInUseError", "DatabaseError", "Emulator", "Settings", "create_app", "default_db_path", "serve"]
