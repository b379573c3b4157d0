"""The emulator's rules, callable without HTTP: what each write changes, which events it fires, how
statuses move, which partition a key sees. Services take validated values (routes parse requests),
use :mod:`cstar_emulator.repositories` for every read and write, raise
:class:`~cstar_emulator.envelope.ApiError` for what the API answers as an error, and return API
objects. Each write runs in one transaction (joining the caller's, such as a route's
:func:`~cstar_emulator.idempotency.atomic`), so its rows and its events commit together; events
reach listeners only after the commit.
"""
