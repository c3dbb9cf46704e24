// The page's JavaScript: load Pyodide and our packages (through the shared loader), start the Python app.
//
// Every URL comes from /manifest.json (written by scripts/build_assets.py):
//   loader               {url}                                (frontend/pyodide_loader.mjs, content-hashed:
//                                                              the one copy of the load-Pyodide, loadPackage
//                                                              and micropip logic, shared with the worker)
//   pyodide.module       /pyodide/pyodide.mjs                 (imported by the loader, so a 404 is caught)
//   pyodide.indexURL     /pyodide/                            (core: asm.wasm, stdlib)
//   pyodide.lockFileURL  /pyodide/pyodide-lock.local.json?v=  (local lock with the real wheel hashes)
//   packages             ["micropip"]                         (pyodide.loadPackage from that lock)
//   wheels               [{name, version, url}]               (micropip.install by absolute URL, deps=False)
//   app                  {module, function}                   (called with manifest.json's text once
//                                                              everything is installed; returns the
//                                                              running Page, kept on window.__oddsui.page)
//   worker               {url, loader, pyodide, packages, parse}  (the parse worker; the app starts it and
//                                                              posts it this section, see worker/worker.mjs)
// Before the app starts, a JS module "oddsui_ffi" is registered for Python: helpers that read an event's
// text in JavaScript, so a large SSE payload (or fetched body) reaches the parse worker without
// becoming a Python string.
// Progress is reflected on <html data-boot="loading|ready|error">; a failure is shown on the page and
// logged with console.error. Nothing is fetched from any other origin.

const BOOT_START = performance.now();

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

async function fetchManifest() {
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
  setBootState("loading", "Loading manifest…");
  const manifest = await fetchManifest();

  let loader;
  try {
    loader = await import(new URL(manifest.loader.url, window.location.origin).href);
  } catch (err) {
    throw new BootError(`cannot import ${manifest.loader.url}: ${err}`);
  }

  setBootState("loading", `Loading Python (Pyodide ${manifest.pyodide.version})…`);
  const pyodide = await loader.startPyodide(manifest.pyodide);

  setBootState("loading", "Installing packages…");
  await loader.loadPackages(pyodide, manifest.packages);
  await loader.installWheels(pyodide, manifest.wheels);

  setBootState("loading", "Starting…");
  pyodide.registerJsModule("oddsui_ffi", ffiHelpers);
  const appModule = pyodide.pyimport(manifest.app.module);
  const entry = appModule[manifest.app.function];
  if (typeof entry !== "function") {
    throw new BootError(`${manifest.app.module}.${manifest.app.function} is not callable`);
  }
  // The running Page (a PyProxy): its one owner is window.__oddsui, for the document's lifetime.
  const page = entry(JSON.stringify(manifest));
  entry.destroy();
  appModule.destroy();

  const bootMs = Math.round(performance.now() - BOOT_START);
  document.documentElement.dataset.bootMs = String(bootMs);
  window.__oddsui = { pyodide, page, bootMs, manifest };
  setBootState("ready", "");
  console.info(`[boot] ready in ${bootMs} ms (app ${manifest.app.version})`);
}

boot().catch((err) => {
  // Our own errors (BootError here, LoadError from the loader) already say what failed.
  const ours = err instanceof BootError || (err && err.name === "LoadError");
  const message = ours ? err.message : `${err && err.name ? err.name + ": " : ""}${err && err.message ? err.message : err}`;
  console.error(`[boot] failed: ${message}`);
  showFatal(message);
});
