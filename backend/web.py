"""Serves the browser UI: the page, its static files and the built Pyodide assets.

``web_routes(static_dir)`` returns route handlers and routers for ``create_app``; it owns no state.

URL map (everything outside ``/api/``)::

    GET /                 the first view, rendered on the server (live mode, no sport: ``backend/firstpaint.py``)
    GET /live[/<sportId>], /prematch[/<sportId>], /results[/<sportId>]
                          the same for that mode and sport (docs/ui.md 9); an invalid id is a 404
    GET /immutable/...    content-hashed files, cached for a year, precompressed (brotli, gzip):
                          /immutable/assets/app.<hash>.css, boot.<hash>.js (frontend/css/app.css, boot.js)
                          /immutable/pyodide-<hash>/...  <static_dir>/pyodide/ under its folder's hash
                          /immutable/stdlib/python_stdlib.<hash>.zip  the standard library, compiled
    GET /boot.js          frontend/boot.js          (with pyodide_loader.mjs and worker/worker.mjs, all our JavaScript)
    GET /css/...          frontend/css/
    GET /manifest.json    <static_dir>/manifest.json (written by scripts/build_assets.py)
    GET /pyodide/...      <static_dir>/pyodide/      (Pyodide core, the msgspec wheel, the worker's lock)
    GET /wheels/...       <static_dir>/wheels/       (the page's lock, content-hashed; our wheel, in a folder named by its hash)
    GET /worker/...       <static_dir>/worker/       (the parse worker: worker.<hash>.mjs, parse.<hash>.py)
    GET /apidocs/...      <static_dir>/apidocs/      (RapiDoc, the UI of /schema: see backend/apidoc.py)
    GET /_bench/plain[/<page>], /_bench/pyodide, /_bench/bare.mjs
                          only with BENCH_PAGES=true: the floor and the bare Pyodide boot of
                          bench/firstpaint.py (``bench_routes``)

Caching: everything under ``/immutable/`` has a content hash in its URL and is served with
``Cache-Control: public, max-age=31536000, immutable``; the ``.br`` or ``.gz`` variant
``scripts/build_assets.py`` wrote next to a file is sent when ``Accept-Encoding`` allows it (with
``Content-Encoding`` and ``Vary: Accept-Encoding``). The page's HTML is ``no-store`` (it carries live
state) and compressed on the fly the same way. The wheels under ``/wheels/`` and the worker files under ``/worker/`` carry a content hash
in their names and are served as immutable. Everything else is ``no-cache`` and answers ``If-None-Match`` with 304, so a reload
revalidates cheaply and never runs stale code after a rebuild.

A missing build (``static_dir`` absent) does not stop the app from starting: ``/manifest.json``
then answers 503 with a JSON error naming the build command, which boot.js shows on the page.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, QueryParameter
from litestar.response import File
from litestar.response.file import create_etag_for_file
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_304_NOT_MODIFIED, HTTP_404_NOT_FOUND, HTTP_503_SERVICE_UNAVAILABLE

from backend.http import accepted_encodings

REPO_ROOT = Path(__file__).resolve().parents[1]
FRONTEND_DIR = REPO_ROOT / "frontend"
BUILD_HINT = "front-end assets are not built: run `python3 scripts/build_assets.py` in the repository"

NO_CACHE = CacheControlHeader(no_cache=True)
IMMUTABLE = CacheControlHeader(public=True, max_age=31_536_000, immutable=True)

# Module scripts and wasm must carry these exact types; the platform's mime.types may lack them
# (Python's built-in table maps .mjs to application/javascript).
_MIME_TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"}


def _register_mime_types() -> None:
    for suffix, mime in _MIME_TYPES.items():
        if mimetypes.guess_type(f"x{suffix}")[0] != mime:
            mimetypes.add_type(mime, suffix)


def _resolve_inside(directory: Path, relative: str) -> Path | None:
    """The file ``relative`` names inside ``directory``, or None if absent or outside it."""
    parts = PurePosixPath(relative.lstrip("/")).parts
    if not parts or any(part in ("..", "") for part in parts):
        return None
    base = directory.resolve()
    candidate = base.joinpath(*parts).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


# No file of ours has a longer name; beyond these the OS refuses the name itself (NAME_MAX is 255
# bytes on Linux, PATH_MAX 4096), which Litestar's static files turn into a 500.
MAX_NAME_BYTES = 255
MAX_PATH_CHARS = 1024


def nameable(relative: str) -> bool:
    """Whether ``relative`` could name a file at all: no NUL, short enough parts and whole."""
    return ("\x00" not in relative and len(relative) <= MAX_PATH_CHARS
            and all(len(part.encode("utf-8", "surrogatepass")) <= MAX_NAME_BYTES for part in relative.split("/")))


def _static_hook(directory: Path):
    """A before_request hook for a static files router: 404 for a name no file can have, and 304
    when If-None-Match equals the file's current ETag.

    The ETag is the one Litestar's static files response sends (create_etag_for_file over the
    resolved path, mtime and size), so the browser's cached validator matches it.
    """

    def before_request(request: Request) -> Response[Any] | None:
        file_path = request.path_params.get("file_path")
        if file_path is None:
            return None
        if not nameable(str(file_path)):
            return Response("Not found", status_code=HTTP_404_NOT_FOUND, media_type="text/plain")
        if_none_match = request.headers.get("if-none-match")
        if not if_none_match:
            return None
        path = _resolve_inside(directory, str(file_path))
        if path is None:
            return None
        stat = path.stat()
        etag = create_etag_for_file(path=path, modified_time=stat.st_mtime, file_size=stat.st_size)
        candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        if etag in candidates or "*" in candidates:
            return Response(content=b"", status_code=HTTP_304_NOT_MODIFIED, headers={"etag": etag})
        return None

    return before_request


def _static_router(path: str, directory: Path, name: str, cache_control: CacheControlHeader):
    return create_static_files_router(
        path=path,
        directories=[directory],
        name=name,
        cache_control=cache_control,
        before_request=_static_hook(directory),
        include_in_schema=False,
    )


ENCODING_SUFFIX = {"br": ".br", "gzip": ".gz"}
VARY = {"vary": "Accept-Encoding"}


def _immutable_file(request: Request, path: Path) -> File:
    """``path`` (its precompressed variant when the client takes one), immutable."""
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = dict(VARY)
    served = path
    for encoding in accepted_encodings(request.headers.get("accept-encoding")):
        variant = path.with_name(path.name + ENCODING_SUFFIX[encoding])
        if variant.is_file():
            served = variant
            headers["content-encoding"] = encoding
            break
    return File(served, media_type=media_type, content_disposition_type="inline", headers=headers,
                filename=path.name)


BARE_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Bare Pyodide boot</title>
  <link rel="icon" href="data:,">
  <script type="application/json" id="bare-config">{config}</script>
  <script type="module" src="/_bench/bare.mjs"></script>
</head>
<body>
  <main><h1>Bare Pyodide boot</h1><p id="bare-status" role="status">Starting Pyodide</p></main>
</body>
</html>
"""

# Boots Pyodide exactly as the app's loader does (the same module, index and lock URLs), and nothing
# else: no package, no wheel, no app. bench/firstpaint.py waits for <html data-bare="ready">.
BARE_SCRIPT = """performance.mark("bare:start");
const config = JSON.parse(document.getElementById("bare-config").textContent);
const absolute = (url) => new URL(url, location.origin).href;
const status = document.getElementById("bare-status");
try {
  const { loadPyodide } = await import(absolute(config.module));
  const pyodide = await loadPyodide({
    indexURL: absolute(config.indexURL), lockFileURL: absolute(config.lockFileURL), fullStdLib: false,
    ...(config.stdLibURL ? { stdLibURL: absolute(config.stdLibURL) } : {}),
  });
  if (pyodide.runPython("1 + 1") !== 2) throw new Error("Pyodide cannot add");
  performance.mark("bare:ready");
  status.textContent = "Pyodide ready";
  document.documentElement.dataset.bare = "ready";
} catch (err) {
  status.textContent = `Pyodide failed: ${err}`;
  document.documentElement.dataset.bare = "error";
  console.error(err);
}
"""


def bench_routes(painter: Any) -> list[BaseRouteHandler]:
    """The pages ``bench/firstpaint.py`` compares the UI with (``BENCH_PAGES=true`` only)."""

    @get(["/_bench/plain", "/_bench/plain/{rest:path}"], include_in_schema=False, name="bench:plain")
    async def plain(request: Request) -> Response[bytes]:
        return await painter.respond(request, path=str(request.path_params.get("rest", "/")), plain=True)

    @get("/_bench/pyodide", include_in_schema=False, name="bench:pyodide")
    async def bare_page(stdlib: Annotated[str | None, QueryParameter()] = None) -> Response[str]:
        """Pyodide as its npm package ships it; ``?stdlib=compiled``: with the page's compiled standard library."""
        manifest = painter.manifest()
        if manifest is None:
            return Response({"error": BUILD_HINT}, status_code=HTTP_503_SERVICE_UNAVAILABLE)  # type: ignore[arg-type]
        core = manifest["pyodide"]
        keys = ("module", "indexURL", "lockFileURL") + (("stdLibURL",) if stdlib == "compiled" else ())
        config = json.dumps({key: core[key] for key in keys if key in core}).replace("<", "\\u003c")
        return Response(BARE_PAGE.replace("{config}", config), media_type="text/html",
                        headers={"cache-control": "no-store"})

    @get("/_bench/bare.mjs", include_in_schema=False, name="bench:bare-script", cache_control=NO_CACHE)
    async def bare_script() -> Response[str]:
        return Response(BARE_SCRIPT, media_type="text/javascript")

    return [plain, bare_page, bare_script]


def web_routes(static_dir: Path, frontend_dir: Path = FRONTEND_DIR,
               bench_pages: bool = False, page_share: float = 0.5) -> list[BaseRouteHandler | Any]:
    """Route handlers and routers serving the UI; include them in ``Litestar(route_handlers=...)``.

    ``static_dir`` is the build output of ``scripts/build_assets.py`` (default ``build/static``);
    ``frontend_dir`` holds index.html, boot.js and css/. ``bench_pages`` adds ``bench_routes``;
    ``page_share`` is how long a rendered page is shared (``Settings.page_share_seconds``).
    """
    _register_mime_types()
    static_dir = Path(static_dir)
    frontend_dir = Path(frontend_dir)
    manifest_path = static_dir / "manifest.json"

    from backend.firstpaint import FirstPaint  # the page renderer (imports the front end's views)

    painter = FirstPaint(frontend_dir / "index.html", manifest_path, share_for=page_share)

    @get(["/", "/live", "/prematch", "/results", "/live/{sport_id:str}", "/prematch/{sport_id:str}",
          "/results/{sport_id:str}"], include_in_schema=False, name="ui:index")
    async def index(request: Request) -> Response[bytes]:
        return await painter.respond(request)

    @get("/immutable/{file_path:path}", include_in_schema=False, cache_control=IMMUTABLE, name="ui:immutable")
    async def immutable(request: Request, file_path: FromPath[str]) -> File | Response[str]:
        path = None
        parts = file_path.lstrip("/").split("/", 1)
        if len(parts) == 2 and nameable(file_path):
            folder, rest = parts
            if folder in ("assets", "stdlib"):
                path = _resolve_inside(static_dir / folder, rest)
            elif (core := painter.core_hash()) is not None and folder == f"pyodide-{core}":
                path = _resolve_inside(static_dir / "pyodide", rest)
        if path is None or path.name.endswith((".br", ".gz")) or any(p.startswith(".") for p in file_path.split("/")):
            # not cached: another build's hash (a rolling deploy, a page from before a rebuild) may
            # be served here a moment later, and a 404 kept for a year would outlive it
            return Response("Not found", status_code=HTTP_404_NOT_FOUND, media_type="text/plain",
                            headers={"cache-control": "no-store"})
        return _immutable_file(request, path)

    @get("/boot.js", include_in_schema=False, cache_control=NO_CACHE, name="ui:boot")
    async def boot_js() -> File:
        return File(frontend_dir / "boot.js", media_type="text/javascript", content_disposition_type="inline")

    @get("/manifest.json", include_in_schema=False, cache_control=CacheControlHeader(no_store=True), name="ui:manifest")
    async def manifest() -> File | Response[dict[str, str]]:
        if not manifest_path.is_file():
            return Response({"error": BUILD_HINT}, status_code=HTTP_503_SERVICE_UNAVAILABLE)
        return File(manifest_path, media_type="application/json", content_disposition_type="inline")

    return [
        *(bench_routes(painter) if bench_pages else []),
        index,
        immutable,
        boot_js,
        manifest,
        _static_router("/css", frontend_dir / "css", "ui:css", NO_CACHE),
        _static_router("/pyodide", static_dir / "pyodide", "ui:pyodide", NO_CACHE),
        _static_router("/wheels", static_dir / "wheels", "ui:wheels", IMMUTABLE),
        _static_router("/worker", static_dir / "worker", "ui:worker", IMMUTABLE),
        _static_router("/apidocs", static_dir / "apidocs", "ui:apidocs", NO_CACHE),
    ]
