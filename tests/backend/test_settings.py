from __future__ import annotations

from pathlib import Path

import pytest

from backend.settings import Settings, SettingsError, client_limit, client_limits


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


@pytest.mark.parametrize("hub, tracker, open_files, reserve, expected", [
    (10_000, 10_000, None, 128, (10_000, 10_000)),  # unlimited descriptors
    (10_000, 10_000, 1_048_576, 128, (10_000, 10_000)),  # both fit
    (10_000, 10_000, 600, 128, (236, 236)),  # the 472 shared descriptors, half each
    (10_000, 10_000, 601, 128, (237, 236)),  # an odd one goes to the hub
    (100, 10_000, 600, 128, (100, 372)),  # a limit below its half keeps it; the other has the rest
    (10_000, 50, 600, 128, (422, 50)),
    (300, 300, 600, 128, (236, 236)),  # both over their half: half each
    (10_000, 10_000, 100, 128, (1, 1)),  # absurdly low: still one each
    (10_000, None, 600, 128, (472, None)),  # no tracker: the hub has them all
])
def test_the_hub_and_the_tracker_share_the_descriptors_the_reserve_leaves(hub, tracker, open_files, reserve,
                                                                          expected):
    limits = client_limits(hub, tracker, open_files, reserve)
    assert limits == expected
    if open_files is not None and tracker is not None and open_files - reserve >= 2:
        assert limits[0] <= hub and limits[1] <= tracker  # never raised
        assert sum(limits) == min(open_files - reserve, hub + tracker)  # together they fit, and use what there is
