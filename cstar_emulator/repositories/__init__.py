"""The SQL of the emulator, one module per table or resource, and nothing else: no HTTP, no rules,
no events. Each repository wraps the one :class:`~cstar_emulator.db.Database`; a caller that needs
several statements to commit together opens :meth:`~cstar_emulator.db.Database.transaction`
around them. Rows become API objects only through :mod:`cstar_emulator.models`.

Resource tables (tickets, customers, messages, articles, webhooks) are partitioned by
:class:`~cstar_emulator.db.Scope` and share :class:`~cstar_emulator.repositories.table.ScopedTable`.
"""
