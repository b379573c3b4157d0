"""Output models shown by more than one surface (the CLI's ``--json`` and MCP results), with the
functions that build them. No Typer and no MCP SDK here, so both surfaces can import them."""
