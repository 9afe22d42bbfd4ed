"""Print what running an int8 model in MicroPython costs against plain C, on this PC.

Per model (lesson 06's sine 1-16-16-1 and lesson 07's fan autoencoder, both as committed under
arduino/): microseconds per inference of the generated ``model_int8.py`` on MicroPython
(the WebAssembly build of tinyml_helpers.deploy.micropython_vm, timed inside it with
``time.ticks_us``), of the same module on CPython, and of the plain-C export
(``export.plain_c_files``) compiled with ``gcc -O2`` for this PC and timed by wall clock
(``clock_gettime``) over a loop; then the bytes of model data: the C const arrays, the
MicroPython arrays, the .py file a board stores, and the heap the imported module keeps
(MicroPython's ``gc.mem_alloc`` after a collection). Every timed run is checked first: the
MicroPython and C outputs equal TFLM's arithmetic (``dense.int8_reference``).

Each time is the best of ``--repeats`` loops of ``--loops`` inferences over varied inputs
(the minimum is the least disturbed by other processes on the machine). The VM is WebAssembly
compiled by wasmtime on an x86-64 CPU, so the ratio says how much an interpreter costs, not
how fast an ESP32 is: a 240 MHz ESP32 runs MicroPython tens of times slower than this PC.

Run: ``.venv/bin/python benchmarks/micropython_cost.py [--loops 50] [--repeats 40]``.
Nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tinyml_helpers.deploy import dense, export, firmware, micropython, micropython_vm

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

# Imports the model in a fresh VM and reports the heap it keeps (one explicit collection).
VM_HEAP_SCRIPT = """
import gc
gc.collect()
before = gc.mem_alloc()
import model_int8
gc.collect()
print('heap', gc.mem_alloc() - before)
"""

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
    heap = int(_value(micropython_vm.run(files, VM_HEAP_SCRIPT), "heap"))
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


def main(argv=None) -> int:
    """Print the cost table; return 0 (1 if the MicroPython VM is not installed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=50, help="inferences per timed loop")
    parser.add_argument("--repeats", type=int, default=40, help="timed loops; the best counts")
    args = parser.parse_args(argv)
    if not micropython_vm.available():
        print(f"the MicroPython VM is not installed: {micropython_vm.INSTALL_HINT}")
        return 1
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
            vm_us, heap = time_vm(model, rows, args.loops, args.repeats)
            folder = Path(tmp) / f"model{index}"
            folder.mkdir()
            py_us = time_cpython(model, rows, args.loops, args.repeats, folder)
            c_us = time_c(model, rows, args.loops * 1000, args.repeats, folder)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
