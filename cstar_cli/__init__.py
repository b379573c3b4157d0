"""cstar: the command-line tool for cStar.

Importable pieces for users: :mod:`cstar_cli.protocol.webhook` (``sign``, ``verify_signature``) and
:mod:`cstar_cli.protocol.events` (the webhook event catalog).
"""

__version__ = "0.1.0"
