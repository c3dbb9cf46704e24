from __future__ import annotations

from pathlib import Path

import pytest

from backend.settings import Settings, SettingsError, client_limit


def test_every_field_reads_from_its_upper_case_variable():
    s = Settings.from_env({"PORT": "9000", "GROUP_GRACE": "2.5", "CORS_ALLOW_ORIGINS": "https://a, https://b",
                           "PROXY_HEADERS": "yes", "STATIC_DIR": "/tmp/x", "SWARM_WS_URL": "ws://feed/"})
    assert (s.port, s.group_grace, s.proxy_headers, s.static_dir) == (9000, 2.5, True, Path("/tmp/x"))
    assert s.cors_allow_origins == ("https://a", "https://b")
    assert not s.uses_simulator and Settings().uses_simulator


@pytest.mark.parametrize("env", [{"PORT": "eighty"}, {"PROXY_HEADERS": "maybe"}, {"GROUP_GRACE": "soon"}])
def test_a_bad_value_names_the_variable(env):
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)


def test_every_field_is_documented():
    source = Path(__file__).resolve().parents[2].joinpath("backend", "settings.py").read_text()
    for name in Settings.__dataclass_fields__:
        after = source.split(f"    {name}:", 1)[1].split("\n", 2)[1]
        assert after.strip().startswith('"""'), f"{name} has no docstring"


@pytest.mark.parametrize("max_clients, open_files, reserve, expected", [
    (10_000, None, 128, 10_000),  # unlimited descriptors
    (10_000, 1_048_576, 128, 10_000),  # plenty
    (10_000, 1024, 128, 896),  # `ulimit -n 1024`: the descriptors bound the clients
    (10_000, 100, 128, 1),  # absurdly low: still one
    (500, 1024, 128, 500),  # the configured limit is already lower
])
def test_the_client_limit_leaves_the_reserve_of_the_open_file_limit(max_clients, open_files, reserve, expected):
    assert client_limit(max_clients, open_files, reserve) == expected
