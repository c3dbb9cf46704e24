// The parse worker (docs/design.md R10): a module worker with its own Pyodide that parses large JSON payloads off
// the main thread. The JavaScript only moves messages; the parsing is worker/parse.py.
//
// Protocol (every message is plain, structured-clonable data):
//   in   {type: "init", config}   first message; config = manifest.json's "worker" section:
//                                  {loader: {url}, pyodide: {module, indexURL, lockFileURL},
//                                   packages: ["msgspec"], parse: {url, integrity, module}}
//   in   {id, text}               parse `text`; answered exactly once, in the order received
//   out  {type: "ready", bootMs}  Pyodide, msgspec and parse.py are loaded
//   out  {type: "fatal", error}   the worker cannot work (boot failed, or a message it cannot read);
//                                  it answers nothing more, the page must stop using it
//   out  {id, data, ms}           data: Uint8Array of msgpack (transferred, not copied); ms: parse time
//   out  {id, error, fault, ms}   fault "payload": the text is not valid JSON (the sender's fault);
//                                  fault "unsupported": valid JSON msgpack cannot carry (the page
//                                  parses it itself); fault "internal": parse.py raised (our bug)
// Requests that arrive before the boot finished wait for it; replies keep the order of requests.
// Pyodide and msgspec are loaded by the loader the page uses too (frontend/pyodide_loader.mjs, at the
// URL config.loader.url names). Failures are loud: console.error here, and a message the page reports.

let parseEntry = null; // the Python function parse.parse_or_error, once booted
let booting = null; // Promise of the boot, set by the init message
let dead = false;

function fatal(message) {
  if (dead) return;
  dead = true;
  console.error(`[parse worker] ${message}`);
  self.postMessage({ type: "fatal", error: String(message) });
}

async function boot(config) {
  const started = performance.now();
  for (const key of ["loader", "pyodide", "packages", "parse"]) {
    if (!config || !(key in config)) throw new Error(`worker config lacks "${key}"`);
  }
  let loader;
  try {
    loader = await import(new URL(config.loader.url, self.location.origin).href);
  } catch (err) {
    throw new Error(`cannot import ${config.loader.url}: ${err}`);
  }
  const pyodide = await loader.startPyodide(config.pyodide);
  await loader.loadPackages(pyodide, config.packages);

  // parse.py: fetched with its manifest hash (SRI), written into Pyodide's file system, imported.
  let response;
  try {
    response = await fetch(loader.absolute(config.parse.url), { integrity: config.parse.integrity, cache: "default" });
  } catch (err) {
    throw new Error(`cannot fetch ${config.parse.url}: ${err}`);
  }
  if (!response.ok) throw new Error(`${config.parse.url} answered HTTP ${response.status}`);
  const source = await response.text();
  const moduleName = config.parse.module;
  pyodide.FS.mkdirTree("/oddsworker");
  pyodide.FS.writeFile(`/oddsworker/${moduleName}.py`, source);
  const importer = pyodide.runPython(`
def _oddsworker_import(name):
    import importlib, sys
    if "/oddsworker" not in sys.path:
        sys.path.insert(0, "/oddsworker")
    return importlib.import_module(name).parse_or_error
_oddsworker_import
`);
  try {
    parseEntry = importer(moduleName);
  } finally {
    importer.destroy();
  }
  return Math.round(performance.now() - started);
}

function answer(id, text) {
  const started = performance.now();
  let result;
  try {
    result = parseEntry(text);
  } catch (err) {
    // A bug in parse.py (or MemoryError): the page falls back to parsing this one itself.
    console.error(`[parse worker] request ${id}: ${err}`);
    self.postMessage({ id, error: String(err && err.message ? err.message : err), fault: "internal",
                       ms: performance.now() - started });
    return;
  }
  if (typeof result === "string") {
    // parse_or_error returns a str for a payload that is not valid JSON...
    self.postMessage({ id, error: result, fault: "payload", ms: performance.now() - started });
    return;
  }
  if (result === undefined || result === null) {
    // ...and None for valid JSON that msgpack cannot carry (an integer beyond 64 bits).
    self.postMessage({ id, error: "not representable as msgpack", fault: "unsupported",
                       ms: performance.now() - started });
    return;
  }
  let data;
  try {
    data = result.toJs(); // bytes -> a Uint8Array copied out of the wasm heap
  } finally {
    result.destroy();
  }
  if (!(data instanceof Uint8Array) || data.buffer.byteLength !== data.byteLength) {
    data = new Uint8Array(data); // never transfer (detach) a view of the wasm memory
  }
  self.postMessage({ id, data, ms: performance.now() - started }, [data.buffer]);
}

self.addEventListener("message", async (event) => {
  const message = event.data;
  if (message && message.type === "init") {
    if (booting !== null) {
      fatal("init received twice");
      return;
    }
    booting = boot(message.config);
    booting.then(
      (bootMs) => self.postMessage({ type: "ready", bootMs }),
      (err) => fatal(`boot failed: ${err && err.message ? err.message : err}`),
    );
    return;
  }
  if (!message || typeof message.id !== "number" || typeof message.text !== "string") {
    fatal(`unexpected message: ${JSON.stringify(message).slice(0, 200)}`);
    return;
  }
  if (booting === null) {
    fatal(`request ${message.id} before init`);
    return;
  }
  try {
    await booting; // requests queue up behind the boot, in order (promise reactions run FIFO)
  } catch (_) {
    return; // already reported as fatal
  }
  if (!dead) answer(message.id, message.text);
});

self.addEventListener("messageerror", () => fatal("a message from the page could not be deserialized"));
