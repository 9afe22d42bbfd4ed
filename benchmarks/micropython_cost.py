"""Print what running an int8 model in MicroPython costs against plain C: on this PC, and on a
simulated Cortex-M3 with the viper emitter.

**On this PC.** Per model (lesson 06's sine 1-16-16-1 and lesson 07's fan autoencoder, both as
committed under arduino/): microseconds per inference of the generated ``model_int8.py`` on
MicroPython (the WebAssembly build of tinyml_helpers.deploy.micropython_vm, timed inside it
with ``time.ticks_us``), of the same module on CPython, and of the plain-C export
(``export.plain_c_files``) compiled with ``gcc -O2`` for this PC and timed by wall clock
(``clock_gettime``) over a loop; then the bytes of model data: the C const arrays, the
MicroPython arrays, the .py file a board stores, and the heap the imported module keeps
(MicroPython's ``gc.mem_alloc`` after a collection). Every timed run is checked first: the
MicroPython and C outputs equal TFLM's arithmetic (``dense.int8_reference``).

Each time is the best of ``--repeats`` loops of ``--loops`` inferences over varied inputs
(the minimum is the least disturbed by other processes on the machine). The VM is WebAssembly
compiled by wasmtime on an x86-64 CPU, so the ratio says how much an interpreter costs, not
how fast an ESP32 is: a 240 MHz ESP32 runs MicroPython tens of times slower than this PC.

**On a Cortex-M3** (the sine model only): real MicroPython 1.27 firmware built from
../shared/vendor/micropython-1.27.0.tar.xz for QEMU's mps2-an385 (tinyml_helpers.deploy.
micropython_qemu; built once into build/micropython, about 30 s), which has the viper emitter
the WebAssembly VM lacks. Instructions per inference over all 256 input codes (QEMU
``-icount shift=0``: deterministic; instructions, not cycles) of the two paths of the generated
module: the viper dot products the Wokwi project runs, and pure Python; heap bytes each
inference allocates; the dot products alone; the same two paths with the requantization
rewritten to stay in MicroPython's small ints; what single operations cost. Beside them: the
firmware's flash (text + data of firmware.elf), the heap the import keeps on the M3 and in the
WebAssembly VM the lesson uses, and the plain C on the Cortex-M4F from
tinyml_helpers/measured/tflm_vs_plain_c.json (its "plain C" row) plus the same measurement
made now for this very model. Every path's outputs equal the TFLM runtime's on all 256 codes.

Run: ``.venv/bin/python benchmarks/micropython_cost.py [--loops 50] [--repeats 40] [--no-pc]
[--write]``. With ``--write`` the Cortex-M3 measurement is stored in
tinyml_helpers/measured/micropython_qemu.json (tests/test_micropython_qemu.py checks it against
a fresh run; lesson 06 prints it). Without the tarball or the Arm tools the M3 part says what
is missing and is skipped (``--write`` then fails).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tinyml_helpers import measurements
from tinyml_helpers.deploy import (
    dense,
    export,
    files,
    firmware,
    micropython,
    micropython_qemu,
    micropython_vm,
    tflm,
)
from tinyml_helpers.tooling import paths

REPO = Path(__file__).resolve().parents[1]
MODELS = {  # name: committed .tflite
    "sine": REPO / "arduino" / "hello_world_plain" / "sine_int8.tflite",
    "fan AE": REPO / "arduino" / "fan_anomaly" / "fan_autoencoder_int8.tflite",
}

VM_SCRIPT = """
import gc
import time
import model_int8 as m
rows = {rows!r}
for row in rows[:{checked}]:
    print('out', ' '.join(str(v) for v in m.invoke(row)))
best = None
for _ in range({repeats}):
    start = time.ticks_us()
    for i in range({loops}):
        m.invoke(rows[i % len(rows)])
    us = time.ticks_diff(time.ticks_us(), start)
    best = us if best is None or us < best else best
print('best_us', best)
"""

QEMU_JSON = measurements.FOLDER / "micropython_qemu.json"
COMMAND = ".venv/bin/python benchmarks/micropython_cost.py --write"


def _rows(model: dense.Int8Model, n: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(-128, 128, size=(n, model.n_inputs)).astype(np.int8)


def _outputs(text: str) -> np.ndarray:
    return np.array([[int(v) for v in line.split()[1:]] for line in text.splitlines()
                     if line.startswith("out ")])


def _value(text: str, key: str) -> float:
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.split()[1])
    raise RuntimeError(f"no {key!r} line in:\n{text}")


def time_vm(model, rows, loops: int, repeats: int) -> tuple[float, int]:
    """Return (µs per inference on the MicroPython VM, heap bytes the module keeps)."""
    files = micropython.model_files(model, viper=False)
    out = micropython_vm.run(files, VM_SCRIPT.format(rows=rows.tolist(), checked=len(rows),
                                                     loops=loops, repeats=repeats))
    np.testing.assert_array_equal(_outputs(out), dense.int8_reference(model, rows))
    heap = micropython_qemu.heap_after_import(micropython_vm.run, files)
    return _value(out, "best_us") / loops, heap


def time_cpython(model, rows, loops: int, repeats: int, folder: Path) -> float:
    """Return µs per inference of the generated module on this CPython."""
    (folder / "model_int8.py").write_text(micropython.model_source(model), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("model_int8_bench", folder / "model_int8.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lists = rows.tolist()
    np.testing.assert_array_equal([module.invoke(r) for r in lists],
                                  dense.int8_reference(model, rows))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(loops):
            module.invoke(lists[i % len(lists)])
        best = min(best, time.perf_counter() - start)
    return best * 1e6 / loops


def time_c(model, rows, loops: int, repeats: int, folder: Path) -> float:
    """Return µs per inference of the plain-C export built with gcc -O2 for this PC."""
    timing = firmware.host_time(export.plain_c_files(model, prefix="bench"), rows,
                                loops=loops, repeats=repeats, build_dir=folder)
    np.testing.assert_array_equal(timing.outputs, dense.int8_reference(model, rows))
    return timing.seconds * 1e6


def pc_table(loops: int, repeats: int) -> None:
    """Print the table of MicroPython (WebAssembly VM), CPython and C on this PC."""
    print(f"{'model':<20} {'MACs':>5} | {'µs VM':>8} {'µs CPython':>10} {'µs C -O2':>9} "
          f"{'VM/C':>6} | {'C data':>7} {'µPy arrays':>10} {'.py file':>8} {'µPy heap':>8}")
    print("-" * 105)
    with tempfile.TemporaryDirectory(prefix="micropython_cost_") as tmp:
        for index, (name, path) in enumerate(MODELS.items()):
            if not path.is_file():
                print(f"{name:<15} missing {path.relative_to(REPO)} (run `make build`)")
                continue
            model = dense.int8_layers(path.read_bytes())
            label = f"{name} {micropython._shape(model)}"
            rows = _rows(model)
            macs = sum(int(lay.weights.size) for lay in model.layers)
            vm_us, heap = time_vm(model, rows, loops, repeats)
            folder = Path(tmp) / f"model{index}"
            folder.mkdir()
            py_us = time_cpython(model, rows, loops, repeats, folder)
            c_us = time_c(model, rows, loops * 1000, repeats, folder)
            source = len(micropython.model_source(model).encode("utf-8"))
            data = dense.data_bytes(model)
            print(f"{label:<20} {macs:>5} | {vm_us:>8.1f} {py_us:>10.1f} {c_us:>9.3f} "
                  f"{vm_us / c_us:>6.0f} | {data:>7,} {data:>10,} {source:>8,} {heap:>8,}")
    print("\nµs: best loop over varied int8 inputs, per inference. VM: MicroPython 1.27 "
          "(WebAssembly, wasmtime), pure-Python path\n(no viper emitter there). C: "
          "export.plain_c_files + tinyml_kernels.c, gcc -O2, wall clock. Outputs of all "
          "three checked\nequal to TFLM's arithmetic first. C data: const arrays (flash); "
          "µPy arrays: the same bytes in array objects;\n.py file: what a board stores; "
          "µPy heap: RAM the imported module keeps (arrays, bytecode, dicts).")


C_ROWS = ("plain C", "plain C reference")  # rows of tflm_vs_plain_c.json, fast paths first
C_LABELS = {"plain C": "plain C, fast paths", "plain C reference": "plain C, reference kernels"}
PATH_NAMES = {  # the measurement's paths, as the record and the table name them
    "viper": "viper dot products",
    "pure": "pure Python",
    "viper_small": "viper dot products, small-int requantization",
    "pure_small": "pure Python, small-int requantization",
}


def measure_m3(tflite_path: Path = MODELS["sine"], build_dir: Path | None = None) -> dict:
    """Return the record of the sine model's MicroPython on the Cortex-M3 (QEMU), with the
    plain C on the Cortex-M4F beside it; raise MicroPythonUnavailable if a tool is missing."""
    fw = micropython_qemu.firmware(paths.MICROPYTHON_TARBALL,
                                   build_dir or paths.BUILD_DIR / "micropython")
    tflite = tflite_path.read_bytes()
    model = dense.int8_layers(tflite)
    codes = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)
    found = micropython_qemu.measure(fw, model, codes)
    reference = tflm.run(tflite, codes)
    module_files = micropython.model_files(model)
    c_record = measurements.load()
    this_model = {}
    with tempfile.TemporaryDirectory(prefix="micropython_cost_c_") as tmp:
        for kernels, source in (("fast", model), ("reference", tflite)):
            c_now = firmware.measure("m4", export.plain_c_files(source, "sine_int8", kernels),
                                     codes, build_dir=Path(tmp) / kernels)
            if not np.array_equal(c_now.result.outputs, reference):
                raise RuntimeError(f"the plain C ({kernels}) differs from TFLM on the M4F")
            this_model[kernels] = {"flash": c_now.flash, "stack": c_now.stack,
                                   "instructions": round(c_now.cost, 1)}
    record = {
        "board": f"{micropython_qemu.CPU} (QEMU {micropython_qemu.MACHINE}, -icount shift=0)",
        "unit": "instructions (QEMU counts executed instructions, not cycles)",
        "micropython": fw.version,
        "firmware": {
            "compiler": fw.compiler, "qemu": _qemu_version(),
            "make": list(micropython_qemu.MAKE_VARS), "text": fw.sizes.text,
            "data": fw.sizes.data, "bss": fw.sizes.bss, "flash": fw.flash,
            "heap_size": micropython_qemu.HEAP_BYTES,
        },
        "model": str(tflite_path.relative_to(REPO)),
        "shape": micropython._shape(model),
        "macs": sum(int(lay.weights.size) for lay in model.layers),
        "outputs": sum(int(lay.weights.shape[0]) for lay in model.layers),
        "cases": len(codes),
        "instructions_per_tick": found.instructions_per_tick,
        "fast": found.fast,
        "paths": {
            name: {"what": PATH_NAMES[name], "instructions": round(cost.instructions, 1),
                   "allocated_per_inference": cost.allocated,
                   "outputs_equal_tflm": bool(np.array_equal(cost.outputs, reference))}
            for name, cost in found.paths.items()},
        "dot_products": {name: round(v, 1) for name, v in found.dots.items()},
        "ops": {name: {"instructions": round(ins, 1), "allocated": alloc}
                for name, (ins, alloc) in found.ops.items()},
        "heap": {
            "m3_model_and_viper": found.heap_viper,
            "m3_model_only": found.heap_pure,
            "vm_lesson_files": micropython_qemu.heap_after_import(micropython_vm.run,
                                                                 module_files),
            "vm_model_only": micropython_qemu.heap_after_import(
                micropython_vm.run, micropython.model_files(model, viper=False)),
        },
        "source_bytes": {name: len(text.encode("utf-8")) for name, text in module_files.items()},
        # lets a lesson tell whether its own model_int8.py is the one measured here
        "module_sha256": hashlib.sha256(module_files["model_int8.py"].encode()).hexdigest(),
        "plain_c_m4": {
            "board": c_record["board"],
            "stored_from": "tinyml_helpers/measured/tflm_vs_plain_c.json (the TFLM sketch's "
                           "per-tensor export of the same 1-16-16-1 network)",
            "stored": {C_LABELS.get(key, key): {field: c_record[key][field] for field in
                                                ("flash", "stack", "instructions")}
                       for key in C_ROWS if key in c_record},
            "this_model": this_model,
        },
        "command": COMMAND,
    }
    bad = [name for name, path in record["paths"].items() if not path["outputs_equal_tflm"]]
    if bad:
        raise RuntimeError(f"MicroPython differs from TFLM on the {', '.join(bad)} path(s)")
    return record


def _qemu_version() -> str:
    run = subprocess.run(["qemu-system-arm", "--version"], capture_output=True, text=True,
                         check=False)
    return (run.stdout.splitlines() or ["unknown"])[0].strip()


def m3_table(record: dict) -> None:
    """Print the Cortex-M3 record as tables."""
    stored = record["plain_c_m4"]["stored"]
    fast = stored["plain C, fast paths"]["instructions"]
    ref = stored.get("plain C, reference kernels", {}).get("instructions")
    fw, heap, src = record["firmware"], record["heap"], record["source_bytes"]
    print(f"\n{record['micropython']} on a {record['board']}, sine {record['shape']} int8, "
          f"all {record['cases']} input codes\n")
    print(f"{'':<46} {'instructions':>12} {'vs C':>6} {'vs ref':>6} {'heap B per':>10} | "
          f"{'flash B':>8} {'RAM B':>6}")
    print(f"{'':<46} {'/inference':>12} {'fast':>6} {'C':>6} {'inference':>10} |")
    print("-" * 104)

    def ratios(ins: float) -> str:
        return f"{ins / fast:>5.1f}x {(f'{ins / ref:>5.1f}x' if ref else '     -')}"

    for label, c in stored.items():
        print(f"{label + ', Cortex-M4F':<46} {c['instructions']:>12,.0f} "
              f"{ratios(c['instructions'])} {0:>10} | {c['flash']:>8,} {c['stack']:>6,}"
              "  (code+data; stack)")
    for name in ("viper", "pure"):
        path = record["paths"][name]
        ram = heap["m3_model_and_viper" if name == "viper" else "m3_model_only"]
        print(f"{'MicroPython, Cortex-M3, ' + path['what']:<46} {path['instructions']:>12,.0f} "
              f"{ratios(path['instructions'])} {path['allocated_per_inference']:>10,.0f} | "
              f"{fw['flash']:>8,} {ram:>6,}  (firmware; heap after import)")
    print("\nThe .py files a board stores beside the firmware: "
          + ", ".join(f"{n} {b:,} B" for n, b in src.items())
          + f". Heap after the import in the WebAssembly VM: {heap['vm_lesson_files']:,} B "
          f"(the lesson's files), {heap['vm_model_only']:,} B (model_int8.py alone).")
    this = record["plain_c_m4"]["this_model"]
    print("The plain C of this very model (per-channel) on the M4F, measured now: "
          + "; ".join(f"{kernels} kernels {c['instructions']:,.1f} instructions, {c['flash']:,} "
                      f"B flash, {c['stack']} B stack" for kernels, c in this.items()) + ".")
    print(f"\nWhy pure Python is slow ({record['macs']} multiply-adds, {record['outputs']} "
          "requantized outputs per inference):")
    dots = record["dot_products"]
    for name in ("viper", "pure"):
        total = record["paths"][name]["instructions"]
        print(f"  {PATH_NAMES[name]:<20} total {total:>9,.0f}; dot products {dots[name]:>9,.0f} "
              f"({dots[name] / record['macs']:,.0f} per multiply-add, call overhead included); "
              f"the rest {total - dots[name]:>9,.0f}")
    for name in ("viper_small", "pure_small"):
        path = record["paths"][name]
        print(f"  {path['what']:<47} {path['instructions']:>9,.0f} instructions, "
              f"{path['allocated_per_inference']:,.0f} B allocated")
    print(f"\n  {'one operation (in a loop, minus the empty loop)':<44} {'instructions':>12} "
          f"{'heap B':>7}")
    for name, op in record["ops"].items():
        print(f"  {name:<44} {op['instructions']:>12,.0f} {op['allocated']:>7,.0f}")
    print(f"\nInstructions are counted by QEMU (-icount shift=0; a 25 MHz timer tick is "
          f"{record['instructions_per_tick']:g} instructions, checked), not cycles; an M3 is "
          "not an ESP32. Flash: text + data of the MicroPython firmware (the interpreter, no "
          "model). Heap: gc.mem_alloc() after the import minus before it.")


def main(argv=None) -> int:
    """Print the cost tables; return 0 (1 if the MicroPython VM is not installed, or if
    ``--write`` cannot measure the Cortex-M3)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=50, help="inferences per timed loop")
    parser.add_argument("--repeats", type=int, default=40, help="timed loops; the best counts")
    parser.add_argument("--no-pc", action="store_true", help="skip the table of this PC")
    parser.add_argument("--write", action="store_true",
                        help=f"store the Cortex-M3 measurement in {QEMU_JSON}")
    args = parser.parse_args(argv)
    if not micropython_vm.available():
        print(f"the MicroPython VM is not installed: {micropython_vm.INSTALL_HINT}")
        return 1
    if not args.no_pc:
        pc_table(args.loops, args.repeats)
    try:
        record = measure_m3()
    except micropython_qemu.MicroPythonUnavailable as exc:
        print(f"\nMicroPython on the Cortex-M3 skipped: {exc}")
        return 1 if args.write else 0
    m3_table(record)
    if args.write:
        text = json.dumps(record, indent=1, ensure_ascii=False) + "\n"
        files.write_files(measurements.FOLDER, {QEMU_JSON.name: text})
        print(f"\nwrote {QEMU_JSON.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
