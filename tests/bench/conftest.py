import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bench: runs a benchmark harness end to end (small numbers, real processes)")
