"""The Starlette endpoints, one module per resource or area: each parses and validates its request,
calls one service of :class:`~cstar_emulator.state.Emulator` and wraps the answer in the envelope.
No SQL and no rules here. Every module has a ``ROUTES`` list of ``(method, path, endpoint)``;
writes are wrapped in :func:`~cstar_emulator.idempotency.atomic` by :func:`._http.api_routes`.
"""
