"""What client and emulator must agree on: the cStar API as data.

``openapi.json`` is an OpenAPI 3.1 document of every endpoint the developer reference documents
and every endpoint of the server contract (docs/protocol.md) the CLI talks to, with the object
schemas, envelopes, errors, headers and the webhook event catalog. :mod:`cstar_cli.protocol.openapi`
loads and queries it; docs/api.md describes its layout and extensions.

This package imports nothing else of ``cstar_cli``, so both sides can depend on it.
"""
