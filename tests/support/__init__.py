"""Support for the tests: the shared data, oracles and the consortium builder."""
