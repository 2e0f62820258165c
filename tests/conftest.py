"""Shared pytest configuration. Fixtures that start real servers live next to the tests that use
them (tests/integration/conftest.py, tests/e2e/conftest.py)."""
