"""Station operations, pure: the contact lifecycle, events, signatures, radio, exchange formats.

Nothing here reads the clock, the network or a database: ``now`` is an argument, and
the store (``jointsat.store``) and the service deliver what these modules compute.
"""
