// The page's JavaScript: load Pyodide and our packages (through the shared loader), start the Python app.
//
// Every URL comes from /manifest.json (written by scripts/build_assets.py):
//   loader               {url}                                (frontend/pyodide_loader.mjs, content-hashed:
//                                                              the one copy of the load-Pyodide and
//                                                              loadPackage logic, shared with the worker)
//   pyodide.module       /pyodide/pyodide.mjs                 (imported by the loader, so a 404 is caught)
//   pyodide.indexURL     /pyodide/                            (core: asm.wasm, stdlib)
//   pyodide.lockFileURL  /wheels/pyodide-lock.<hash>.json     (the page's lock: msgspec and our wheel by
//                                                              absolute URL, with their real hashes)
//   packages             ["msgspec", "oddsui"]                (one pyodide.loadPackage from that lock)
//   wheels               [{name, version, url}]               (the versions that must be installed)
//   app                  {module, function}                   (called with manifest.json's text once
//                                                              everything is installed; returns the
//                                                              running Page, kept on window.__oddsui.page)
//   worker               {url, loader, pyodide, packages, parse}  (the parse worker; the app starts it and
//                                                              posts it this section, see worker/worker.mjs)
//   page                 {modulepreload, sizes, booted}      (the modules Pyodide's boot imports, its two
//                                                              big files with their sizes, and the name
//                                                              of these files for the "booted" cookie)
// Before the app starts, a JS module "oddsui_ffi" is registered for Python: helpers that read an event's
// text in JavaScript, so a large SSE payload (or fetched body) reaches the parse worker without
// becoming a Python string.
// Progress is reflected on <html data-boot="loading|ready|error"> and in the page's "Prices not live
// yet" status (bytes of Pyodide's files loaded, then what starts); a failure is shown there and logged
// with console.error. Nothing is fetched from any other origin.
//
// The page is server-rendered (docs/ui.md 9): it embeds manifest.json (#manifest, so no request comes
// first) and the state it shows (#first-view), which the app adopts. Pyodide's two big files are
// fetched here, reading their bodies for the progress (the page does not preload them: fetched
// while it painted, they delayed its first paint); their URLs are immutable, so Pyodide's own fetch
// of each is served from the HTTP cache. A browser whose "booted" cookie names these files has
// booted from them before: there, each one its HTTP cache still holds (asked with a cache-only
// fetch, which never goes to the network) is left to Pyodide, which reads it at once.
// Boot phases are performance marks (boot:start, boot:files, boot:pyodide, boot:packages,
// boot:imported, boot:ready): bench/firstpaint.py reads them.

const BOOT_START = performance.now();
performance.mark("boot:start");
// The browser's UTC offset, for the server's next render of local times (backend/firstpaint.py).
document.cookie = `tzo=${-new Date().getTimezoneOffset()}; path=/; max-age=31536000; samesite=lax`;

class BootError extends Error {}

function setBootState(state, detail) {
  document.documentElement.dataset.boot = state;
  const text = document.getElementById("boot-text");
  if (text && detail) text.textContent = detail;
}

function showFatal(message) {
  setBootState("error");
  const box = document.getElementById("boot-error");
  if (box) {
    box.hidden = false;
    box.querySelector(".boot-error-text").textContent = message;
  }
}

// Importable from Python as `oddsui_ffi` (see oddsui/browser.py). docs/design.md R10: a Python read of event.data
// would copy the whole text into Python (1 ms for 259 KB, 33-60 ms for 10 MB here).
const ffiHelpers = {
  // Length of event.data in UTF-16 code units (-1 if it is not a string).
  textUnits: (event) => (typeof event.data === "string" ? event.data.length : -1),
  // Exact UTF-8 size of event.data (a lone surrogate counts 3 bytes, as TextEncoder writes U+FFFD).
  textUtf8Size: (event) => {
    const text = event.data;
    if (typeof text !== "string") return 0;
    let size = text.length;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code < 0x80) continue;
      if (code < 0x800) {
        size += 1;
      } else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length &&
                 (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        size += 2; // a surrogate pair: 2 units, 4 bytes
        i++;
      } else {
        size += 2;
      }
    }
    return size;
  },
  // Post {id, text: event.data} to the parse worker; the string never crosses into Python.
  postText: (worker, id, event) => worker.postMessage({ id, text: event.data }),
  // GET a URL and hold its body like an event ({status, data}), for the same parse path: a body over
  // 100 KB (a week of results, a real feed's hierarchy) goes to the worker without entering Python.
  fetchText: async (url) => {
    const response = await fetch(url);
    return { status: response.status, data: await response.text() };
  },
};

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return null;
}

function embedded(id) {
  const node = document.getElementById(id);
  return node ? node.textContent : "";
}

function megabytes(bytes) {
  return (bytes / 1e6).toFixed(1);
}

// Whether the browser's HTTP cache holds url: a same-origin fetch from the cache alone, which fails
// rather than go to the network, and whose body is not read.
async function inCache(url) {
  try {
    const response = await fetch(url, { cache: "only-if-cached", mode: "same-origin" });
    if (response.body) response.body.cancel().catch(() => {});
    return response.ok;
  } catch (_) {
    return false;
  }
}

// The modules Pyodide's boot imports (our loader, pyodide.mjs, pyodide.asm.mjs: 1.5 MB of
// JavaScript), fetched and compiled while the big files download, so that none waits for another
// when Pyodide starts. Hinted once the first frame is painted, not in the page's <head>: fetching and
// compiling them while a first visit painted made its first paint 20-30 % later (docs/ui.md 9).
function preloadModulesAfterFirstPaint(urls) {
  requestAnimationFrame(() => setTimeout(() => {
    for (const url of urls || []) {
      const link = document.createElement("link");
      link.rel = "modulepreload";
      link.href = url;
      document.head.append(link);
    }
  }, 0));
}

// Fetch Pyodide's big files, showing the bytes read so far; after a boot from these very files
// (``returning``), only those the cache no longer holds. Reading a cached one first would only delay
// Pyodide's own read of it (0.24 s here). A first visit asks the cache nothing: a cache-only fetch
// that misses is logged as a failed load.
async function fetchWithProgress(sizes, returning) {
  const known = Object.keys(sizes || {});
  const cached = returning ? await Promise.all(known.map(inCache)) : known.map(() => false);
  const urls = known.filter((_, index) => !cached[index]);
  if (!urls.length) return;
  const total = urls.reduce((sum, url) => sum + sizes[url], 0);
  const loaded = Object.fromEntries(urls.map((url) => [url, 0]));
  const show = () => {
    const done = Object.values(loaded).reduce((a, b) => a + b, 0);
    setBootState("loading", `Prices not live yet \u00b7 loading ${megabytes(done)} of ${megabytes(total)} MB`);
  };
  show();
  await Promise.all(urls.map(async (url) => {
    const response = await fetch(url);
    if (!response.ok || !response.body) throw new BootError(`${url} answered HTTP ${response.status}`);
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      loaded[url] += value.byteLength;
      show();
    }
  }));
}

async function fetchManifest() {
  const inline = embedded("manifest");
  if (inline) return JSON.parse(inline);
  let response;
  try {
    response = await fetch("/manifest.json", { cache: "no-store" });
  } catch (err) {
    throw new BootError(`cannot fetch /manifest.json: ${err}`);
  }
  if (!response.ok) {
    let detail = "";
    try {
      detail = (await response.json()).error || "";
    } catch (_) {
      /* the body is not JSON; the status says enough */
    }
    throw new BootError(`/manifest.json answered HTTP ${response.status}${detail ? ": " + detail : ""}`);
  }
  const manifest = await response.json();
  for (const key of ["loader", "pyodide", "packages", "wheels", "app"]) {
    if (!(key in manifest)) throw new BootError(`/manifest.json lacks "${key}"`);
  }
  return manifest;
}

async function boot() {
  setBootState("loading", "Prices not live yet \u00b7 starting");
  const manifest = await fetchManifest();
  const files = manifest.page || {};
  preloadModulesAfterFirstPaint(files.modulepreload);

  let loader;
  try {
    loader = await import(new URL(manifest.loader.url, window.location.origin).href);
  } catch (err) {
    throw new BootError(`cannot import ${manifest.loader.url}: ${err}`);
  }

  await fetchWithProgress(files.sizes, Boolean(files.booted) && cookie("booted") === files.booted);
  performance.mark("boot:files");
  setBootState("loading", "Prices not live yet \u00b7 starting Python");
  const pyodide = await loader.startPyodide(manifest.pyodide);
  performance.mark("boot:pyodide");

  setBootState("loading", "Prices not live yet \u00b7 installing the app");
  await loader.loadPackages(pyodide, manifest.packages);
  loader.checkVersions(pyodide, manifest.wheels);
  performance.mark("boot:packages");

  setBootState("loading", "Prices not live yet \u00b7 starting the app");
  pyodide.registerJsModule("oddsui_ffi", ffiHelpers);
  const appModule = pyodide.pyimport(manifest.app.module);
  performance.mark("boot:imported");
  const entry = appModule[manifest.app.function];
  if (typeof entry !== "function") {
    throw new BootError(`${manifest.app.module}.${manifest.app.function} is not callable`);
  }
  // The running Page (a PyProxy): its one owner is window.__oddsui, for the document's lifetime.
  const page = entry(JSON.stringify(manifest), embedded("first-view"));
  entry.destroy();
  appModule.destroy();

  performance.mark("boot:ready");
  const bootMs = Math.round(performance.now() - BOOT_START);
  document.documentElement.dataset.bootMs = String(bootMs);
  window.__oddsui = { pyodide, page, bootMs, manifest, adopted: page.adopted };
  setBootState("ready", "");
  // This build's files are in the HTTP cache now: the next page in this browser asks the cache first.
  if (files.booted) document.cookie = `booted=${files.booted}; path=/; max-age=31536000; samesite=lax`;
  console.info(`[boot] ready in ${bootMs} ms (app ${manifest.app.version})`);
}

boot().catch((err) => {
  // Our own errors (BootError here, LoadError from the loader) already say what failed.
  const ours = err instanceof BootError || (err && err.name === "LoadError");
  const message = ours ? err.message : `${err && err.name ? err.name + ": " : ""}${err && err.message ? err.message : err}`;
  console.error(`[boot] failed: ${message}`);
  showFatal(message);
});
