"""A local, persistent cStar API for development and tests (``cstar emulator start``).

It speaks the reference's REST API (tickets, customers, messages, articles, webhooks) and the server
contract's extra endpoints (``/me``, API keys, listen sessions over WebSocket, request logs), keeps
everything in SQLite, signs and retries webhook deliveries, and adds test controls under
``/_emulator/``. ``docs/emulator.md`` is the user guide; ``docs/protocol.md`` the contract as built.

Modules: ``server`` (start/run), ``app`` (routes), ``state`` (the shared services), ``middleware``
(request IDs, auth, rate limits, idempotency, logging), ``auth``, ``idempotency``, ``db``, ``seed``,
``models`` and ``resources`` (the REST resources), ``account`` (``/me``, API keys), ``events``,
``samples``, ``hub``, ``sessions`` (listen WebSocket), ``dispatch`` and ``deliveries`` (webhooks),
``logs``, ``controls``, ``envelope``, ``validate``, ``ids``.

Importing this package starts nothing.
"""

from cstar_emulator.app import create_app
from cstar_emulator.db import DatabaseError, default_db_path
from cstar_emulator.server import AddressInUseError, serve
from cstar_emulator.state import Emulator, Settings

__all__ = ["AddressInUseError", "DatabaseError", "Emulator", "Settings", "create_app", "default_db_path", "serve"]
