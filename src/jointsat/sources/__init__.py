"""Fetch element sets from their sources (CelesTrak GP and SupGP, Space-Track), within their rules.

This is I/O: the network and the store. The pure core never imports it; the CLI and
the service call :func:`jointsat.sources.refresh.refresh` (docs/elements.md, "Sources
and their rules").
"""
