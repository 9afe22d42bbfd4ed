"""Real MicroPython firmware on a simulated Cortex-M3: the viper emitter the WebAssembly VM lacks.

MicroPython's WebAssembly build (:mod:`.micropython_vm`) has no native or viper code emitter, so
offline it only ever runs the pure-Python path of a generated model module. This module builds
MicroPython's own ``ports/qemu`` firmware for ``BOARD=MPS2_AN385`` (an Arm Cortex-M3 on QEMU's
``mps2-an385`` machine), which has the viper emitter for Thumb-2, from a vendored source tarball
(the caller names it and the cache; the course keeps ``micropython-1.27.0.tar.xz`` in
``../shared/vendor``), and runs programs on it:

* :func:`firmware` unpacks the tarball once into the cache (atomically, under a lock) and
  builds ``firmware.elf`` once per tarball, recipe and compiler (the cache key), with
  ``arm-none-eabi-gcc`` and ``make``. No ``mpy-cross`` is needed: with ``FROZEN_MANIFEST=``
  empty nothing is frozen, so the port's build never calls it. 10-40 s on two cores.
* :func:`run` boots the firmware in ``qemu-system-arm -icount shift=0``, puts ``files`` in a
  RAM file system mounted at ``/ram`` (first on ``sys.path``, so ``import model_int8`` reads
  and compiles the file the way a board imports it from flash), sends the script through the
  raw REPL and returns what it printed; an exception in the script raises
  :class:`MicroPythonRunError` with the traceback.
* :func:`measure` runs a Dense-chain model's generated modules (:mod:`.micropython`) on all
  rows given and returns a :class:`Measurement`: outputs and instructions per inference of the
  viper path and of the pure-Python path, heap bytes allocated per inference, the heap the
  imported model keeps (``gc.mem_alloc()`` before and after the import), the firmware's flash
  (text + data of ``firmware.elf``), the same two paths with the requantization rewritten to
  stay in MicroPython's small ints (:data:`SMALL_INT_REQUANTIZE`), and what single integer
  operations cost (:data:`OPS`). :func:`heap_after_import` measures the same heap in any
  runner, the WebAssembly VM included.

Counting instructions: under ``-icount shift=0`` QEMU advances its virtual clock by 1 ns per
guest instruction, and the MPS2 board's timers count a 25 MHz clock, so one timer tick is 40
instructions (:data:`INSTRUCTIONS_PER_TICK`; every :func:`measure` checks it with an
inline-assembler loop of known length). A measured window stops the SysTick interrupt,
restarts CMSDK timer 0 at its start and reads it at its end, so the count does not depend on
when the host's input arrived: the same firmware and program give the same counts on every
run. Instructions are not cycles: a Cortex-M3 spends more than one cycle on loads, taken
branches and divisions, and the board a project goes to (an ESP32 on Wokwi) is another CPU
with another clock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import boards, cgen, files, micropython, toolchains
from .dense import Int8Model, int8_reference

BOARD = "MPS2_AN385"
MACHINE = "mps2-an385"
CPU = "Cortex-M3"
HEAP_BYTES = 143_360  # MICROPY_HEAP_SIZE: the port's default for Arm, passed explicitly
# The version the tarball holds (its release commit), written into the firmware's banner so
# that make never asks git: the cache folder sits inside the course's own git checkout.
VERSION_TAG, VERSION_HASH = "v1.27.0", "78ff170de9"
SOURCE_DATE_EPOCH = "1765324800"  # 2025-12-10, the release date: the same banner every build
MAKE_VARS = (f"BOARD={BOARD}", "FROZEN_MANIFEST=", f"MICROPY_HEAP_SIZE={HEAP_BYTES}")
RECIPE = 1  # bump to rebuild every cached firmware when the way it is built changes
TOOLS = ("make", "arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm")
PACKAGES = (*toolchains.M4_PACKAGES, "make")
INSTRUCTIONS_PER_TICK = 40  # 25 MHz timer ticks at 1 ns of virtual time per instruction
DEFAULT_TIMEOUT_S = 300.0
RAM_MOUNT = "/ram"


class MicroPythonUnavailable(boards.ToolchainMissing):
    """The MicroPython tarball, a compiler or QEMU is missing; the message says which."""


class MicroPythonBuildError(boards.FirmwareError):
    """Building the firmware failed; the message carries make's output."""


class MicroPythonRunError(boards.FirmwareError):
    """The program raised on the board (the message holds the traceback), or QEMU stopped."""


# --- the firmware ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Firmware:
    """A built MicroPython firmware and its sizes."""

    elf: Path
    version: str  # e.g. "MicroPython 1.27.0"
    compiler: str  # the first line of arm-none-eabi-gcc --version
    sizes: toolchains.Sizes

    @property
    def flash(self) -> int:
        """Return the flash the firmware takes: text + data of firmware.elf (the interpreter,
        its built-in modules and their constants; the heap is .bss, not flash)."""
        return self.sizes.flash


def missing_tools() -> list[str]:
    """Return the executables the firmware needs that are not on PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def install_hint() -> str:
    """Return the apt command that installs what building and running the firmware needs."""
    return toolchains.install_command(PACKAGES)


def unavailable(tarball) -> str | None:
    """Return one line saying why the firmware cannot be built from ``tarball`` here, or None."""
    if tarball is None or not Path(tarball).is_file():
        return (f"no MicroPython sources: {tarball} is absent (the course vendors "
                "micropython-1.27.0.tar.xz in ../shared/vendor)")
    missing = missing_tools()
    if missing:
        return f"{', '.join(missing)} not found; install with: {install_hint()}"
    return None


def require(tarball) -> None:
    """Raise :class:`MicroPythonUnavailable` (one line) if :func:`unavailable` says why."""
    problem = unavailable(tarball)
    if problem:
        raise MicroPythonUnavailable(problem)


def _check_tree(tree: Path) -> None:
    if not (tree / "ports" / "qemu" / "Makefile").is_file():
        raise MicroPythonUnavailable(f"{tree.name} holds no ports/qemu/Makefile: not a "
                                     "MicroPython source tarball")


def unpack(tarball, cache) -> Path:
    """Return the source tree unpacked from ``tarball`` into ``cache``/src (once, atomically)."""
    return files.unpack_tarball(tarball, Path(cache) / "src", check=_check_tree)


def _compiler() -> str:
    run = subprocess.run(["arm-none-eabi-gcc", "--version"], capture_output=True, text=True,
                         check=False)
    return (run.stdout.splitlines() or ["arm-none-eabi-gcc (unknown version)"])[0].strip()


def _version(tarball: Path) -> str:
    match = re.match(r"micropython-(\d+(?:\.\d+)*)", tarball.name)
    return f"MicroPython {match.group(1)}" if match else f"MicroPython from {tarball.name}"


def _read_firmware(folder: Path) -> Firmware:
    facts = json.loads((folder / "firmware.json").read_text(encoding="utf-8"))
    return Firmware(folder / "firmware.elf", facts["version"], facts["compiler"],
                    toolchains.Sizes(*facts["sizes"]))


def firmware(tarball, cache, jobs: int | None = None,
             timeout_s: float = 1800.0) -> Firmware:
    """Return the firmware built from ``tarball`` in ``cache`` (built once; later calls with the
    same tarball, recipe and compiler return the cached one). Raises
    :class:`MicroPythonUnavailable` (one line) when the tarball or a tool is missing and
    :class:`MicroPythonBuildError` when make fails."""
    require(tarball)
    tarball, cache = Path(tarball).resolve(), Path(cache).resolve()
    compiler = _compiler()
    key = hashlib.sha256(json.dumps([files.file_digest(tarball), MAKE_VARS, RECIPE, compiler,
                                     VERSION_TAG, SOURCE_DATE_EPOCH]).encode()).hexdigest()
    target = cache / f"firmware-{BOARD}-{key[:16]}"
    if (target / "firmware.json").is_file():
        return _read_firmware(target)
    with files.locked(cache / f"firmware-{key[:16]}.lock"):
        if (target / "firmware.json").is_file():
            return _read_firmware(target)
        tree = unpack(tarball, cache)
        staging = Path(tempfile.mkdtemp(prefix=f"firmware-{key[:16]}-", dir=cache))
        try:
            build = staging / "build"
            env = dict(os.environ, MICROPY_GIT_TAG=VERSION_TAG, MICROPY_GIT_HASH=VERSION_HASH,
                       SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH, LC_ALL="C")
            command = ["make", "-C", str(tree / "ports" / "qemu"),
                       f"-j{jobs or os.cpu_count() or 1}", *MAKE_VARS, f"BUILD={build}",
                       f"PYTHON={sys.executable}"]
            try:
                done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                                      env=env, timeout=timeout_s, check=False)
            except subprocess.TimeoutExpired:
                raise MicroPythonBuildError(f"building MicroPython took over {timeout_s:g} s") \
                    from None
            if done.returncode != 0 or not (build / "firmware.elf").is_file():
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
                raise MicroPythonBuildError(f"make failed (exit {done.returncode}):\n{tail}")
            out = staging / "out"
            out.mkdir()
            shutil.copy2(build / "firmware.elf", out / "firmware.elf")
            sizes = toolchains.read_sizes(out / "firmware.elf", "arm-none-eabi-size")
            facts = {"version": _version(tarball), "compiler": compiler,
                     "sizes": [sizes.text, sizes.data, sizes.bss], "tarball": tarball.name,
                     "make": list(MAKE_VARS)}
            (out / "firmware.json").write_text(json.dumps(facts, indent=1) + "\n")
            if target.exists():
                shutil.rmtree(target)
            os.replace(out, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return _read_firmware(target)


# --- running a program -----------------------------------------------------------------------

# Runs first in every session: a file system in RAM (a dict of bytes) mounted at /ram and
# first on sys.path, and the helpers measure() uses. window(f, arg) returns the timer ticks
# f(arg) takes with the SysTick interrupt off; allocated(f, arg) the heap bytes it allocates
# with the collector off.
_SETUP = f"""
import gc
import io
import sys
import vfs
import machine
import micropython


class RamFS:
    def __init__(self):
        self.files = {{}}

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def chdir(self, path):
        pass

    def getcwd(self):
        return "/"

    def ilistdir(self, path):
        for name in self.files:
            yield (name, 0x8000, 0)

    def stat(self, path):
        name = path.strip("/")
        if not name:
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if name not in self.files:
            raise OSError(2)
        return (0x8000, 0, 0, 0, 0, 0, len(self.files[name]), 0, 0, 0)

    def open(self, path, mode):
        name = path.strip("/")
        if name not in self.files or "w" in mode or "a" in mode:
            raise OSError(2)
        data = self.files[name]
        return io.BytesIO(data) if "b" in mode else io.StringIO(data.decode())


ram = RamFS()
vfs.mount(ram, "{RAM_MOUNT}")
sys.path.insert(0, "{RAM_MOUNT}")

_MEM = machine.mem32
_TIMER = 0x40000000  # CMSDK APB timer 0 of the MPS2 board: VALUE at +4, RELOAD at +8
_SYST_CSR = 0xE000E010  # SysTick control: 0 stops its 1 ms interrupt, 7 restarts it


def _start():
    _MEM[_SYST_CSR] = 0
    _MEM[_TIMER + 8] = -1
    _MEM[_TIMER] = 1
    _MEM[_TIMER + 4] = -1  # the count restarts here


def _stop():
    value = _MEM[_TIMER + 4]
    _MEM[_SYST_CSR] = 7
    return (-1 - value) & 0xFFFFFFFF


def _nothing(arg):
    pass


def window(f, arg):
    gc.collect()
    _start()
    f(arg)
    ticks = _stop()
    gc.collect()
    _start()
    _nothing(arg)
    return ticks - _stop()


def allocated(f, arg):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    f(arg)
    after = gc.mem_alloc()
    gc.enable()
    gc.collect()
    return after - before


@micropython.asm_thumb
def _spin(r0):  # r0 iterations of two instructions (subs, bne)
    label(loop)
    sub(r0, r0, 1)
    bne(loop)


def instructions_per_tick():
    # one million instructions more, against a timer read to +-1 tick at each end
    return 1000000 / (window(_spin, 1000000) - window(_spin, 500000))
"""

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # the raw REPL's control characters


class _Session:
    """One QEMU run of the firmware, driven through MicroPython's raw REPL on its UART."""

    def __init__(self, fw: Firmware, timeout_s: float):
        self._deadline = time.monotonic() + timeout_s
        self._timeout_s = timeout_s
        self._stderr = tempfile.TemporaryFile()
        command = ["qemu-system-arm", "-machine", MACHINE, "-display", "none", "-monitor",
                   "none", "-serial", "stdio", "-semihosting", "-icount", "shift=0",
                   "-kernel", str(fw.elf)]
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._stderr)
        self._buf = bytearray()
        self._eof = False
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            chunk = self._proc.stdout.read1(65536)
            with self._cond:
                if not chunk:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._buf.extend(chunk)
                self._cond.notify_all()

    def _fail(self, why: str) -> MicroPythonRunError:
        self._stderr.seek(0)
        qemu = self._stderr.read().decode(errors="replace").strip()
        seen = bytes(self._buf[-2000:]).decode(errors="replace")
        return MicroPythonRunError(f"{why}; the board printed last:\n{seen}"
                                   + (f"\nQEMU said: {qemu}" if qemu else ""))

    def expect(self, marker: bytes) -> bytes:
        """Return everything up to and including ``marker`` and drop it from the buffer."""
        with self._cond:
            while marker not in self._buf:
                left = self._deadline - time.monotonic()
                if self._eof:
                    raise self._fail(f"QEMU stopped before printing {marker!r}")
                if left <= 0:
                    raise self._fail(f"no {marker!r} within {self._timeout_s:g} s")
                self._cond.wait(min(left, 1.0))
            end = self._buf.index(marker) + len(marker)
            data = bytes(self._buf[:end])
            del self._buf[:end]
            return data

    def send(self, data: bytes) -> None:
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._fail("QEMU stopped reading its input") from None

    def start(self) -> None:
        self.expect(b">>> ")
        self.send(b"\x01")  # Ctrl-A: raw REPL
        self.expect(b"raw REPL; CTRL-B to exit\r\n>")

    def execute(self, source: str) -> str:
        """Run ``source`` in the raw REPL; return its stdout; raise on an exception."""
        source = source.replace("\r\n", "\n")
        if _FORBIDDEN.search(source):
            raise ValueError("a MicroPython program sent through the REPL cannot hold control "
                             "characters; write them as escapes")
        self.send(source.encode("utf-8") + b"\x04")  # Ctrl-D: run it
        head = self.expect(b"OK")
        if head != b"OK":
            raise self._fail(f"the raw REPL answered {head!r}")
        body = self.expect(b"\x04>")[:-2]
        out, _, err = body.partition(b"\x04")
        out_text = out.decode("utf-8", "replace").replace("\r\n", "\n")
        err_text = err.decode("utf-8", "replace").replace("\r\n", "\n").strip()
        if err_text:
            raise MicroPythonRunError(f"the program raised on the {CPU}:\n{err_text}\n"
                                      f"(stdout before it: {len(out_text.splitlines())} lines)")
        return out_text

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc.stdin.close()
        self._proc.stdout.close()
        self._reader.join(timeout=5)
        self._stderr.close()


def _file_chunks(files: dict[str, str | bytes]) -> list[str]:
    chunks = []
    for name, content in files.items():
        name = cgen.file_name(name, "MicroPython file name")
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        chunks.append(f"ram.files[{name!r}] = {data!r}\n")
    return chunks


def run(fw: Firmware, files: dict[str, str | bytes], script: str,
        timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Return the stdout of ``script`` run by the firmware with ``files`` importable.

    ``files`` maps plain file names to text or bytes; they sit in a RAM file system at
    ``/ram``, first on ``sys.path``. The script also finds ``window(f, arg)`` (timer ticks of
    ``f(arg)``; :data:`INSTRUCTIONS_PER_TICK` instructions each) and ``allocated(f, arg)``
    (heap bytes). Raises :class:`MicroPythonRunError` with the traceback if the script raises,
    or if QEMU stops or takes longer than ``timeout_s``."""
    return _run_chunks(fw, files, [script], timeout_s)[-1]


def _run_chunks(fw: Firmware, files: dict[str, str | bytes], scripts: list[str],
                timeout_s: float) -> list[str]:
    if not isinstance(fw, Firmware):
        raise TypeError(f"fw must be a Firmware (from micropython_qemu.firmware), got "
                        f"{type(fw).__name__}")
    if not all(isinstance(s, str) for s in scripts):
        raise TypeError("a script must be a str")
    missing = [tool for tool in ("qemu-system-arm",) if shutil.which(tool) is None]
    if missing:
        raise MicroPythonUnavailable(f"{', '.join(missing)} not found; install with: "
                                     f"{install_hint()}")
    session = _Session(fw, timeout_s)
    try:
        session.start()
        session.execute(_SETUP)
        for chunk in _file_chunks(files):
            session.execute(chunk)
        return [session.execute(script) for script in scripts]
    finally:
        session.close()


# --- measuring a model -----------------------------------------------------------------------

# Keeps every intermediate of the requantization in MicroPython's small ints (31-bit signed on
# this 32-bit port): the Q31 multiplier is split into four 8-bit limbs and acc * multiplier is
# summed limb by limb with its carries, which gives exactly the rounding of the generated
# multiply_by_quantized_multiplier (TFLM's) while |acc| < 2**21 and shift <= 0 (checked when
# it is installed). An experiment to measure what the bigints cost, not part of the module.
SMALL_INT_REQUANTIZE = """
from array import array

_LIMBED = []
for _d, _w, _b, _m, _s, _zp, _lo, _hi in m.LAYERS:
    _limbs = array("B", bytes(4 * len(_m)))
    for _o in range(len(_m)):
        _v = _m[_o]
        for _k in range(4):
            _limbs[4 * _o + _k] = (_v >> (8 * _k)) & 255
        _bound = abs(_b[_o]) + 255 * sum(abs(_w[_o * _d[0] + _i]) for _i in range(_d[0]))
        if _s[_o] > 0 or _bound >= 1 << 21:
            raise ValueError("the small-int requantization needs shift <= 0, |acc| < 2**21")
    _LIMBED.append((_d, _w, _b, _limbs, _s, _zp, _lo, _hi))


def _requantize_small(acc, limbs, j, shift):
    neg = acc < 0
    if neg:
        acc = -acc
    low = 255 if neg else 0
    t = acc * limbs[j] + low
    t = acc * limbs[j + 1] + low + (t >> 8)
    t = acc * limbs[j + 2] + low + (t >> 8)
    t = acc * limbs[j + 3] + (63 if neg else 64) + (t >> 8)
    v = -(t >> 7) if neg else t >> 7
    if shift == 0:
        return v
    mask = (1 << -shift) - 1
    threshold = mask >> 1
    if v < 0:
        threshold += 1
    return (v >> -shift) + (1 if (v & mask) > threshold else 0)


def _layer_small(x, layer, acc, out, dot):
    d, w, b, limbs, s, zp_out, lo, hi = layer
    dot(x, w, acc, d)
    for o in range(d[1]):
        v = _requantize_small(acc[o] + b[o], limbs, 4 * o, s[o]) + zp_out
        out[o] = lo if v < lo else (hi if v > hi else v)
    return out


m.LAYERS = tuple(_LIMBED)
m._layer = _layer_small
"""

# Single operations of the requantization, each timed in a loop of OP_LOOPS against the same
# loop without it: (name, setup, statement). The multiplier 1518500250 is a typical Q31 value
# (every Q31 multiplier is >= 2**30, above MicroPython's small ints on a 32-bit port).
OPS = (
    ("small * small -> small", "a = 12345; b = 23456", "r = a * b"),
    ("small * small -> bigint", "a = 40000; b = 40000", "r = a * b"),
    ("acc * multiplier (bigint)", "a = 123456; b = 1518500250", "r = a * b"),
    ("load int8 weight from array", "arr = array('b', [-77])", "r = arr[0]"),
    ("load multiplier from array", "arr = array('i', [1518500250])", "r = arr[0]"),
    ("(bigint + 2**30) >> 31", "a = 123456 * 1518500250", "r = (a + 0x40000000) >> 31"),
    ("one requantization (the module's)", "f = m.multiply_by_quantized_multiplier; "
     "b = 1518500250", "r = f(123456, b, -7)"),
    ("one requantization (small ints)", "f = _requantize_small; "
     "b = array('B', [154, 121, 130, 90])", "r = f(123456, b, 0, -7)"),
)
SMALL_OPS = frozenset({"one requantization (small ints)"})  # need SMALL_INT_REQUANTIZE
OP_LOOPS = 1000
OP_ALLOC_LOOPS = 100


def _ops_script(small_int: bool) -> str:
    lines = ["from array import array"]
    for i, (name, setup, statement) in enumerate(OPS):
        if name in SMALL_OPS and not small_int:
            continue
        lines += [f"def _op{i}(n):", f"    {setup}", "    for _ in range(n):",
                  f"        {statement}", f"def _base{i}(n):", f"    {setup}",
                  "    for _ in range(n):", "        r = 0"]
        lines.append(f"print('op', {i}, window(_op{i}, {OP_LOOPS}) - window(_base{i}, "
                     f"{OP_LOOPS}), allocated(_op{i}, {OP_ALLOC_LOOPS}) - "
                     f"allocated(_base{i}, {OP_ALLOC_LOOPS}))")
    return "\n".join(lines) + "\n"


# The heap an import keeps: the name it binds exists already, so that no dict grows for it
# inside the measurement (sys.modules does grow: a board's import adds to it too).
_IMPORT = """
import gc
m = _before = None
gc.collect()
_before = gc.mem_alloc()
import {module} as m
gc.collect()
print("heap", gc.mem_alloc() - _before)
print("fast", int(m.FAST))
"""

_PATHS = """
from array import array

ROWS = {rows!r}
ALLOC_ROWS = ROWS[:{alloc_rows}]


def _loop(rows):
    invoke = m.invoke
    for row in rows:
        invoke(row)


def _outputs():
    # Every output first, into one array, and only then the text: strings made between
    # inferences would be scattered over a heap full of bigint garbage and fragment it.
    codes = array("b", bytes(len(ROWS) * m.N_OUTPUTS))
    k = 0
    for row in ROWS:
        for v in m.invoke(row):
            codes[k] = v
            k += 1
    return " ".join(str(v) for v in codes)


def _report(path, fast):
    if m.use_fast(fast) != fast:
        print("absent", path)
        return
    print("out", path, _outputs())
    print("ticks", path, window(_loop, ROWS))
    print("alloc", path, allocated(_loop, ALLOC_ROWS))


def _dots(dot):
    # The dot products of every layer for every row and nothing else (the layers after the
    # first see the previous row's outputs: the count of a dot product does not depend on
    # the values).
    def run(rows):
        for row in rows:
            x = array("b", row)
            for layer, acc, out in zip(m.LAYERS, m._ACC, m._OUT):
                dot(x, layer[1], acc, layer[0])
                x = out
    return run


print("tick", instructions_per_tick())
_report("viper", True)
_report("pure", False)
for _name, _dot in (("viper", m._dot_viper), ("pure", m._dot_pure)):
    if _dot is not None:
        print("dots", _name, window(_dots(_dot), ROWS))
"""

_SMALL_PATHS = """
_report("viper_small", True)
_report("pure_small", False)
"""

@dataclass(frozen=True)
class PathCost:
    """One way of running the model: its outputs for every row, and per inference the
    instructions and the heap bytes allocated (with the collector off)."""

    outputs: np.ndarray
    instructions: float
    allocated: float


@dataclass(frozen=True)
class Measurement:
    """What :func:`measure` found for one model on the firmware.

    ``paths`` holds "viper" (the dot products in viper, as the Wokwi project runs on an
    ESP32), "pure" (plain Python, as the WebAssembly VM runs), and with ``small_int`` the same
    two with the requantization of :data:`SMALL_INT_REQUANTIZE` ("viper_small",
    "pure_small"). ``dots`` is the instructions per inference of the dot products alone
    ("viper", "pure"); ``ops`` maps each of :data:`OPS` to (instructions, heap bytes)."""

    firmware: Firmware
    rows: int  # inferences timed per path
    instructions_per_tick: float  # the calibration: 40 under -icount shift=0
    fast: bool  # the model module took its viper dot products
    heap_viper: int  # bytes the import keeps with the viper module beside it (Wokwi's files)
    heap_pure: int  # bytes the import keeps with the model module alone
    paths: dict[str, PathCost]
    dots: dict[str, float] = field(default_factory=dict)
    ops: dict[str, tuple[float, float]] = field(default_factory=dict)


def _lines(text: str, key: str) -> list[list[str]]:
    return [line.split()[1:] for line in text.splitlines() if line.split()[:1] == [key]]


def _one(text: str, key: str) -> list[str]:
    found = _lines(text, key)
    if len(found) != 1:
        raise MicroPythonRunError(f"expected one {key!r} line from the board, got "
                                  f"{len(found)}:\n{text[-2000:]}")
    return found[0]


def _paths(text: str, n_rows: int, n_alloc: int) -> dict[str, PathCost]:
    outputs = {words[0]: np.array(words[1:], dtype=np.int64) for words in _lines(text, "out")}
    ticks = {words[0]: int(words[1]) for words in _lines(text, "ticks")}
    alloc = {words[0]: int(words[1]) for words in _lines(text, "alloc")}
    return {name: PathCost(outputs[name].reshape(n_rows, -1),
                           ticks[name] * INSTRUCTIONS_PER_TICK / n_rows, alloc[name] / n_alloc)
            for name in outputs}


def _check_rows(model: Int8Model, rows) -> np.ndarray:
    if rows is None:
        if model.n_inputs != 1:
            raise ValueError("give rows: the default (all 256 codes) is for one-input models")
        return np.arange(-128, 128).reshape(-1, 1)
    rows = np.asarray(rows)
    if rows.ndim != 2 or rows.shape[1] != model.n_inputs or len(rows) == 0 or \
            not np.issubdtype(rows.dtype, np.integer) or rows.min() < -128 or rows.max() > 127:
        raise ValueError(f"rows must be int8 codes of shape (n, {model.n_inputs})")
    return rows.astype(np.int64)


def measure(fw: Firmware, model: Int8Model, rows=None, name: str = micropython.MODULE_NAME,
            alloc_rows: int = 16, small_int: bool = True, ops: bool = True,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> Measurement:
    """Run ``model``'s generated modules on the firmware and return the :class:`Measurement`.

    ``rows`` are int8 input rows (default: all 256 codes of a one-input model); every path's
    instructions are counted over all of them, its allocations over the first ``alloc_rows``
    (the collector is off then, so they must fit in the heap). Every path's outputs are
    compared with TFLM's arithmetic (:func:`.dense.int8_reference`): a difference raises
    :class:`MicroPythonRunError`. Two boots: one with ``name``.py and its viper companion (what
    the Wokwi project copies to the board), one with ``name``.py alone, for its heap."""
    if not isinstance(model, Int8Model):
        raise TypeError(f"model must be a dense.Int8Model, got {type(model).__name__}")
    rows = _check_rows(model, rows)
    alloc_rows = max(1, min(int(alloc_rows), len(rows)))
    files = micropython.model_files(model, name)
    scripts = [_IMPORT.format(module=name),
               _PATHS.format(rows=rows.tolist(), alloc_rows=alloc_rows)]
    if small_int:
        scripts += [SMALL_INT_REQUANTIZE, _SMALL_PATHS]
    text = "".join(_run_chunks(fw, files, scripts, timeout_s))
    calibration = float(_one(text, "tick")[0])
    if abs(calibration / INSTRUCTIONS_PER_TICK - 1) > 1e-3:
        raise MicroPythonRunError(f"one timer tick is {calibration} instructions, not "
                                  f"{INSTRUCTIONS_PER_TICK}: is QEMU run with -icount shift=0?")
    paths = _paths(text, len(rows), alloc_rows)
    want = int8_reference(model, rows)
    for path_name, path in paths.items():
        if path.outputs.shape != want.shape or not np.array_equal(path.outputs, want):
            bad = int(np.count_nonzero((path.outputs != want).any(axis=1))) \
                if path.outputs.shape == want.shape else len(rows)
            raise MicroPythonRunError(f"the {path_name} path differs from TFLM on {bad} of "
                                      f"{len(rows)} rows")
    dots = {words[0]: int(words[1]) * INSTRUCTIONS_PER_TICK / len(rows)
            for words in _lines(text, "dots")}
    # A second boot with the model module alone: its heap, then (on that fresh heap: a call
    # whose frame does not fit in 11 words allocates it on the heap, and the search for a
    # free block is longer in a fragmented heap) the single operations.
    scripts = [_IMPORT.format(module=name)]
    if ops:
        scripts += ([SMALL_INT_REQUANTIZE] if small_int else []) + [_ops_script(small_int)]
    pure_text = "".join(_run_chunks(fw, micropython.model_files(model, name, viper=False),
                                    scripts, timeout_s))
    measured_ops = {OPS[int(i)][0]: (int(t) * INSTRUCTIONS_PER_TICK / OP_LOOPS,
                                     int(a) / OP_ALLOC_LOOPS)
                    for i, t, a in _lines(pure_text, "op")}
    heap_pure = int(_one(pure_text, "heap")[0])
    return Measurement(fw, len(rows), calibration, _one(text, "fast")[0] == "1",
                       int(_one(text, "heap")[0]), heap_pure, paths, dots, measured_ops)


def heap_after_import(runner, files: dict[str, str | bytes],
                      module: str = micropython.MODULE_NAME) -> int:
    """Return the heap bytes importing ``module`` keeps (``gc.mem_alloc()`` after a collection,
    before and after the import) in a fresh MicroPython: ``runner(files, script) -> stdout``
    is :func:`.micropython_vm.run` for the WebAssembly VM, or :func:`run` with a firmware
    (``lambda files, script: run(fw, files, script)``)."""
    out = runner(files, _IMPORT.format(module=micropython.module_name(module)))
    return int(_one(out, "heap")[0])
