"""Codex's app-server: the JSON-RPC client the mcp lane drives a turn through — its wire (``protocol``),
the process and line transport (``connection``), the state kept from what it said (``conversation``),
recovery of a turn from ``thread/read`` (``recovery``), and the protocol's calls over them (``client``)."""
