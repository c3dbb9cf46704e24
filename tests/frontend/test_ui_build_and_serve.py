"""The asset build's wheel builder, worker files and manifest, and backend/web.py's routes (MIME types, caching)."""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib
import importlib.util
import io
import json
import pkgutil
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

ROOT = Path(__file__).resolve().parents[2]


def load_build_assets():
    spec = importlib.util.spec_from_file_location("build_assets", ROOT / "scripts" / "build_assets.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_assets"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build_assets():
    return load_build_assets()


# ------------------------------------------------------------------------------------------------
# the package itself


def test_every_module_but_the_browser_adapter_imports_without_js():
    import oddsui

    names = [m.name for m in pkgutil.iter_modules(oddsui.__path__)]
    assert {"scope", "streams", "backoff", "machine", "flash", "store", "odds", "render", "tree", "app", "browser"} <= set(names)
    for name in names:
        if name != "browser":
            importlib.import_module(f"oddsui.{name}")
    assert "js" not in sys.modules


def test_browser_adapter_is_valid_python_311():
    source = (ROOT / "frontend" / "oddsui" / "browser.py").read_text()
    ast.parse(source, feature_version=(3, 11))


# ------------------------------------------------------------------------------------------------
# the wheel: uv build + hatchling (frontend/pyproject.toml), version from frontend/wheel_version.py


@pytest.fixture(scope="module")
def wheel_version(build_assets):
    return build_assets.load_wheel_version()


@pytest.fixture(scope="module")
def built_wheel(build_assets, tmp_path_factory):
    return build_assets.build_app_wheel(tmp_path_factory.mktemp("wheel"))


def copy_project(destination: Path) -> Path:
    """frontend/'s wheel inputs, copied to another place (no caches)."""
    project = destination / "somewhere" / "else"
    (project).mkdir(parents=True)
    for name in ("pyproject.toml", "wheel_version.py"):
        (project / name).write_bytes((ROOT / "frontend" / name).read_bytes())
    shutil.copytree(ROOT / "frontend" / "oddsui", project / "oddsui",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return project


def test_wheel_is_deterministic_and_its_record_is_correct(build_assets, wheel_version, built_wheel, tmp_path):
    files = wheel_version.package_sources()
    assert any(name == "oddsui/__init__.py" for name, _ in files)
    assert not any("__pycache__" in name for name, _ in files)
    version = wheel_version.version()
    assert version.startswith(wheel_version.BASE_VERSION + "+") and len(version.split("+")[1]) == 12
    assert built_wheel.name == f"oddsui-{version}-py3-none-any.whl"
    first = built_wheel.read_bytes()
    # the same sources, built again from another directory (another absolute path): the same bytes
    second = build_assets.build_app_wheel(tmp_path / "out", copy_project(tmp_path)).read_bytes()
    assert first == second
    build_assets.verify_wheel(first)
    build_assets.verify_contents(first, version, files)
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        meta = zf.read(f"oddsui-{version}.dist-info/METADATA").decode()
        wheel = zf.read(f"oddsui-{version}.dist-info/WHEEL").decode()
        stamps = {info.date_time for info in zf.infolist()}
    assert f"Version: {version}" in meta and "Requires-Dist: msgspec" in meta
    assert "Tag: py3-none-any" in wheel and "Root-Is-Purelib: true" in wheel
    assert stamps == {(1980, 1, 1, 0, 0, 0)}  # SOURCE_DATE_EPOCH, not the build's clock


def test_a_tampered_wheel_fails_verification(build_assets, wheel_version, built_wheel):
    buffer = io.BytesIO()
    with zipfile.ZipFile(built_wheel) as src, zipfile.ZipFile(buffer, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "oddsui/__init__.py":
                content = b"x = 2\n"
            dst.writestr(item, content)
    with pytest.raises(build_assets.BuildError):
        build_assets.verify_wheel(buffer.getvalue())


@pytest.fixture(scope="module")
def compiled_wheel(build_assets, built_wheel):
    if shutil.which("node") is None or not build_assets.pyodide_core_present():
        pytest.skip("needs node and the Pyodide core (scripts/setup)")
    return build_assets.add_bytecode(built_wheel.read_bytes())


def test_the_wheel_carries_pyodides_bytecode_of_every_module_and_stays_deterministic(
        build_assets, wheel_version, built_wheel, compiled_wheel):
    data, magic = compiled_wheel
    build_assets.verify_wheel(data)  # RECORD lists and hashes the pycs too
    build_assets.verify_contents(data, wheel_version.version(), wheel_version.package_sources())
    build_assets.verify_bytecode(data, magic)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        pycs = {name: zf.read(name) for name in names if name.endswith(".pyc")}
    sources = [name for name in names if name.endswith(".py")]
    assert len(pycs) == len(sources) > 20
    assert "oddsui/__pycache__/app.cpython-314.pyc" in pycs  # Pyodide 314 is CPython 3.14
    assert all(content[:4].hex() == magic and content[4:8] == b"\x01\x00\x00\x00" for content in pycs.values())
    assert magic != importlib.util.MAGIC_NUMBER.hex()  # not this interpreter's bytecode: Pyodide's
    dist_info = [i for i, name in enumerate(names) if ".dist-info/" in name]
    assert dist_info == list(range(len(names) - len(dist_info), len(names)))  # the dist-info stays last
    assert build_assets.add_bytecode(built_wheel.read_bytes()) == compiled_wheel  # the same bytes again


def test_a_wheel_whose_bytecode_is_missing_or_checked_fails_verification(build_assets, built_wheel, compiled_wheel):
    data, magic = compiled_wheel
    with pytest.raises(build_assets.BuildError, match="no interpreter"):
        build_assets.verify_bytecode(built_wheel.read_bytes())  # hatchling's wheel: sources only

    def rewritten(change):
        buffer = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buffer, "w") as dst:
            for item in src.infolist():
                content = change(item.filename, src.read(item.filename))
                if content is not None:
                    dst.writestr(item, content)
        return buffer.getvalue()

    without_app = rewritten(lambda name, content: None if name.endswith("/app.cpython-314.pyc") else content)
    with pytest.raises(build_assets.BuildError, match="app.cpython-314.pyc"):
        build_assets.verify_bytecode(without_app)
    checked = rewritten(lambda name, content: content[:4] + b"\x03\x00\x00\x00" + content[8:]
                        if name.endswith(".pyc") else content)
    with pytest.raises(build_assets.BuildError, match="unchecked"):
        build_assets.verify_bytecode(checked)
    with pytest.raises(build_assets.BuildError, match="magic"):
        build_assets.verify_bytecode(data, "00000000")


def test_the_compiled_standard_library_replaces_exactly_the_imported_modules_by_their_pycs(build_assets):
    stock = io.BytesIO()
    with zipfile.ZipFile(stock, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (("json/__init__.py", "x = 1\n"), ("json/decoder.py", "y = 2\n"), ("csv.py", "z = 3\n"),
                           ("LICENSE.txt", "text")):
            zf.writestr(name, text)
    data = build_assets.compiled_stdlib_bytes(stock.getvalue(), {"json/__init__.py": b"PYC1", "csv.py": b"PYC2"})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        contents = {info.filename: zf.read(info) for info in infos}
    # in the stock order; each compiled module only as its pyc (zipimport takes X.pyc for X.py)
    assert [info.filename for info in infos] == ["json/__init__.pyc", "json/decoder.py", "csv.pyc", "LICENSE.txt"]
    assert contents == {"json/__init__.pyc": b"PYC1", "json/decoder.py": b"y = 2\n", "csv.pyc": b"PYC2",
                        "LICENSE.txt": b"text"}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_STORED}  # Brotli packs the whole file
    assert build_assets.compiled_stdlib_bytes(stock.getvalue(), {"csv.py": b"PYC2"}) != data


def test_the_built_standard_library_holds_pyodides_bytecode_of_what_a_visit_imports():
    manifest = json.loads((ROOT / "build" / "static" / "manifest.json").read_text()) \
        if (ROOT / "build" / "static" / "manifest.json").is_file() else {}
    url = manifest.get("pyodide", {}).get("stdLibURL")
    if not url:
        pytest.skip("no build with a compiled standard library (scripts/setup)")
    path = ROOT / "build" / "static" / "stdlib" / url.rsplit("/", 1)[1]
    assert url == f"/immutable/stdlib/{path.name}" and path.is_file()
    assert hashlib.sha256(path.read_bytes()).hexdigest()[:12] in path.name  # content-hashed: immutable
    assert manifest["worker"]["pyodide"]["stdLibURL"] == url  # the parse worker boots from it too
    assert manifest["page"]["sizes"][url] == path.stat().st_size  # boot.js fetches it, showing the progress
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        pycs = {name: zf.read(name) for name in names if name.endswith(".pyc")}
    # what Pyodide's boot, msgspec and the app import, compiled; their sources gone; the rest kept
    for module in ("json/__init__", "dataclasses", "asyncio/base_events", "urllib/parse", "tarfile", "typing"):
        assert f"{module}.pyc" in pycs and f"{module}.py" not in names, module
    assert "pdb.py" in names and "pdb.pyc" not in names  # nothing a visit imports stays a source
    with zipfile.ZipFile(ROOT / "build" / "static" / "pyodide" / "python_stdlib.zip") as stock:
        stock_names = set(stock.namelist())
    assert {name[:-1] if name.endswith(".pyc") else name for name in names} == stock_names
    magic = {content[:4] for content in pycs.values()}
    assert len(magic) == 1 and magic != {importlib.util.MAGIC_NUMBER}  # Pyodide's interpreter, not this one
    assert {content[4:8] for content in pycs.values()} == {b"\x01\x00\x00\x00"}  # unchecked hash-based


def test_the_served_msgspec_wheel_is_the_pinned_one_with_pyodides_bytecode_added(build_assets):
    for wheel in build_assets.PYPI_WHEELS:
        served, pinned = build_assets.PYODIDE_DIR / wheel.file_name, build_assets.PIP_CACHE / wheel.file_name
        if not served.is_file() or not pinned.is_file():
            pytest.skip("assets not built (scripts/setup)")
        assert hashlib.sha256(pinned.read_bytes()).hexdigest() == wheel.sha256  # what PyPI gave, checked
        data = served.read_bytes()
        build_assets.verify_wheel(data)
        build_assets.verify_bytecode(data)
        with zipfile.ZipFile(io.BytesIO(data)) as zf, zipfile.ZipFile(pinned) as original:
            added = set(zf.namelist()) - set(original.namelist())
            assert added and all(name.endswith(".cpython-314.pyc") for name in added)
            for name in original.namelist():  # every file of PyPI's wheel as it was, but its RECORD
                if not name.endswith(".dist-info/RECORD"):
                    assert zf.read(name) == original.read(name), name


def test_a_wheel_that_is_not_its_sources_fails_verification(build_assets, wheel_version, built_wheel):
    files = wheel_version.package_sources()
    version = wheel_version.version()
    data = built_wheel.read_bytes()
    with pytest.raises(build_assets.BuildError, match="oddsui/extra.py"):
        build_assets.verify_contents(data, version, [*files, ("oddsui/extra.py", b"")])
    changed = [(name, content + b"#" if name == "oddsui/app.py" else content) for name, content in files]
    with pytest.raises(build_assets.BuildError, match="oddsui/app.py"):
        build_assets.verify_contents(data, version, changed)
    with pytest.raises(build_assets.BuildError, match="METADATA"):
        build_assets.verify_contents(data, "0.1.0+000000000000", files)


def test_source_hash_changes_with_any_source_byte(wheel_version):
    files = [("oddsui/a.py", b"a"), ("oddsui/b.py", b"b")]
    assert wheel_version.source_hash(files) != wheel_version.source_hash([("oddsui/a.py", b"a"), ("oddsui/b.py", b"c")])
    assert wheel_version.source_hash(files) != wheel_version.source_hash([("oddsui/a2.py", b"a"), ("oddsui/b.py", b"b")])
    # and with the build configuration (pyproject.toml: metadata, the pinned backend)
    assert wheel_version.source_hash(files, [b"x"]) != wheel_version.source_hash(files, [b"y"])


def test_the_version_follows_the_projects_files(wheel_version, tmp_path):
    project = copy_project(tmp_path)
    before = wheel_version.version(project)
    assert before == wheel_version.version()  # where the project lives does not matter
    (project / "oddsui" / "__pycache__").mkdir()
    (project / "oddsui" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    assert wheel_version.version(project) == before  # caches are not sources
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("hatchling==", "hatchling>="))
    assert wheel_version.version(project) != before


def test_the_built_wheel_imports_as_a_zip(built_wheel):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import oddsui.store, oddsui.app, oddsui.odds; "
            "print(oddsui.odds.format_price(1.85))")
    out = subprocess.run([sys.executable, "-c", code, str(built_wheel)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1.850"


def a_loader(build_assets):
    return build_assets.HashedFile("pyodide_loader.mjs", "pyodide_loader.333333333333.mjs", "3" * 64, "pyodide")


def test_manifest_names_every_url_boot_needs(build_assets):
    app = build_assets.AppWheel(file_name="oddsui-0.1.0+abc-py3-none-any.whl", version="0.1.0+abc", sha256="0" * 64)
    page_lock = build_assets.HashedFile("pyodide-lock.json", "pyodide-lock.444444444444.json", "4" * 64, "wheels")
    manifest = json.loads(build_assets.manifest_bytes("f" * 64, app, a_loader(build_assets), page_lock))
    assert manifest["loader"] == {"url": "/pyodide/pyodide_loader.333333333333.mjs"}
    assert manifest["pyodide"]["indexURL"] == "/pyodide/"
    assert manifest["pyodide"]["module"] == "/pyodide/pyodide.mjs"
    assert manifest["pyodide"]["lockFileURL"] == "/wheels/pyodide-lock.444444444444.json"
    assert manifest["packages"] == ["msgspec", "oddsui"]  # one loadPackage from the page's lock
    assert [w["name"] for w in manifest["wheels"]] == ["msgspec", "oddsui"]
    # in a folder named by the wheel's own hash (its bytecode is not in its name's hash)
    assert manifest["wheels"][-1]["url"] == "/wheels/000000000000/oddsui-0.1.0+abc-py3-none-any.whl"
    assert manifest["app"] == {"name": "oddsui", "version": "0.1.0+abc", "module": "oddsui.app", "function": "main"}


# ------------------------------------------------------------------------------------------------
# backend/web.py


@pytest.fixture
def static_client(tmp_path):
    from backend.web import web_routes

    static = tmp_path / "static"
    (static / "pyodide").mkdir(parents=True)
    (static / "wheels").mkdir()
    (static / "pyodide" / "pyodide.asm.wasm").write_bytes(b"\0asm")
    (static / "pyodide" / "pyodide.mjs").write_text("export {}")
    (static / "pyodide" / "pyodide-lock.local.json").write_text("{}")
    (static / "wheels" / "0123456789ab").mkdir(parents=True)
    (static / "wheels" / "0123456789ab" / "oddsui-0.1.0+x-py3-none-any.whl").write_bytes(b"PK")
    (static / "stdlib").mkdir()
    (static / "stdlib" / "python_stdlib.0123456789ab.zip").write_bytes(b"PK" * 100)
    (static / "stdlib" / "python_stdlib.0123456789ab.zip.br").write_bytes(b"br")
    (static / "manifest.json").write_text('{"app": {}}')
    app = Litestar(route_handlers=web_routes(static))
    with TestClient(app) as client:
        yield client, static


def test_page_and_frontend_files_are_served_with_their_types(static_client):
    client, _ = static_client
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<link rel="icon" href="data:,">' in page.text and "/boot.js" in page.text
    boot = client.get("/boot.js")
    assert boot.status_code == 200 and boot.headers["content-type"].startswith("text/javascript")
    css = client.get("/css/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_built_assets_have_correct_mime_types_and_cache_policy(static_client):
    client, _ = static_client
    wasm = client.get("/pyodide/pyodide.asm.wasm")
    assert wasm.headers["content-type"] == "application/wasm" and wasm.headers["cache-control"] == "no-cache"
    assert client.get("/pyodide/pyodide.mjs").headers["content-type"].startswith("text/javascript")
    lock = client.get("/pyodide/pyodide-lock.local.json?v=abc")
    assert lock.status_code == 200 and lock.headers["content-type"].startswith("application/json")
    wheel = client.get("/wheels/0123456789ab/oddsui-0.1.0+x-py3-none-any.whl")
    assert wheel.status_code == 200 and "immutable" in wheel.headers["cache-control"]
    stdlib = client.get("/immutable/stdlib/python_stdlib.0123456789ab.zip", headers={"accept-encoding": "br"})
    assert stdlib.status_code == 200 and stdlib.headers["content-encoding"] == "br"
    assert "immutable" in stdlib.headers["cache-control"] and stdlib.headers["content-type"] == "application/zip"
    manifest = client.get("/manifest.json")
    assert manifest.json() == {"app": {}} and "no-store" in manifest.headers["cache-control"]


def test_revalidation_answers_304_and_a_change_answers_200(static_client):
    client, static = static_client
    first = client.get("/pyodide/pyodide.mjs")
    etag = first.headers["etag"]
    again = client.get("/pyodide/pyodide.mjs", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    (static / "pyodide" / "pyodide.mjs").write_text("export const changed = 1")
    changed = client.get("/pyodide/pyodide.mjs", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "changed" in changed.text


def test_paths_outside_the_asset_folders_are_not_served(static_client):
    client, _ = static_client
    assert client.get("/pyodide/%2e%2e/%2e%2e/etc/passwd").status_code == 404
    assert client.get("/pyodide/missing.js").status_code == 404


def test_a_missing_build_is_reported_by_the_manifest_route(tmp_path):
    from backend.web import web_routes

    app = Litestar(route_handlers=web_routes(tmp_path / "nothing-here"))
    with TestClient(app) as client:
        response = client.get("/manifest.json")
        assert response.status_code == 503 and "build_assets.py" in response.json()["error"]
        assert client.get("/").status_code == 200


def test_a_page_whose_render_failed_is_not_given_to_the_next_request(tmp_path):
    from backend.web import FRONTEND_DIR, web_routes

    frontend = tmp_path / "frontend"
    shutil.copytree(FRONTEND_DIR / "css", frontend / "css")
    template = (FRONTEND_DIR / "index.html").read_text()
    app = Litestar(route_handlers=web_routes(tmp_path / "nothing-here", frontend_dir=frontend, page_share=60),
                   debug=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/live").status_code == 500  # no template to render
        (frontend / "index.html").write_text(template)
        page = client.get("/live")  # within the share window of the failed render: rendered again
        assert page.status_code == 200 and 'href="/live"' in page.text
        assert "shared" not in page.headers["server-timing"]
        assert "shared" in client.get("/live").headers["server-timing"]  # a good page is shared


def test_the_oldest_shared_page_makes_way_when_the_pages_kept_are_full(tmp_path, monkeypatch):
    import backend.firstpaint
    from backend.web import web_routes

    monkeypatch.setattr(backend.firstpaint, "SHARED_PAGES", 3)
    app = Litestar(route_handlers=web_routes(tmp_path / "nothing-here", page_share=60))

    def shared(client: TestClient, offset: int) -> bool:
        response = client.get("/live", headers={"cookie": f"tzo={offset}"})  # a page per time zone
        assert response.status_code == 200
        return "shared" in response.headers["server-timing"]

    with TestClient(app) as client:
        assert [shared(client, offset) for offset in (1, 2, 3)] == [False] * 3
        assert [shared(client, offset) for offset in (1, 2, 3)] == [True] * 3  # all three kept
        assert not shared(client, 4)  # a fourth page: the oldest (1) makes way, not the newcomer
        assert [shared(client, offset) for offset in (4, 3, 2)] == [True] * 3
        assert not shared(client, 1)


# ------------------------------------------------------------------------------------------------
# the parse worker's files (docs/design.md R10)


def test_worker_files_are_copied_under_content_hashed_names(build_assets, tmp_path, monkeypatch):
    monkeypatch.setattr(build_assets, "WORKER_DIR", tmp_path / "worker")
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "worker.000000000000.mjs").write_text("stale")
    built = build_assets.ensure_worker_files()
    assert set(built) == {"worker.mjs", "parse.py"}
    for source, item in built.items():
        data = (ROOT / "worker" / source).read_bytes()
        assert item.file_name == build_assets.hashed_name(source, data)
        assert (tmp_path / "worker" / item.file_name).read_bytes() == data
        assert item.url == f"/worker/{item.file_name}"
    assert built["parse.py"].file_name.startswith("parse.") and built["parse.py"].file_name.endswith(".py")
    assert sorted(p.name for p in (tmp_path / "worker").iterdir()) == sorted(i.file_name for i in built.values())
    assert build_assets.ensure_worker_files() == built  # idempotent


def test_the_shared_loader_is_copied_next_to_pyodide_under_a_content_hashed_name(build_assets, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.setattr(build_assets, "PYODIDE_DIR", tmp_path / "pyodide")
    (tmp_path / "pyodide").mkdir()
    (tmp_path / "pyodide" / "pyodide_loader.000000000000.mjs").write_text("stale")
    (tmp_path / "pyodide" / "pyodide.mjs").write_text("export {}")  # the core is left alone
    data = (ROOT / "frontend" / "pyodide_loader.mjs").read_bytes()
    loader = build_assets.ensure_loader()
    assert loader.file_name == build_assets.hashed_name("pyodide_loader.mjs", data)
    assert loader.url == f"/pyodide/{loader.file_name}" and loader.sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "pyodide" / loader.file_name).read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "pyodide").iterdir()) == sorted([loader.file_name, "pyodide.mjs"])
    assert build_assets.ensure_loader() == loader  # idempotent


def test_a_changed_worker_file_gets_a_new_name(build_assets):
    assert build_assets.hashed_name("parse.py", b"a") != build_assets.hashed_name("parse.py", b"b")
    assert build_assets.hashed_name("worker.mjs", b"a").endswith(".mjs")


def test_the_page_lock_lists_what_the_page_installs_by_absolute_url(build_assets, tmp_path, monkeypatch):
    folder = tmp_path / "pyodide"
    folder.mkdir()
    (folder / "pyodide-lock.json").write_text(json.dumps({"info": {"python": "3.14.2"}, "packages": {}}))
    for wheel in build_assets.PYPI_WHEELS:
        (folder / wheel.file_name).write_bytes(b"wheel " + wheel.name.encode())
    monkeypatch.setattr(build_assets, "PYODIDE_DIR", folder)
    app = build_assets.AppWheel(file_name="oddsui-0.1.0+abc-py3-none-any.whl", version="0.1.0+abc", sha256="0" * 64)
    lock = json.loads(build_assets.page_lock_bytes(app, "/immutable/pyodide-abc/"))
    assert lock["info"] == {"python": "3.14.2"}
    assert set(lock["packages"]) == set(build_assets.PAGE_PACKAGES) == {"msgspec", "oddsui"}
    msgspec, oddsui = lock["packages"]["msgspec"], lock["packages"]["oddsui"]
    assert msgspec["file_name"].startswith("/immutable/pyodide-abc/msgspec-")
    assert msgspec["sha256"] == hashlib.sha256(b"wheel msgspec").hexdigest()
    assert oddsui == {**oddsui, "file_name": "/wheels/000000000000/oddsui-0.1.0+abc-py3-none-any.whl", "sha256": "0" * 64,
                      "version": "0.1.0+abc", "imports": ["oddsui"], "depends": []}


def test_manifest_worker_section_has_what_the_worker_init_needs(build_assets):
    app = build_assets.AppWheel(file_name="oddsui-0.1.0+abc-py3-none-any.whl", version="0.1.0+abc", sha256="0" * 64)
    worker = {
        "worker.mjs": build_assets.HashedFile("worker.mjs", "worker.111111111111.mjs", "1" * 64),
        "parse.py": build_assets.HashedFile("parse.py", "parse.222222222222.py", hashlib.sha256(b"x").hexdigest()),
    }
    page_lock = build_assets.HashedFile("pyodide-lock.json", "pyodide-lock.444444444444.json", "4" * 64, "wheels")
    manifest = json.loads(build_assets.manifest_bytes("f" * 64, app, a_loader(build_assets), page_lock, worker))
    section = manifest["worker"]
    assert section["url"] == "/worker/worker.111111111111.mjs"
    assert section["loader"] == manifest["loader"] == {"url": "/pyodide/pyodide_loader.333333333333.mjs"}
    assert section["pyodide"] == {k: manifest["pyodide"][k] for k in ("module", "indexURL")} | {
        "lockFileURL": "/pyodide/pyodide-lock.local.json?v=ffffffffffff"}  # the core's own lock: msgspec
    assert section["packages"] == ["msgspec"]
    assert section["parse"] == {
        "url": "/worker/parse.222222222222.py",
        "integrity": "sha256-" + base64.b64encode(hashlib.sha256(b"x").digest()).decode(),
        "module": "oddsworker_parse",
    }


def test_the_worker_route_serves_module_scripts_as_immutable(tmp_path):
    from backend.web import web_routes

    static = tmp_path / "static"
    (static / "worker").mkdir(parents=True)
    (static / "worker" / "worker.abc.mjs").write_text("export {}")
    (static / "worker" / "parse.abc.py").write_text("x = 1\n")
    app = Litestar(route_handlers=web_routes(static))
    with TestClient(app) as client:
        module = client.get("/worker/worker.abc.mjs")
        assert module.status_code == 200 and module.headers["content-type"].startswith("text/javascript")
        assert "immutable" in module.headers["cache-control"]
        parse = client.get("/worker/parse.abc.py")
        assert parse.status_code == 200 and parse.text == "x = 1\n"
        assert client.get("/worker/missing.mjs").status_code == 404
        assert client.get("/worker/%2e%2e/%2e%2e/etc/passwd").status_code == 404
