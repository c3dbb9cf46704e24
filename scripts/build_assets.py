#!/usr/bin/env python3
"""Build the browser assets the backend serves under ``build/static/`` (idempotent).

What it produces (nothing here is committed; ``build/`` is gitignored)::

    build/static/
      pyodide/                      served at /pyodide/
        pyodide.mjs, pyodide.asm.mjs, pyodide.asm.wasm, python_stdlib.zip, ...   (npm: pyodide@PYODIDE_VERSION)
        msgspec-<v>-cp314-cp314-pyemscripten_<abi>_wasm32.whl                      (PyPI, wasm build)
        pyodide-lock.local.json     lock listing that wheel with its real sha256 (the parse worker's)
        pyodide_loader.<hash>.mjs   frontend/pyodide_loader.mjs: how the page and the worker load Pyodide
      wheels/                       served at /wheels/
        <sha12>/oddsui-<base>+<srchash>-py3-none-any.whl                          (uv build + hatchling, frontend/;
                                                                                   then Pyodide's bytecode added;
                                                                                   the folder: the wheel's hash)
        pyodide-lock.<hash>.json    the page's lock: msgspec and oddsui by absolute URL with their
                                    sha256, so boot.js installs both in one loadPackage (no micropip)
      worker/                       served at /worker/ (immutable: the names carry a content hash)
        worker.<hash>.mjs, parse.<hash>.py                                        (copied from worker/)
      apidocs/rapidoc-min.js        served at /apidocs/: the UI of /schema                    (npm: rapidoc@RAPIDOC_VERSION)
      manifest.json                 served at /manifest.json; boot.js reads every URL from it
    build/test/axe.min.js           axe-core (npm: axe-core@AXE_VERSION), never served: the e2e suite
                                    injects it into the page with Playwright (accessibility checks)
    build/npm/                      cache of the npm tarballs
    build/pip/                      cache of the PyPI downloads

Why a local lock: Pyodide fetches packages from the lock file's folder and checks each file's sha256
against the lock (SRI). PyPI's msgspec wheel is not byte-identical to Pyodide's own build, so the
stock ``pyodide-lock.json`` rejects it; we write a lock with the real hashes instead. The page's lock
also lists our own wheel, so one ``loadPackage`` installs everything the first view needs: measured
here (warm cache, 3 runs each) 0.17 s against 0.6-1.1 s for loadPackage("micropip") followed by
``micropip.install`` of the two wheels by URL.

Each step first checks whether its output is already present and correct, so a second run is a quick
no-op. Our own wheel is built by a standard build backend (``uv build --wheel frontend``: hatchling,
pinned in ``frontend/pyproject.toml``) with a fixed ``SOURCE_DATE_EPOCH``, so the same sources give
the same bytes. Its version carries a hash of what it is built from (``0.1.0+<hash>``, computed by
``frontend/wheel_version.py`` for hatchling and for this script alike), so it is rebuilt exactly when
``frontend/oddsui`` (or its build configuration) changes and every build has a unique, cacheable URL. The
parse worker's two files and the shared Pyodide loader get the same treatment: their names carry a
hash of their bytes, and the manifest names them (``loader``; the ``worker`` section, with the SRI
integrity the worker checks parse.py against). The loader sits next to the Pyodide core it loads.

Run with any Python >= 3.11 (stdlib only): ``python3 scripts/build_assets.py`` or
``uv run python scripts/build_assets.py``. Needs ``npm``, a Python with ``pip`` (for
``pip download``) and ``uv`` (``$UV``, on PATH, or ``python3 -m uv``; it fetches hatchling from PyPI
the first time); ``--force`` rebuilds everything. Any failure exits non-zero with a message.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import fcntl
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FRONTEND_DIR = ROOT / "frontend"  # the wheel's project: pyproject.toml, wheel_version.py, oddsui/
LOADER_SOURCE = ROOT / "frontend" / "pyodide_loader.mjs"
WORKER_SOURCE_DIR = ROOT / "worker"
BUILD_DIR = ROOT / "build"
STATIC_DIR = BUILD_DIR / "static"
PYODIDE_DIR = STATIC_DIR / "pyodide"
APIDOCS_DIR = STATIC_DIR / "apidocs"
WHEELS_DIR = STATIC_DIR / "wheels"
WORKER_DIR = STATIC_DIR / "worker"
MANIFEST_PATH = STATIC_DIR / "manifest.json"
NPM_CACHE = BUILD_DIR / "npm"
PIP_CACHE = BUILD_DIR / "pip"

PYODIDE_VERSION = "314.0.7"
# npm's dist.integrity for pyodide@314.0.7 (``npm view pyodide@314.0.7 dist.integrity``).
PYODIDE_INTEGRITY = "sha512-0YvXxEhfEdpLfb/XkM2BFAeMROq0iMUX2bzzH9pOttyMcWkwq+HbE5uyuGD82LN7y2q+SNvi/6V5JEsOlD2R1A=="
# The UI of /schema (npm: ``npm view rapidoc@9.3.8 dist.integrity``).
RAPIDOC_VERSION = "9.3.8"
RAPIDOC_INTEGRITY = "sha512-eCYEbr1Xr8OJZvVCw8SXl9zBCRoLJbhNGuG5IZTHq/RWAOq/O4MafUCuFEyZHsrhLrlUcGZMa64pyhpib8fQKQ=="
# The accessibility checker the e2e suite injects (``npm view axe-core@4.14.1 dist.integrity``).
AXE_VERSION = "4.14.1"
AXE_INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
TEST_DIR = BUILD_DIR / "test"
# Files boot needs from the core; their absence means the extraction is broken.
PYODIDE_REQUIRED = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
PYODIDE_MARKER = ".pyodide-version"
# Not needed at runtime; leaving them out keeps demo pages (console.html) off our origin.
PYODIDE_UNSERVED_SUFFIXES = (".html", ".d.ts", "README.md", "package.json")
LOCAL_LOCK_NAME = "pyodide-lock.local.json"

# Our package: a pure py3 wheel built from frontend/ (pyproject.toml there has its metadata).
APP_DIST_NAME = "oddsui"
APP_ENTRY = {"module": "oddsui.app", "function": "main"}
# The wheel's zip timestamps (hatchling reads SOURCE_DATE_EPOCH): fixed, so the bytes depend only on
# the sources, not on when or where they were built. 1980-01-01, the earliest a zip entry can carry.
WHEEL_SOURCE_DATE_EPOCH = 315532800
# The parse worker (docs/design.md R10): worker/worker.mjs boots its own Pyodide, loads these packages from the local
# lock and imports worker/parse.py under this module name.
WORKER_FILES = ("worker.mjs", "parse.py")
WORKER_PACKAGES = ("msgspec",)
WORKER_PARSE_MODULE = "oddsworker_parse"


@dataclass(frozen=True)
class PypiWheel:
    """A wheel fetched from PyPI with ``pip download``; ``sha256`` pins the exact bytes."""

    name: str
    version: str
    file_name: str
    sha256: str
    pip_args: tuple[str, ...]
    imports: tuple[str, ...]


PYPI_WHEELS = (
    PypiWheel(
        name="msgspec",
        version="0.22.0",
        file_name="msgspec-0.22.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        sha256="a66b1766311e42371e509c996c3933b161c7ae0eabdf361af5316dec197e1022",
        pip_args=(
            "--platform",
            "pyemscripten_2026_0_wasm32",
            "--python-version",
            "3.14",
            "--implementation",
            "cp",
        ),
        imports=("msgspec",),
    ),
)
# What the page installs with one pyodide.loadPackage from its lock (everything the first view needs).
PAGE_PACKAGES = ("msgspec", APP_DIST_NAME)
PAGE_LOCK_STEM = "pyodide-lock"  # wheels/pyodide-lock.<hash>.json


class BuildError(RuntimeError):
    """A build step failed; the message says which and why."""


def log(message: str) -> None:
    print(f"[build_assets] {message}", flush=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write atomically unless the file already holds exactly ``data``; return whether it wrote."""
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command, return its stdout; raise BuildError with its output if it fails."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BuildError(f"command not found: {cmd[0]} ({exc})") from exc
    if proc.returncode != 0:
        raise BuildError(
            f"command failed with exit code {proc.returncode}: {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc.stdout


# --------------------------------------------------------------------------------------------------
# Step 1: the Pyodide core from npm


def pyodide_core_present() -> bool:
    marker = PYODIDE_DIR / PYODIDE_MARKER
    if not marker.is_file() or marker.read_text().strip() != PYODIDE_VERSION:
        return False
    return all((PYODIDE_DIR / name).is_file() and (PYODIDE_DIR / name).stat().st_size > 0 for name in PYODIDE_REQUIRED)


def npm_tarball(name: str = "pyodide", version: str = PYODIDE_VERSION, integrity: str = PYODIDE_INTEGRITY) -> Path:
    """Return the verified npm tarball of ``name@version``, fetching it with ``npm pack`` if not cached."""
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    tarball = NPM_CACHE / f"{name}-{version}.tgz"
    if tarball.is_file() and integrity_of(tarball) == integrity:
        return tarball
    if shutil.which("npm") is None:
        raise BuildError(f"npm is not on PATH; it is needed to fetch {name} (npm pack)")
    log(f"npm pack {name}@{version}")
    out = run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(NPM_CACHE), "--json"], cwd=NPM_CACHE)
    try:
        produced = json.loads(out)[0]["filename"]
    except (ValueError, LookupError, TypeError) as exc:
        raise BuildError(f"could not read npm pack's output: {out[:500]!r}") from exc
    produced_path = NPM_CACHE / Path(produced).name
    if produced_path != tarball:
        os.replace(produced_path, tarball)
    actual = integrity_of(tarball)
    if actual != integrity:
        tarball.unlink(missing_ok=True)
        raise BuildError(f"{name} tarball integrity mismatch: expected {integrity}, got {actual}")
    return tarball


def integrity_of(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def extract_package_files(tarball: Path, dest: Path) -> None:
    """Extract the regular files under ``package/`` (flat) into ``dest``, refusing unsafe names.

    Done by hand rather than with ``extractall(filter=...)``, which older 3.11 patch releases lack.
    Files keep the tarball's mtimes, so re-extracting identical files keeps their HTTP ETags.
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith("package/"):
                continue
            name = member.name[len("package/"):]
            if not name or "/" in name or name in (".", "..") or name.endswith(PYODIDE_UNSERVED_SUFFIXES):
                continue  # the core is flat; anything nested or odd is not ours to serve
            source = tar.extractfile(member)
            if source is None:
                raise BuildError(f"cannot read {member.name} from {tarball.name}")
            target = dest / name
            with source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
            os.chmod(target, 0o644)
            os.utime(target, (member.mtime, member.mtime))


def ensure_pyodide_core(force: bool) -> bool:
    if not force and pyodide_core_present():
        log(f"pyodide core {PYODIDE_VERSION}: up to date")
        return False
    tarball = npm_tarball()
    STATIC_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pyodide-", dir=STATIC_DIR))
    try:
        extracted = staging / "package"
        extract_package_files(tarball, extracted)
        missing = [name for name in PYODIDE_REQUIRED if not (extracted / name).is_file()]
        if missing:
            raise BuildError(f"pyodide tarball lacks {missing}")
        (extracted / PYODIDE_MARKER).write_text(PYODIDE_VERSION + "\n")
        # Keep previously downloaded wheels (and the local lock) across a core refresh.
        if PYODIDE_DIR.is_dir():
            for old in PYODIDE_DIR.iterdir():
                if old.suffix == ".whl" or old.name == LOCAL_LOCK_NAME:
                    shutil.copy2(old, extracted / old.name)
            retired = STATIC_DIR / f".pyodide-old-{os.getpid()}"
            os.replace(PYODIDE_DIR, retired)
            shutil.rmtree(retired, ignore_errors=True)
        os.replace(extracted, PYODIDE_DIR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"pyodide core {PYODIDE_VERSION}: extracted to {PYODIDE_DIR.relative_to(ROOT)}")
    return True


def ensure_apidocs_ui() -> bool:
    """RapiDoc, the UI of /schema (backend/apidoc.py), from npm into ``<static>/apidocs``."""
    target = APIDOCS_DIR / "rapidoc-min.js"
    marker = APIDOCS_DIR / ".version"
    if target.is_file() and marker.is_file() and marker.read_text().strip() == RAPIDOC_VERSION:
        log(f"rapidoc {RAPIDOC_VERSION}: up to date")
        return False
    tarball = npm_tarball("rapidoc", RAPIDOC_VERSION, RAPIDOC_INTEGRITY)
    APIDOCS_DIR.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        source = tar.extractfile("package/dist/rapidoc-min.js")
        if source is None:
            raise BuildError(f"{tarball.name} lacks package/dist/rapidoc-min.js")
        with source:
            write_if_changed(target, source.read())
    marker.write_text(RAPIDOC_VERSION + "\n")
    log(f"rapidoc {RAPIDOC_VERSION}: extracted to {APIDOCS_DIR.relative_to(ROOT)}")
    return True


def ensure_axe() -> bool:
    """axe-core for the e2e accessibility checks, from npm into ``build/test`` (not served)."""
    target = TEST_DIR / "axe.min.js"
    marker = TEST_DIR / ".axe-version"
    if target.is_file() and marker.is_file() and marker.read_text().strip() == AXE_VERSION:
        log(f"axe-core {AXE_VERSION}: up to date")
        return False
    tarball = npm_tarball("axe-core", AXE_VERSION, AXE_INTEGRITY)
    TEST_DIR.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        source = tar.extractfile("package/axe.min.js")
        if source is None:
            raise BuildError(f"{tarball.name} lacks package/axe.min.js")
        with source:
            write_if_changed(target, source.read())
    marker.write_text(AXE_VERSION + "\n")
    log(f"axe-core {AXE_VERSION}: extracted to {TEST_DIR.relative_to(ROOT)}")
    return True


# --------------------------------------------------------------------------------------------------
# Step 2: the msgspec wheel from PyPI


def python_with_pip() -> str:
    """A Python interpreter that has pip (uv's venvs have none, so fall back to the base one)."""
    candidates = [sys.executable, getattr(sys, "_base_executable", None), shutil.which("python3")]
    candidates += ["/usr/bin/python3", "/usr/local/bin/python3"]
    seen: set[str] = set()
    for candidate in candidates:
        if not candidate or candidate in seen or not Path(candidate).exists():
            continue
        seen.add(candidate)
        probe = subprocess.run([candidate, "-m", "pip", "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    raise BuildError(f"no Python with pip found (tried {sorted(seen)}); install pip (python3 -m ensurepip)")


def ensure_pypi_wheel(wheel: PypiWheel, force: bool) -> bool:
    """The pinned wheel from PyPI, with Pyodide's bytecode of its Python modules added (add_bytecode:
    msgspec's wheel has none, so each visit compiled its 80 KB of Python), into the Pyodide folder."""
    target = PYODIDE_DIR / wheel.file_name
    stamp = BUILD_DIR / f"{wheel.file_name}.compiled.json"
    inputs = {"pinned": wheel.sha256, "script": sha256_file(COMPILE_SCRIPT), "core": PYODIDE_VERSION}
    done = read_stamp(stamp)
    if (not force and target.is_file() and done.get("inputs") == inputs
            and done.get("sha256") == sha256_file(target)):
        log(f"{wheel.file_name}: up to date")
        return False
    PIP_CACHE.mkdir(parents=True, exist_ok=True)
    cached = PIP_CACHE / wheel.file_name
    if force or not cached.is_file() or sha256_file(cached) != wheel.sha256:
        cached.unlink(missing_ok=True)
        log(f"pip download {wheel.name}=={wheel.version}")
        run(
            [
                python_with_pip(),
                "-m",
                "pip",
                "download",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                *wheel.pip_args,
                "--dest",
                str(PIP_CACHE),
                f"{wheel.name}=={wheel.version}",
            ]
        )
        if not cached.is_file():
            got = sorted(p.name for p in PIP_CACHE.glob(f"{wheel.name}-*.whl"))
            raise BuildError(f"pip download did not produce {wheel.file_name} (found {got})")
        actual = sha256_file(cached)
        if actual != wheel.sha256:
            cached.unlink(missing_ok=True)
            raise BuildError(f"{wheel.file_name}: sha256 {actual} does not match the pinned {wheel.sha256}")
    data, magic = add_bytecode(cached.read_bytes())
    verify_wheel(data)
    verify_bytecode(data, magic)
    PYODIDE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    stamp.write_text(json.dumps({"inputs": inputs, "sha256": hashlib.sha256(data).hexdigest()}, indent=1))
    log(f"{wheel.file_name}: its bytecode added, into {PYODIDE_DIR.relative_to(ROOT)} ({len(data)} bytes)")
    return True


# --------------------------------------------------------------------------------------------------
# Step 3: the local lock


def local_lock_bytes() -> bytes:
    stock = json.loads((PYODIDE_DIR / "pyodide-lock.json").read_text())
    packages = {}
    for wheel in PYPI_WHEELS:
        path = PYODIDE_DIR / wheel.file_name
        packages[wheel.name] = {
            "name": wheel.name,
            "version": wheel.version,
            "file_name": wheel.file_name,
            "install_dir": "site",
            "sha256": sha256_file(path),
            "package_type": "package",
            "imports": list(wheel.imports),
            "depends": [],
            "unvendored_tests": False,
        }
    lock = {"info": stock["info"], "packages": packages}
    return (json.dumps(lock, indent=2, sort_keys=True) + "\n").encode()


def ensure_local_lock() -> str:
    data = local_lock_bytes()
    changed = write_if_changed(PYODIDE_DIR / LOCAL_LOCK_NAME, data)
    log(f"{LOCAL_LOCK_NAME}: {'written' if changed else 'up to date'}")
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------------
# Step 4: our own pure wheel, built by a standard build backend
#
# Measured before switching (this machine): the hand-written zip writer it replaces took about 7 ms,
# `uv build --wheel` with hatchling about 0.6-0.9 s (hatchling cached by uv). Both give reproducible
# bytes, and a rebuild only happens when the sources change (the no-op check below costs the same
# either way), so the hand-written writer bought nothing worth its upkeep.


def load_wheel_version(project: Path = FRONTEND_DIR):
    """frontend/wheel_version.py, the one definition of the wheel's version (hatchling runs it too)."""
    path = project / "wheel_version.py"
    if not path.is_file():
        raise BuildError(f"{path} is missing")
    spec = importlib.util.spec_from_file_location("oddsui_wheel_version", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def uv_command() -> list[str]:
    """How to run uv: ``$UV`` (set by ``uv run``), ``uv`` on PATH, or ``python -m uv`` (scripts/setup)."""
    for candidate in (os.environ.get("UV"), shutil.which("uv")):
        if candidate and Path(candidate).exists():
            return [candidate]
    for python in (sys.executable, getattr(sys, "_base_executable", None), shutil.which("python3")):
        if python and subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0:
            return [python, "-m", "uv"]
    raise BuildError("uv is needed to build the front-end wheel (scripts/setup installs it: pip install uv)")


def build_app_wheel(out_dir: Path, project: Path = FRONTEND_DIR) -> Path:
    """``uv build --wheel`` of ``project`` into ``out_dir`` (empty or new); returns the wheel's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(WHEEL_SOURCE_DATE_EPOCH)}
    run([*uv_command(), "build", "--wheel", "--quiet", "--out-dir", str(out_dir), str(project)], env=env)
    built = sorted(out_dir.glob(f"{APP_DIST_NAME}-*.whl"))
    if len(built) != 1:
        raise BuildError(f"uv build produced {[p.name for p in built]} in {out_dir}, expected one {APP_DIST_NAME} wheel")
    return built[0]


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def verify_wheel(data: bytes) -> None:
    """Re-read the wheel and check every RECORD hash: a broken wheel must never be served."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        record_name = next((n for n in names if n.endswith(".dist-info/RECORD")), None)
        if record_name is None:
            raise BuildError("built wheel has no RECORD")
        rows = list(csv.reader(io.StringIO(zf.read(record_name).decode())))
        listed = {row[0] for row in rows}
        if listed != set(names):
            raise BuildError(f"RECORD does not list exactly the archive's files: {sorted(listed ^ set(names))}")
        for name, digest, size in rows:
            if name == record_name:
                continue
            content = zf.read(name)
            if record_hash(content) != digest or str(len(content)) != size:
                raise BuildError(f"RECORD mismatch for {name}")


def is_bytecode(name: str) -> bool:
    return "/__pycache__/" in name and name.endswith(".pyc")


def verify_contents(data: bytes, version: str, files: list[tuple[str, bytes]]) -> None:
    """The wheel carries exactly ``files`` (what its version was hashed from; their bytecode is
    checked by ``verify_bytecode``) and says ``version``."""
    metadata_name = f"{APP_DIST_NAME}-{version}.dist-info/METADATA"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        packed = {name: zf.read(name) for name in names
                  if not name.split("/", 1)[0].endswith(".dist-info") and not is_bytecode(name)}
        metadata = zf.read(metadata_name).decode() if metadata_name in names else ""
    if packed != dict(files):
        differ = sorted(set(packed) ^ {name for name, _ in files}) or sorted(
            name for name, content in files if packed.get(name) != content)
        raise BuildError(f"the wheel's files are not the sources its version was computed from: {differ}")
    if f"\nVersion: {version}\n" not in metadata:
        raise BuildError(f"the wheel's METADATA does not say Version: {version}")


# --------------------------------------------------------------------------------------------------
# Step 4b: the wheel's bytecode, compiled by Pyodide's own interpreter
#
# Pyodide never writes bytecode (sys.dont_write_bytecode), so a wheel of sources is compiled on every
# visit: measured in a fresh page here, importing the app took 304-328 ms from sources and 125-143 ms
# with these pycs (unpacking the bigger wheel costs 25-50 ms more). They are unchecked hash-based pycs
# (PEP 552), so the interpreter uses them whatever the files' times; the sources stay in the wheel for
# tracebacks. A Python whose cache tag is not Pyodide's ignores them.

COMPILE_SCRIPT = ROOT / "scripts" / "pyodide_compile.mjs"
PYC_UNCHECKED_HASH = 1  # the flags word of an unchecked hash-based pyc (PEP 552)


def package_sources_of(contents: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in contents.items()
            if name.endswith(".py") and not name.split("/", 1)[0].endswith(".dist-info")}


def pyc_name(source_name: str, cache_tag: str) -> str:
    folder, _, file = source_name.rpartition("/")
    return f"{folder}/__pycache__/{file[:-3]}.{cache_tag}.pyc" if folder else f"__pycache__/{file[:-3]}.{cache_tag}.pyc"


def read_stamp(path: Path) -> dict[str, Any]:
    """A build step's record of what it last made from which inputs ({} if there is none)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def run_pyodide_compile(mode: str, *args: Path, wanted: tuple[str, ...]) -> dict[str, Any]:
    """scripts/pyodide_compile.mjs ``mode`` in Node, with the Pyodide core of this build; returns the
    JSON it prints last, which must hold the ``wanted`` keys."""
    node = shutil.which("node")
    if node is None:
        raise BuildError("node is needed to compile bytecode with Pyodide (scripts/setup installs it)")
    if not pyodide_core_present():
        raise BuildError(f"the Pyodide core is missing from {PYODIDE_DIR}")
    lines = run([node, str(COMPILE_SCRIPT), mode, str(PYODIDE_DIR), *map(str, args)]).strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError) as exc:
        raise BuildError(f"pyodide_compile.mjs {mode} printed {lines!r}") from exc
    missing = [key for key in wanted if key not in answer]
    if missing:
        raise BuildError(f"pyodide_compile.mjs {mode} printed no {missing}: {lines!r}")
    return answer


def compile_for_pyodide(sources: dict[str, bytes]) -> tuple[dict[str, bytes], str]:
    """Pyodide's bytecode of ``sources`` ({archive name: source}), by scripts/pyodide_compile.mjs in Node
    with the Pyodide core of this build: ({archive name of each pyc: its bytes}, the magic number in hex)."""
    with tempfile.TemporaryDirectory(prefix=".pyc-", dir=BUILD_DIR) as tmp:
        folder = Path(tmp)
        for name, data in sources.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        answer = run_pyodide_compile("package", folder, wanted=("cache_tag", "magic"))
        tag, magic = answer["cache_tag"], answer["magic"]
        compiled = {}
        for name in sources:
            path = folder / pyc_name(name, tag)
            if not path.is_file():
                raise BuildError(f"Pyodide made no bytecode for {name}")
            compiled[pyc_name(name, tag)] = path.read_bytes()
    return compiled, magic


def add_bytecode(data: bytes) -> tuple[bytes, str]:
    """The wheel ``data`` with Pyodide's bytecode of each of its package's modules added (RECORD
    rewritten to match, the dist-info kept last), and the magic number they carry."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        contents = {info.filename: zf.read(info.filename) for info in infos}
    sources = package_sources_of(contents)
    if not sources:
        raise BuildError("the wheel has no Python sources to compile")
    compiled, magic = compile_for_pyodide(sources)
    record_name = next(name for name in contents if name.endswith(".dist-info/RECORD"))
    template = next(info for info in infos if info.filename in sources)
    package = [info for info in infos if not info.filename.split("/", 1)[0].endswith(".dist-info")]
    meta = [info for info in infos if info not in package and info.filename != record_name]
    buffer, rows = io.BytesIO(), []
    with zipfile.ZipFile(buffer, "w") as out:
        def put(info: zipfile.ZipInfo, content: bytes) -> None:
            out.writestr(info, content)
            rows.append(f"{info.filename},{record_hash(content)},{len(content)}\n")

        for info in package:
            put(info, contents[info.filename])
        for name in sorted(compiled):
            info = zipfile.ZipInfo(name, date_time=template.date_time)
            info.compress_type, info.external_attr = template.compress_type, template.external_attr
            put(info, compiled[name])
        for info in meta:
            put(info, contents[info.filename])
        rows.append(f"{record_name},,\n")
        out.writestr(next(info for info in infos if info.filename == record_name), "".join(rows).encode())
    return buffer.getvalue(), magic


def verify_bytecode(data: bytes, magic: str | None = None) -> None:
    """Every module of the package has exactly one pyc, unchecked and hash-based (and of ``magic``)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        contents = {name: zf.read(name) for name in zf.namelist()}
    sources = package_sources_of(contents)
    pycs = {name: content for name, content in contents.items() if is_bytecode(name)}
    tags = {name.rsplit("/", 1)[1].split(".")[-2] for name in pycs}
    if len(tags) != 1:
        raise BuildError(f"the wheel's bytecode is for {sorted(tags) or 'no interpreter'}, expected one")
    (tag,) = tags
    expected = {pyc_name(name, tag) for name in sources}
    if set(pycs) != expected:
        raise BuildError(f"the wheel's bytecode does not match its modules: {sorted(set(pycs) ^ expected)}")
    for name, content in pycs.items():
        if len(content) < 16 or int.from_bytes(content[4:8], "little") != PYC_UNCHECKED_HASH:
            raise BuildError(f"{name} is not an unchecked hash-based pyc")
        if magic is not None and content[:4].hex() != magic:
            raise BuildError(f"{name} has magic {content[:4].hex()}, Pyodide's is {magic}")


# --------------------------------------------------------------------------------------------------
# Step 4c: the standard library, with the modules a visit imports compiled
#
# Pyodide's npm package ships its standard library (python_stdlib.zip) as sources, and Pyodide never
# writes bytecode, so every boot compiles every module it imports: in Node here a bare boot took
# 1.7-1.8 s with the stock zip and 0.6-0.7 s with its modules compiled. This step boots Pyodide in
# Node as the page and the parse worker do (msgspec and our wheel installed, the app, its later views
# and the worker's parse.py imported), and writes stdlib/python_stdlib.<hash>.zip: every module that
# imported replaced by its unchecked hash-based pyc (zipimport prefers a .pyc beside the path of the
# .py), every other file as it was, all stored uncompressed so that Brotli, over HTTP, packs the whole
# file (10.3 MB raw; 2.2 MB Brotli against the stock zip's 2.5 MB, which is deflated and goes as it
# is). Those modules then have no source in the zip: a traceback through them shows no source line.
# The file has its own content-hashed URL, so the Pyodide folder's does not change when it does; the
# page and the worker pass it to loadPyodide as stdLibURL. The bench's bare boot keeps the stock zip.

STDLIB_DIR = STATIC_DIR / "stdlib"
STDLIB_STOCK = "python_stdlib.zip"
STDLIB_STAMP = BUILD_DIR / "stdlib-inputs.json"
STDLIB_IMPORTS = (APP_ENTRY["module"],)
STDLIB_CALLS = (f"{APP_ENTRY['module']}:import_later_views",)  # what the app imports a second after start


def compiled_stdlib_bytes(stock: bytes, compiled: dict[str, bytes]) -> bytes:
    """``stock`` (a zip of the standard library) with each ``compiled`` source ({path: pyc}) replaced by
    its pyc, everything stored (not deflated), in the stock order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(stock)) as zf, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
        for info in zf.infolist():
            pyc = compiled.get(info.filename)
            name, content = (info.filename, zf.read(info)) if pyc is None else (info.filename + "c", pyc)
            entry = zipfile.ZipInfo(name, date_time=info.date_time)
            entry.external_attr = info.external_attr
            out.writestr(entry, content)
    return buffer.getvalue()


def ensure_compiled_stdlib(app: AppWheel, worker: dict[str, HashedFile]) -> HashedFile:
    stock_path = PYODIDE_DIR / STDLIB_STOCK
    inputs = {
        "stock": sha256_file(stock_path),
        "wheels": [sha256_file(PYODIDE_DIR / wheel.file_name) for wheel in PYPI_WHEELS] + [app.sha256],
        "parse": worker["parse.py"].sha256,
        "imports": list(STDLIB_IMPORTS),
        "calls": list(STDLIB_CALLS),
        "script": sha256_file(COMPILE_SCRIPT),
    }
    STDLIB_DIR.mkdir(parents=True, exist_ok=True)
    stamp = read_stamp(STDLIB_STAMP)
    current = STDLIB_DIR / str(stamp.get("file_name", "-"))
    if stamp.get("inputs") == inputs and current.is_file() and sha256_file(current) == stamp.get("sha256"):
        log(f"stdlib/{current.name}: up to date")
        data = current.read_bytes()
    else:
        started = time.monotonic()
        app_wheel = next(WHEELS_DIR.glob(f"{app.sha256[:12]}/{app.file_name}"))
        with tempfile.TemporaryDirectory(prefix=".stdlib-", dir=BUILD_DIR) as tmp:
            spec = Path(tmp) / "spec.json"
            spec.write_text(json.dumps({
                "wheels": [str(PYODIDE_DIR / wheel.file_name) for wheel in PYPI_WHEELS] + [str(app_wheel)],
                "imports": list(STDLIB_IMPORTS),
                "calls": list(STDLIB_CALLS),
                "scripts": [str(WORKER_DIR / worker["parse.py"].file_name)],
            }))
            out = Path(tmp) / "out"
            out.mkdir()
            modules = run_pyodide_compile("stdlib", out, spec, wanted=("modules",))["modules"]
            compiled = {name: (out / (name + "c")).read_bytes() for name in modules}
        data = compiled_stdlib_bytes(stock_path.read_bytes(), compiled)
        name = hashed_name(STDLIB_STOCK, data)
        write_if_changed(STDLIB_DIR / name, data)
        STDLIB_STAMP.write_text(json.dumps({"inputs": inputs, "file_name": name,
                                            "sha256": hashlib.sha256(data).hexdigest()}, indent=1))
        log(f"stdlib/{name}: {len(compiled)} modules compiled, {len(data)} bytes "
            f"({time.monotonic() - started:.2f} s)")
        current = STDLIB_DIR / name
    for stale in STDLIB_DIR.iterdir():
        if stale.is_file() and stale.name.removesuffix(".br").removesuffix(".gz") != current.name:
            stale.unlink()
    return HashedFile(STDLIB_STOCK, current.name, hashlib.sha256(data).hexdigest(), "stdlib")


@dataclass(frozen=True)
class AppWheel:
    file_name: str
    version: str
    sha256: str

    @property
    def url(self) -> str:
        """Served from a folder named by the wheel's own hash: its name says which sources it is, but
        its bytes also depend on the bytecode Pyodide compiles, and an immutable URL must never be
        given other bytes (a browser holding the old ones would fail the lock's integrity check)."""
        return f"/wheels/{self.sha256[:12]}/{self.file_name}"


def ensure_app_wheel(force: bool) -> AppWheel:
    wheel_version = load_wheel_version()
    try:
        files = wheel_version.package_sources()
    except FileNotFoundError as exc:
        raise BuildError(str(exc)) from exc
    version = wheel_version.version()
    file_name = f"{APP_DIST_NAME}-{version}-py3-none-any.whl"
    WHEELS_DIR.mkdir(parents=True, exist_ok=True)
    # WHEELS_DIR/<the first 12 hex digits of its sha256>/<file_name> (AppWheel.url)
    target = next((path for path in WHEELS_DIR.glob(f"*/{file_name}")
                   if path.parent.name == sha256_file(path)[:12] and has_bytecode(path)), None)
    if force or target is None:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=".wheel-", dir=BUILD_DIR) as out:
            built = build_app_wheel(Path(out))
            if built.name != file_name:
                raise BuildError(f"uv build made {built.name}, expected {file_name}")
            data = built.read_bytes()
        verify_wheel(data)
        verify_contents(data, version, files)
        built_at = time.monotonic()
        data, magic = add_bytecode(data)
        verify_wheel(data)
        verify_contents(data, version, files)
        verify_bytecode(data, magic)
        target = WHEELS_DIR / hashlib.sha256(data).hexdigest()[:12] / file_name
        target.parent.mkdir(exist_ok=True)
        write_if_changed(target, data)
        log(f"{file_name}: built ({len(files)} source files, {len(data)} bytes with their bytecode, "
            f"{built_at - started:.2f} s + {time.monotonic() - built_at:.2f} s to compile)")
    else:
        log(f"{file_name}: up to date")
    for stale in [*WHEELS_DIR.glob(f"{APP_DIST_NAME}-*.whl"), *WHEELS_DIR.glob(f"*/{APP_DIST_NAME}-*.whl")]:
        if stale != target:
            stale.unlink()
            if stale.parent != WHEELS_DIR and not any(stale.parent.iterdir()):
                stale.parent.rmdir()
            log(f"removed stale {stale.relative_to(WHEELS_DIR)}")
    return AppWheel(file_name=file_name, version=version, sha256=sha256_file(target))


def has_bytecode(path: Path) -> bool:
    """``path`` is a wheel this build made: its bytecode is there (an older build made none)."""
    try:
        verify_bytecode(path.read_bytes())
        return True
    except (BuildError, zipfile.BadZipFile, OSError):
        return False


def page_lock_bytes(app: AppWheel, base: str) -> bytes:
    """The page's lock: every package it installs, by absolute URL (Pyodide resolves a ``file_name``
    that starts with ``/`` against the origin), each with its real sha256."""
    stock = json.loads((PYODIDE_DIR / "pyodide-lock.json").read_text())
    entries = [(wheel.name, wheel.version, f"{base}{wheel.file_name}", sha256_file(PYODIDE_DIR / wheel.file_name),
                list(wheel.imports)) for wheel in PYPI_WHEELS]
    entries.append((APP_DIST_NAME, app.version, app.url, app.sha256, [APP_DIST_NAME]))
    packages = {name: {"name": name, "version": version, "file_name": url, "install_dir": "site", "sha256": sha,
                       "package_type": "package", "imports": imports, "depends": [], "unvendored_tests": False}
                for name, version, url, sha, imports in entries}
    missing = set(PAGE_PACKAGES) - set(packages)
    if missing:
        raise BuildError(f"the page's lock would lack {sorted(missing)}")
    return (json.dumps({"info": stock["info"], "packages": packages}, indent=2, sort_keys=True) + "\n").encode()


def ensure_page_lock(app: AppWheel, base: str) -> HashedFile:
    data = page_lock_bytes(app, base)
    file_name = hashed_name(f"{PAGE_LOCK_STEM}.json", data)
    changed = write_if_changed(WHEELS_DIR / file_name, data)
    log(f"wheels/{file_name}: {'written' if changed else 'up to date'}")
    for stale in WHEELS_DIR.glob(f"{PAGE_LOCK_STEM}.*.json"):
        if stale.name != file_name:
            stale.unlink()
    return HashedFile(source=f"{PAGE_LOCK_STEM}.json", file_name=file_name, sha256=hashlib.sha256(data).hexdigest(),
                      folder="wheels")


# --------------------------------------------------------------------------------------------------
# Step 5: the parse worker's files and the shared Pyodide loader, content-hashed


@dataclass(frozen=True)
class HashedFile:
    source: str  # name in worker/ or frontend/
    file_name: str  # name under build/static/<folder>/ (hash in the name)
    sha256: str
    folder: str = "worker"  # build/static/<folder>/, served at /<folder>/

    @property
    def url(self) -> str:
        return f"/{self.folder}/{self.file_name}"

    @property
    def integrity(self) -> str:
        """The Subresource Integrity value of the file (``fetch(url, {integrity})``)."""
        return "sha256-" + base64.b64encode(bytes.fromhex(self.sha256)).decode()


def hashed_name(source: str, data: bytes) -> str:
    stem, dot, suffix = source.rpartition(".")
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:12]}{dot}{suffix}"


def ensure_worker_files() -> dict[str, HashedFile]:
    """Copy worker/worker.mjs and worker/parse.py to build/static/worker/ under hashed names."""
    WORKER_DIR.mkdir(parents=True, exist_ok=True)
    built: dict[str, HashedFile] = {}
    for source in WORKER_FILES:
        path = WORKER_SOURCE_DIR / source
        if not path.is_file():
            raise BuildError(f"{path} is missing")
        data = path.read_bytes()
        file_name = hashed_name(source, data)
        changed = write_if_changed(WORKER_DIR / file_name, data)
        log(f"worker/{file_name}: {'written' if changed else 'up to date'}")
        built[source] = HashedFile(source=source, file_name=file_name, sha256=hashlib.sha256(data).hexdigest())
    keep = {item.file_name for item in built.values()}
    for stale in WORKER_DIR.iterdir():
        if stale.is_file() and stale.name not in keep:
            stale.unlink()
            log(f"removed stale worker/{stale.name}")
    return built


LOADER_STEM = "pyodide_loader"


def ensure_loader() -> HashedFile:
    """Copy frontend/pyodide_loader.mjs next to the Pyodide core, under a content-hashed name."""
    if not LOADER_SOURCE.is_file():
        raise BuildError(f"{LOADER_SOURCE} is missing")
    data = LOADER_SOURCE.read_bytes()
    file_name = hashed_name(LOADER_SOURCE.name, data)
    changed = write_if_changed(PYODIDE_DIR / file_name, data)
    log(f"pyodide/{file_name}: {'written' if changed else 'up to date'}")
    for stale in PYODIDE_DIR.glob(f"{LOADER_STEM}.*.mjs"):
        if stale.name != file_name:
            stale.unlink()
            log(f"removed stale pyodide/{stale.name}")
    return HashedFile(source=LOADER_SOURCE.name, file_name=file_name, sha256=hashlib.sha256(data).hexdigest(),
                      folder="pyodide")


# --------------------------------------------------------------------------------------------------
# Step 6: the page's own files under content-hashed names, the Pyodide folder's hash, and the
# precompressed variants (docs/design.md "Asset delivery")

PAGE_FILES = (("css/app.css", "app.css"), ("boot.js", "boot.js"))  # frontend/<source> -> assets/<stem>.<hash>.<ext>
ASSETS_DIR = STATIC_DIR / "assets"
IMMUTABLE_PREFIX = "/immutable"  # backend/web.py serves it: hashed names only, cached for a year
# Precompressed: what is worth it (a wheel is a zip already). A variant is kept only if it saves 10 %.
COMPRESSIBLE_SUFFIXES = (".wasm", ".mjs", ".js", ".css", ".json", ".zip", ".py")
COMPRESS_MIN_BYTES = 1024


def ensure_page_assets() -> dict[str, str]:
    """frontend/css/app.css and frontend/boot.js as assets/app.<hash>.css and assets/boot.<hash>.js;
    returns {"css": url, "boot": url}."""
    ASSETS_DIR.mkdir(parents=True, exist_ok=True)
    urls: dict[str, str] = {}
    keep: set[str] = set()
    for source, stem in PAGE_FILES:
        data = (FRONTEND_DIR / source).read_bytes()
        name = hashed_name(stem, data)
        changed = write_if_changed(ASSETS_DIR / name, data)
        log(f"assets/{name}: {'written' if changed else 'up to date'}")
        urls["css" if stem.endswith(".css") else "boot"] = f"{IMMUTABLE_PREFIX}/assets/{name}"
        keep.add(name)
    for stale in ASSETS_DIR.iterdir():
        base = stale.name.removesuffix(".br").removesuffix(".gz")
        if stale.is_file() and base not in keep:
            stale.unlink()
    return urls


def folder_hash(folder: Path) -> str:
    """A hash of every served file in ``folder`` (names and bytes): the Pyodide folder's URL carries
    it, so any change to the core, a wheel, the lock or the loader gives it a new URL."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and not path.name.endswith((".br", ".gz")):
            digest.update(path.name.encode() + b"\0" + sha256_file(path).encode() + b"\0")
    return digest.hexdigest()[:12]


def _brotli():
    try:
        import brotli  # the locked Python environment has it (pyproject.toml); stdlib has none
    except ImportError as exc:
        raise BuildError("the brotli package is missing: run scripts/setup (uv sync) first") from exc
    return brotli


def ensure_precompressed(folder: Path) -> int:
    """``<file>.br`` (brotli) and ``<file>.gz`` (gzip) next to each compressible file of ``folder``,
    rebuilt when older than the file; returns how many were written."""
    import gzip

    written = 0
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or not path.name.endswith(COMPRESSIBLE_SUFFIXES):
            continue
        size = path.stat().st_size
        for suffix in (".br", ".gz"):
            target = path.with_name(path.name + suffix)
            if target.is_file() and target.stat().st_mtime >= path.stat().st_mtime:
                continue
            if size < COMPRESS_MIN_BYTES:
                target.unlink(missing_ok=True)
                continue
            data = path.read_bytes()
            if suffix == ".br":
                # the standard library: 15 s once at set-up for 2.2 MB instead of 2.4 MB on every cold visit
                best = size < 4_000_000 or folder == STDLIB_DIR
                packed = _brotli().compress(data, quality=11 if best else 9, lgwin=24)
            else:
                packed = gzip.compress(data, compresslevel=9, mtime=0)
            if len(packed) > 0.9 * size:
                target.unlink(missing_ok=True)
                continue
            write_if_changed(target, packed)
            written += 1
            log(f"{target.relative_to(STATIC_DIR)}: {len(packed)} bytes ({len(packed) / size:.0%})")
    for variant in list(folder.glob("*.br")) + list(folder.glob("*.gz")):
        if not variant.with_suffix("").is_file():
            variant.unlink()
    return written


def raw_sizes(folder: Path, names: tuple[str, ...]) -> dict[str, int]:
    return {name: (folder / name).stat().st_size for name in names if (folder / name).is_file()}


# --------------------------------------------------------------------------------------------------
# Step 7: the manifest boot.js reads


def manifest_bytes(lock_sha: str, app: AppWheel, loader: HashedFile, page_lock: HashedFile,
                   worker: dict[str, HashedFile] | None = None, page: dict[str, str] | None = None,
                   core_hash: str | None = None, stdlib: HashedFile | None = None) -> bytes:
    # What the page installs (from its lock, ``packages``), with the versions boot.js checks.
    wheels = [
        {
            "name": wheel.name,
            "version": wheel.version,
            "url": f"/pyodide/{wheel.file_name}",
            "sha256": sha256_file(PYODIDE_DIR / wheel.file_name) if (PYODIDE_DIR / wheel.file_name).is_file()
            else wheel.sha256,  # the served file's: the pinned wheel with its bytecode
        }
        for wheel in PYPI_WHEELS
    ]
    wheels.append(
        {"name": APP_DIST_NAME, "version": app.version, "url": app.url, "sha256": app.sha256}
    )
    # The Pyodide folder under a URL that carries its hash (immutable), or the plain one.
    base = f"{IMMUTABLE_PREFIX}/pyodide-{core_hash}/" if core_hash else "/pyodide/"
    pyodide = {
        "version": PYODIDE_VERSION,
        "module": f"{base}pyodide.mjs",
        "indexURL": base,
        "lockFileURL": page_lock.url,  # immutable: its name carries its hash
    }
    # The standard library with the modules a visit imports compiled (ensure_compiled_stdlib).
    stdlib_url = f"{IMMUTABLE_PREFIX}/stdlib/{stdlib.file_name}" if stdlib is not None else None
    if stdlib_url is not None:
        pyodide["stdLibURL"] = stdlib_url
    # The parse worker loads msgspec alone, from the core folder's own lock (the query only busts
    # HTTP caches): it does not change when our wheel does.
    worker_lock = f"{base}{LOCAL_LOCK_NAME}?v={lock_sha[:12]}"
    loader_url = f"{base}{loader.file_name}" if core_hash else loader.url
    wheels = [dict(wheel, url=wheel["url"].replace("/pyodide/", base, 1)) for wheel in wheels]
    manifest = {
        "loader": {"url": loader_url},
        "pyodide": pyodide,
        "packages": list(PAGE_PACKAGES),
        "wheels": wheels,
        "app": {"name": APP_DIST_NAME, "version": app.version, **APP_ENTRY},
    }
    if page is not None:
        # What the server-rendered page links and preloads (backend/firstpaint.py): its style and
        # script, and the modules Pyodide's boot imports, fetched in parallel with the first paint.
        # ``sizes``: Pyodide's two big files, which boot.js fetches once it runs (with no preload
        # hint: fetched during the first paint they delayed it), with their uncompressed bytes for
        # the progress it shows.
        big = ("pyodide.asm.wasm",) if stdlib_url is not None else ("pyodide.asm.wasm", STDLIB_STOCK)
        sizes = {f"{base}{name}": size for name, size in raw_sizes(PYODIDE_DIR, big).items()}
        if stdlib_url is not None:
            sizes[stdlib_url] = (STDLIB_DIR / stdlib.file_name).stat().st_size
        modulepreload = [loader_url, f"{base}pyodide.mjs", f"{base}pyodide.asm.mjs"]
        manifest["page"] = {
            **page,
            "modulepreload": modulepreload,
            "sizes": sizes,
            # boot.js sets the cookie "booted" to this once the boot is done; a later page that finds
            # it asks the browser's cache for those files and leaves the ones it holds to Pyodide,
            # with no progress to show
            "booted": hashlib.sha256(json.dumps([modulepreload, list(sizes)]).encode()).hexdigest()[:12],
        }
    if worker is not None:
        # What the page hands the parse worker in its init message (worker/worker.mjs documents it).
        manifest["worker"] = {
            "url": worker["worker.mjs"].url,
            "loader": {"url": loader_url},
            "pyodide": {"module": pyodide["module"], "indexURL": pyodide["indexURL"], "lockFileURL": worker_lock,
                        **({"stdLibURL": stdlib_url} if stdlib_url is not None else {})},
            "packages": list(WORKER_PACKAGES),
            "parse": {
                "url": worker["parse.py"].url,
                "integrity": worker["parse.py"].integrity,
                "module": WORKER_PARSE_MODULE,
            },
        }
    return (json.dumps(manifest, indent=2) + "\n").encode()


def ensure_manifest(lock_sha: str, app: AppWheel, worker: dict[str, HashedFile], loader: HashedFile,
                    page_lock: HashedFile, page: dict[str, str] | None = None, core_hash: str | None = None,
                    stdlib: HashedFile | None = None) -> None:
    changed = write_if_changed(MANIFEST_PATH, manifest_bytes(lock_sha, app, loader, page_lock, worker, page,
                                                             core_hash, stdlib))
    log(f"manifest.json: {'written' if changed else 'up to date'} (app {app.version})")


@contextlib.contextmanager
def build_lock():
    """Serialize concurrent builds (e.g. parallel test sessions) on one lock file."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with (BUILD_DIR / ".build_assets.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(force: bool = False) -> None:
    started = time.monotonic()
    with build_lock():
        ensure_pyodide_core(force)
        ensure_apidocs_ui()
        ensure_axe()
        for wheel in PYPI_WHEELS:
            ensure_pypi_wheel(wheel, force)
        for stale in PYODIDE_DIR.glob("*.whl"):  # a wheel no longer used (micropip, before one-step installs)
            if stale.name not in {wheel.file_name for wheel in PYPI_WHEELS}:
                stale.unlink()
                log(f"removed stale pyodide/{stale.name}")
        lock_sha = ensure_local_lock()
        app = ensure_app_wheel(force)
        worker = ensure_worker_files()
        stdlib = ensure_compiled_stdlib(app, worker)
        loader = ensure_loader()
        page = ensure_page_assets()
        core_hash = folder_hash(PYODIDE_DIR)
        page_lock = ensure_page_lock(app, f"{IMMUTABLE_PREFIX}/pyodide-{core_hash}/")
        for folder in (PYODIDE_DIR, ASSETS_DIR, STDLIB_DIR):  # what /immutable/ serves, by Accept-Encoding
            ensure_precompressed(folder)
        ensure_manifest(lock_sha, app, worker, loader, page_lock, page, core_hash, stdlib)
    log(f"done in {time.monotonic() - started:.2f} s -> {STATIC_DIR}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="re-fetch and rebuild everything")
    args = parser.parse_args(argv)
    try:
        build(force=args.force)
    except (BuildError, OSError, tarfile.TarError, zipfile.BadZipFile, json.JSONDecodeError, KeyError) as exc:
        print(f"[build_assets] ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
