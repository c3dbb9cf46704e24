"""frontend/pyodide_loader.mjs, the one copy of how the page and the worker load Pyodide: run in Node
against a fake Pyodide, so its loud failures are checked without a browser; plus the check that
boot.js and worker.mjs use it instead of a copy of their own."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOADER = ROOT / "frontend" / "pyodide_loader.mjs"

# A Pyodide module as the loader sees it; each case sets globalThis.fake to shape its answers, and
# globalThis.seen records what the loader asked for.
FAKE_PYODIDE = """
export async function loadPyodide(options) {
  const fake = globalThis.fake;
  globalThis.seen.loadPyodide = options;
  const proxy = (value, name) => ({ value, destroy: () => globalThis.seen.destroyed.push(name) });
  return {
    loadPackage: async (names, options) => {
      globalThis.seen.loadPackage = { names, checkIntegrity: options.checkIntegrity };
      if (fake.unknown) throw new Error(`No known package with name '${fake.unknown}'`);
      for (const message of fake.packageErrors || []) options.errorCallback(message);
      return (fake.loaded || names).map((name) => ({ name }));
    },
    pyimport: (name) => { throw new Error(`the loader imported ${name}`); },
    toPy: (value) => proxy(value, "toPy"),
    runPython: () => Object.assign(
      (names) => ({ toJs: () => Object.fromEntries(names.value.map((n) => [n, (fake.versions || {})[n] ?? null])),
                    destroy: () => globalThis.seen.destroyed.push("found") }),
      { destroy: () => globalThis.seen.destroyed.push("checker") }),
  };
}
"""

RUNNER = """
globalThis.location = { origin: "http://127.0.0.1:8787" };
const loader = await import(process.argv[2]);
const fakeModule = process.argv[3];
const cases = JSON.parse(process.argv[4]);
const results = [];
for (const c of cases) {
  globalThis.fake = c.fake || {};
  globalThis.seen = { destroyed: [] };
  const config = { module: c.module === "missing" ? fakeModule + ".missing.mjs" : fakeModule,
                   indexURL: "/pyodide/", lockFileURL: "/wheels/pyodide-lock.abc.json" };
  let error = null;
  try {
    const pyodide = await loader.startPyodide(config);
    if (c.packages) await loader.loadPackages(pyodide, c.packages);
    if (c.wheels) loader.checkVersions(pyodide, c.wheels);
  } catch (err) {
    error = { name: err.name, message: err.message };
  }
  results.push({ error, seen: globalThis.seen });
}
console.log(JSON.stringify(results));
"""

WHEELS = [{"name": "msgspec", "version": "0.22.0", "url": "/pyodide/msgspec.whl"},
          {"name": "oddsui", "version": "0.1.0+new", "url": "/wheels/oddsui.whl"}]
VERSIONS = {"msgspec": "0.22.0", "oddsui": "0.1.0+new"}


@pytest.fixture(scope="module")
def run_loader(tmp_path_factory):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is missing (scripts/setup needs it for Pyodide from npm)")
    folder = tmp_path_factory.mktemp("loader")
    fake = folder / "fake_pyodide.mjs"
    fake.write_text(FAKE_PYODIDE)
    runner = folder / "runner.mjs"
    runner.write_text(RUNNER)

    def run(*cases):
        proc = subprocess.run([node, str(runner), LOADER.as_uri(), fake.as_uri(), json.dumps(cases)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run


def test_pyodide_boots_from_our_origin_and_installs_everything_from_the_lock_in_one_step(run_loader):
    (result,) = run_loader({"packages": ["msgspec", "oddsui"], "wheels": WHEELS, "fake": {"versions": VERSIONS}})
    assert result["error"] is None
    assert result["seen"]["loadPyodide"] == {
        "indexURL": "http://127.0.0.1:8787/pyodide/",
        "lockFileURL": "http://127.0.0.1:8787/wheels/pyodide-lock.abc.json",
        "fullStdLib": False,
    }
    # one loadPackage for both (no micropip: the fake's pyimport would fail the case)
    assert result["seen"]["loadPackage"] == {"names": ["msgspec", "oddsui"], "checkIntegrity": True}
    # every Python proxy the version check made is destroyed
    assert sorted(result["seen"]["destroyed"]) == sorted(["toPy", "found", "checker"])


def test_every_failure_is_a_load_error_that_says_what_failed(run_loader):
    missing_module, unknown, not_loaded, callback_error, stale_version = run_loader(
        {"module": "missing", "packages": ["oddsui"]},
        {"packages": ["oddsui"], "fake": {"unknown": "oddsui"}},
        {"packages": ["oddsui", "msgspec"], "fake": {"loaded": ["oddsui"]}},
        {"packages": ["msgspec"], "fake": {"loaded": [], "packageErrors": ["msgspec: integrity mismatch"]}},
        {"wheels": WHEELS, "fake": {"versions": {**VERSIONS, "oddsui": "0.1.0+old"}}},
    )
    assert missing_module["error"]["name"] == "LoadError"
    assert missing_module["error"]["message"].startswith("cannot import ")
    assert "loadPyodide" not in missing_module["seen"]
    assert unknown["error"] == {"name": "LoadError",
                                "message": "loadPackage failed for [oddsui]: No known package with name 'oddsui'"}
    # Pyodide may resolve without a package it cannot load, with only a warning: the loader fails loudly.
    assert not_loaded["error"] == {"name": "LoadError",
                                   "message": "loadPackage failed for [msgspec]: not in the lock file"}
    assert callback_error["error"] == {"name": "LoadError",
                                       "message": "loadPackage failed for [msgspec]: msgspec: integrity mismatch"}
    assert {"toPy", "found", "checker"} == set(stale_version["seen"]["destroyed"])  # released on failure too
    assert stale_version["error"] == {"name": "LoadError",
                                      "message": "oddsui: installed 0.1.0+old, manifest says 0.1.0+new"}


def test_boot_js_and_the_worker_use_the_shared_loader_instead_of_a_copy():
    def code(path):  # without the comment lines, which may well mention what the loader does
        return "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("//"))

    sources = {path.relative_to(ROOT).as_posix(): code(path)
               for path in [*ROOT.glob("frontend/*.js"), *ROOT.glob("frontend/*.mjs"), *ROOT.glob("worker/*.mjs")]}
    assert set(sources) == {"frontend/boot.js", "frontend/pyodide_loader.mjs", "worker/worker.mjs"}
    for needle in ("loadPyodide(", ".loadPackage(", "checkIntegrity"):
        holders = [name for name, text in sources.items() if needle in text]
        assert holders == ["frontend/pyodide_loader.mjs"], (needle, holders)
    boot, worker = sources["frontend/boot.js"], sources["worker/worker.mjs"]
    assert "import(new URL(manifest.loader.url" in boot and "import(new URL(config.loader.url" in worker
    for text in (boot, worker):
        assert "loader.startPyodide(" in text and "loader.loadPackages(" in text
    assert "loader.checkVersions(" in boot and "micropip" not in boot
    exported = set(re.findall(r"^export (?:async )?(?:function|class) (\w+)", sources["frontend/pyodide_loader.mjs"],
                              re.MULTILINE))
    assert exported == {"LoadError", "absolute", "startPyodide", "loadPackages", "checkVersions"}
