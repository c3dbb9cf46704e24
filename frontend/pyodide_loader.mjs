// Loading Pyodide with our packages: the one copy, shared by the page (frontend/boot.js) and the parse
// worker (worker/worker.mjs). Runs in a window and in a module worker (it only uses globalThis).
//
// scripts/build_assets.py serves it as /pyodide/pyodide_loader.<hash>.mjs and names that URL in
// manifest.json ("loader", and "worker.loader" for the worker), so both import exactly this build of it
// with a dynamic import() and can report a failure to load it.
//
//   startPyodide({module, indexURL, lockFileURL[, stdLibURL]})
//                                                  import pyodide.mjs and boot it from our own origin,
//                                                  with our local lock (real wheel hashes) and, if
//                                                  named, our compiled standard library
//   loadPackages(pyodide, names)                   pyodide.loadPackage from that lock, integrity checked
//   checkVersions(pyodide, [{name, version}])     the installed versions are the manifest's
//
// Failures are loud: each throws a LoadError whose message says what failed. Pyodide's loadPackage
// rejects for a name its lock lacks, but for a package it cannot load (a missing file, a bad hash) it
// may resolve without it, with only a console warning: so its result is checked as well.

export class LoadError extends Error {
  constructor(message) {
    super(message);
    this.name = "LoadError";
  }
}

export function absolute(url) {
  // Pyodide rejects relative base URLs ("Invalid base URL"), so resolve everything here.
  return new URL(url, globalThis.location.origin).href;
}

export async function startPyodide(config) {
  let loadPyodide;
  try {
    ({ loadPyodide } = await import(absolute(config.module)));
  } catch (err) {
    throw new LoadError(`cannot import ${config.module}: ${err}`);
  }
  return loadPyodide({
    indexURL: absolute(config.indexURL),
    lockFileURL: absolute(config.lockFileURL),
    // our standard library, with the modules a visit imports compiled (scripts/build_assets.py)
    ...(config.stdLibURL ? { stdLibURL: absolute(config.stdLibURL) } : {}),
    fullStdLib: false,
  });
}

export async function loadPackages(pyodide, names) {
  const packageErrors = [];
  let loaded;
  try {
    loaded = await pyodide.loadPackage(names, {
      messageCallback: () => {},
      errorCallback: (message) => packageErrors.push(message),
      checkIntegrity: true,
    });
  } catch (err) {
    // e.g. "No known package with name ..." for a name the lock file lacks
    throw new LoadError(`loadPackage failed for [${names.join(", ")}]: ${err && err.message ? err.message : err}`);
  }
  const loadedNames = new Set((loaded || []).map((pkg) => pkg.name));
  const notLoaded = names.filter((name) => !loadedNames.has(name));
  if (packageErrors.length || notLoaded.length) {
    throw new LoadError(
      `loadPackage failed for [${notLoaded.join(", ")}]: ${packageErrors.join("; ") || "not in the lock file"}`,
    );
  }
}

// What is installed, read from the names of the .dist-info folders in site-packages (a wheel's folder
// is "<name>-<version>.dist-info", and the build checks that it agrees with the wheel's METADATA).
// importlib.metadata would say the same, but importing it and its email parser took 155-218 ms here,
// as long as installing both packages.
const INSTALLED_VERSIONS = `
def _oddsui_installed_versions(names):
    import os, re, site
    def canonical(name):
        return re.sub(r"[-_.]+", "-", name).lower()
    installed = {}
    for folder in site.getsitepackages():
        for entry in (os.listdir(folder) if os.path.isdir(folder) else ()):
            if entry.endswith(".dist-info"):
                name, _, version = entry[:-len(".dist-info")].partition("-")
                installed[canonical(name)] = version
    return {name: installed.get(canonical(name)) for name in names}
_oddsui_installed_versions
`;

export function checkVersions(pyodide, wheels) {
  // The installed versions must be the ones the manifest names (a stale cache would show here).
  const checkVersions = pyodide.runPython(INSTALLED_VERSIONS);
  const names = pyodide.toPy(wheels.map((wheel) => wheel.name));
  let installed;
  try {
    const found = checkVersions(names);
    installed = found.toJs({ dict_converter: Object.fromEntries });
    found.destroy();
  } finally {
    names.destroy();
    checkVersions.destroy();
  }
  for (const wheel of wheels) {
    if (installed[wheel.name] !== wheel.version) {
      throw new LoadError(`${wheel.name}: installed ${installed[wheel.name]}, manifest says ${wheel.version}`);
    }
  }
}
