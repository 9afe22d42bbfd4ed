"""The harness's serial protocol: the strict lines a firmware prints (``BEGIN``, ``OUT``,
``CYC``, ``STACK``, ``DONE`` with a Fletcher-16 checksum) and their parser, which refuses a
missing, garbled or out-of-order line instead of returning part of the results."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .boards import FirmwareError


@dataclass
class RunResult:
    """What the firmware printed, parsed and checked."""

    outputs: np.ndarray  # (cases, outputs): int8 codes or float32 values
    cost: np.ndarray | None  # per case: cycles (uno) or instructions (m4); None on the host
    unit: str
    stack_bytes: int  # deepest stack used by one call of the model's invoke()
    text: str  # everything the board printed (after removing the simulator's colours)
    seconds: float  # wall-clock time of the simulation


_INT = r"-?\d+"
_LINES = {
    "BEGIN": re.compile(r"BEGIN (int8|float) (\d+) (\d+) (\d+) (cycles|instructions|none)"),
    "OUT": re.compile(r"OUT (\d+)((?: (?:-?\d+|[0-9a-f]{8}))+)"),
    "CYC": re.compile(r"CYC (\d+) (\d+)"),
    "STACK": re.compile(r"STACK (\d+)"),
    "DONE": re.compile(r"DONE (\d+) (\d+)"),
}


def fletcher16(data: bytes) -> int:
    """Return the Fletcher-16 checksum of ``data``, as the harness computes it."""
    s1 = s2 = 0
    for b in data:
        s1 = (s1 + b) % 255
        s2 = (s2 + s1) % 255
    return (s2 << 8) | s1


def failure(what: str, text: str) -> FirmwareError:
    """Return a FirmwareError saying ``what`` went wrong, with the captured output."""
    tail = text if len(text) <= 6000 else "...\n" + text[-6000:]
    return FirmwareError(f"{what}\n--- captured output ---\n{tail}")


def _begin(lines: list[str], text: str, expect: dict | None) -> tuple[int, tuple]:
    """Return (index of the BEGIN line, (kind, cases, inputs, outputs, unit)) after checks."""
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("BEGIN"))
    except StopIteration:
        raise failure("no BEGIN line: the firmware did not start (or printed nothing)",
                    text) from None
    begin = _LINES["BEGIN"].fullmatch(lines[start])
    if not begin:
        raise failure(f"garbled BEGIN line: {lines[start]!r}", text)
    kind, unit = begin.group(1), begin.group(5)
    n, n_in, n_out = (int(v) for v in begin.group(2, 3, 4))
    if expect:
        got = {"kind": kind, "cases": n, "inputs": n_in, "outputs": n_out}
        wrong = {k: (v, expect[k]) for k, v in got.items() if k in expect and expect[k] != v}
        if wrong:
            raise failure(f"the firmware is not the one built: {wrong} (printed, expected)", text)
    return start, (kind, n, n_in, n_out, unit)


def _out_values(kind: str, values: list[str], where: str, text: str) -> np.ndarray:
    """Return one OUT line's values: int8 codes, or float32 from their bit patterns."""
    if kind == "int8":
        if not all(re.fullmatch(_INT, v) and -128 <= int(v) <= 127 for v in values):
            raise failure(f"{where}: not int8 codes", text)
        return np.array([int(v) for v in values], dtype=np.int8)
    if not all(re.fullmatch(r"[0-9a-f]{8}", v) for v in values):
        raise failure(f"{where}: not float bit patterns", text)
    return np.array([int(v, 16) for v in values], dtype=np.uint32).view(np.float32)


class _Reading:
    """The body of a run (OUT, CYC, STACK lines up to DONE), read one line at a time."""

    def __init__(self, kind: str, n: int, n_out: int, text: str):
        self.kind, self.n, self.n_out, self.text = kind, n, n_out, text
        self.outputs: list[np.ndarray] = []
        self.partial: list[str] = []  # values of a case whose OUT lines are not all read yet
        self.cost: list[int] = []
        self.stack: int | None = None

    def line(self, number: int, line: str) -> re.Match | None:
        """Take one line; return the DONE match when the run ends there."""
        key = line.split(" ", 1)[0]
        match = _LINES[key].fullmatch(line) if key in _LINES and key != "BEGIN" else None
        where = f"line {number}: {line!r}"
        if not match:
            raise failure(f"garbled {where}", self.text)
        if key == "OUT":  # a wide output comes in several OUT lines of the same case
            case, values = int(match.group(1)), match.group(2).split()
            self.partial += values
            if case != len(self.outputs) or len(self.partial) > self.n_out \
                    or len(self.outputs) != len(self.cost):
                raise failure(f"{where} out of order or wrong length", self.text)
            if len(self.partial) == self.n_out:
                self.outputs.append(_out_values(self.kind, self.partial, where, self.text))
                self.partial = []
        elif key == "CYC":
            if int(match.group(1)) != len(self.cost) or len(self.cost) + 1 != len(self.outputs) \
                    or self.partial:
                raise failure(f"{where} out of order", self.text)
            self.cost.append(int(match.group(2)))
        elif key == "STACK":
            if len(self.outputs) != self.n or len(self.cost) != self.n or self.stack is not None:
                raise failure(f"{where}: STACK before all {self.n} cases", self.text)
            self.stack = int(match.group(1))
        return match if key == "DONE" else None


def parse_output(lines: list[str], expect: dict | None = None) -> RunResult:
    """Return the :class:`RunResult` of the harness's lines; raise FirmwareError if not exact.

    Every line from ``BEGIN`` to ``DONE`` must have the expected form, cases must come in
    order, the ``DONE`` checksum must match the outputs, and (with ``expect``) the kind and
    sizes must be those the firmware was built with.
    """
    if isinstance(lines, str) or not isinstance(lines, (list, tuple)) \
            or not all(isinstance(line, str) for line in lines):
        raise TypeError("lines must be a list of str (the lines the firmware printed)")
    text = "\n".join(lines)
    failed = next((line for line in lines if "CRASH" in line or line.startswith("ERROR")), None)
    if failed is not None:
        raise failure(f"the firmware reported a failure: {failed.strip()!r}", text)
    start, (kind, n, _, n_out, unit) = _begin(lines, text, expect)
    reading, done = _Reading(kind, n, n_out, text), None
    for number, line in enumerate(lines[start + 1:], start=start + 2):
        if line.strip() and (done := reading.line(number, line)):
            break
    if done is None:
        raise failure(f"no DONE line: the run stopped after {len(reading.outputs)} of {n} cases",
                    text)
    if reading.stack is None or int(done.group(1)) != n:
        raise failure(f"DONE without all {n} cases and the STACK line", text)
    out = np.stack(reading.outputs) if reading.outputs else np.zeros((0, n_out))
    if fletcher16(out.tobytes()) != int(done.group(2)):
        raise failure("checksum mismatch: the printed outputs are not what the board computed",
                    text)
    cost = None if unit == "none" else np.array(reading.cost, dtype=np.int64)
    return RunResult(out, cost, unit, reading.stack, text, 0.0)
