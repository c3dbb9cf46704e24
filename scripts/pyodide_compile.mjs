// Compile Python to bytecode with Pyodide's own interpreter, in Node (scripts/build_assets.py).
//
//   node scripts/pyodide_compile.mjs package <pyodide folder> <source folder>
//       Writes __pycache__/<module>.<cache tag>.pyc beside every .py in <source folder> (our wheel's
//       modules, which keep their sources).
//
//   node scripts/pyodide_compile.mjs stdlib <pyodide folder> <out folder> <spec.json>
//       Boots Pyodide, installs the wheels the spec names, imports its modules, calls its functions
//       and runs its scripts
//       -- what the page and the parse worker do -- and writes <out folder>/<path>c, a pyc to take
//       the place of <path>, for every module of the standard library's zip that this imported.
//       spec.json: {"wheels": [path, ...], "imports": [module, ...], "calls": ["module:function", ...],
//                   "scripts": [path, ...]}.
//
// Both boot Pyodide from <pyodide folder> (build/static/pyodide: the very build the page loads) and
// write unchecked hash-based pycs (PEP 552): the interpreter uses them without looking at any source
// or file time. Each prints {"cache_tag", "magic", ...} as JSON on its last line.
//
// Why: Pyodide never writes bytecode (sys.dont_write_bytecode), and its npm package's standard library
// is sources only, so every visit compiles every module it imports: in Node here a bare boot took
// 1.7-1.8 s with that zip and 0.6-0.7 s with the modules compiled; our app's import 310 ms from
// sources, 135 ms with its pycs (in a fresh Chromium page).

import fs from "node:fs";
import path from "node:path";

const [mode, pyodideDir, target, specPath] = process.argv.slice(2);
if (!["package", "stdlib"].includes(mode) || !pyodideDir || !target || (mode === "stdlib" && !specPath)) {
  console.error("usage: node pyodide_compile.mjs package <pyodide folder> <source folder>\n" +
                "       node pyodide_compile.mjs stdlib <pyodide folder> <out folder> <spec.json>");
  process.exit(2);
}
const { loadPyodide } = await import(path.resolve(pyodideDir, "pyodide.mjs"));
const pyodide = await loadPyodide({ indexURL: path.resolve(pyodideDir) + "/", stdout: () => {}, stderr: console.error });
pyodide.FS.mkdirTree("/target");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: path.resolve(target) }, "/target");

let answer;
if (mode === "package") {
  answer = JSON.parse(pyodide.runPython(`
import compileall, importlib.util, json, py_compile, sys
ok = compileall.compile_dir("/target", quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
json.dumps({"ok": bool(ok), "cache_tag": sys.implementation.cache_tag, "magic": importlib.util.MAGIC_NUMBER.hex()})
`));
} else {
  const spec = JSON.parse(fs.readFileSync(specPath, "utf8"));
  if (spec.wheels.length) await pyodide.loadPackage(spec.wheels.map((wheel) => path.resolve(wheel)), { messageCallback: () => {} });
  pyodide.FS.mkdirTree("/scripts");
  spec.scripts.forEach((script, index) => pyodide.FS.writeFile(`/scripts/script_${index}.py`, fs.readFileSync(script)));
  pyodide.globals.set("_spec_json", JSON.stringify(spec));
  answer = JSON.parse(pyodide.runPython(`
import importlib, importlib.util, json, os, runpy, sys, zipfile
spec = json.loads(_spec_json)
for name in spec["imports"]:
    importlib.import_module(name)
for call in spec.get("calls", []):  # "module:function", e.g. what the app imports after its start
    module, _, function = call.partition(":")
    getattr(importlib.import_module(module), function)()
for index in range(len(spec["scripts"])):
    runpy.run_path(f"/scripts/script_{index}.py", run_name="__compile_only__")
zip_path = next(p for p in sys.path if p.endswith(".zip") and os.path.isfile(p))
prefix = zip_path + "/"
modules = sorted({m.__file__[len(prefix):] for m in list(sys.modules.values())
                  if (getattr(m, "__file__", None) or "").startswith(prefix) and m.__file__.endswith(".py")})
with zipfile.ZipFile(zip_path) as zf:
    for name in modules:
        source = zf.read(name)
        code = compile(source, prefix + name, "exec", dont_inherit=True)  # the path tracebacks showed
        data = importlib._bootstrap_external._code_to_hash_pyc(code, importlib.util.source_hash(source), False)
        out = "/target/" + name + "c"
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as fh:
            fh.write(data)
json.dumps({"ok": True, "cache_tag": sys.implementation.cache_tag, "magic": importlib.util.MAGIC_NUMBER.hex(),
            "zip": os.path.basename(zip_path), "modules": modules})
`));
}
if (!answer.ok) {
  console.error("compiling failed (see above)");
  process.exit(1);
}
delete answer.ok;
console.log(JSON.stringify(answer));
