"""TFLM next to the plain C on the same simulated Cortex-M4F: flash (and where it comes from,
read from the linker map), RAM, stack, instructions per inference and TFLM's one-time set-up,
both inside the same firmware harness over the same inputs.

:func:`tflm_implementation` measures any int8 model under TFLM (reference kernels, or a
:class:`KernelSwap` such as CMSIS-NN's), :func:`plain_implementation` any plain-C
:class:`CModel`; both return an :class:`Implementation`, so a benchmark can set several side by
side. :func:`side_by_side` is the sine model's pair (TFLM reference vs the plain-C Dense);
:func:`like_for_like` measures it like with like: TFLM's reference kernels against the plain C
over its reference kernels (the same loops), TFLM with optimized kernels (a :class:`KernelSwap`
such as CMSIS-NN's) against the plain C's fast paths, and both plain-C builds on the Uno."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import dense, export, firmware, graph, tflm
from ..c_model import CModel
from .arena import Arena, arena_for_tflite
from .bench import build_bench, parse_bench_line
from .library import KernelSwap
from .source import Source, TflmBuildError, require

_FLASH_SECTIONS = (".text", ".ARM.exidx", ".eh_frame", ".data")  # what `size` counts as flash
_MAP_OUTPUT = re.compile(r"^(\.[\w.]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)|^(\.[\w.]+)$",
                         re.MULTILINE)
_MAP_INPUT = re.compile(r"^ (\.\S+|COMMON)\s*\n?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+) (\S.*)$",
                        re.MULTILINE)


def _origin(path: str) -> str:
    if "libtflm.a" in path:
        return "TFLM library"
    if re.search(r"/model-\w+\.o$", path):
        return "model"
    if re.search(r"lib(c|m|c_nano|g_nano|rdimon\w*|nosys)\.a", path):
        return "C library"
    if "libgcc.a" in path or Path(path.split("(")[0]).name.startswith("crt"):
        return "compiler runtime"
    return "program"


def flash_by_origin(elf) -> dict[str, int]:
    """Return the flash bytes of an ELF built here by where they come from, read from the
    linker map beside it: "TFLM library", "model" (the flatbuffer), "C library" (newlib-nano,
    libm), "compiler runtime" (libgcc: soft double arithmetic...), "program" (the rest).
    Input sections are clipped at the next one's address (merged strings overlap), so the
    parts add up to the flash that ``size`` reports, give or take alignment padding."""
    text = Path(f"{elf}.map").read_text(encoding="utf-8", errors="replace")
    text = text[text.find("Linker script and memory map"):]
    heads = list(_MAP_OUTPUT.finditer(text))
    ranges, pieces = [], []
    for head, after in zip(heads, [*heads[1:], None], strict=True):
        if head.group(1) not in _FLASH_SECTIONS:
            continue
        start = int(head.group(2), 16)
        ranges.append((start, start + int(head.group(3), 16)))
        block = text[head.end():after.start() if after else len(text)]
        pieces += [(int(a, 16), int(s, 16), _origin(path))
                   for _, a, s, path in _MAP_INPUT.findall(block) if int(s, 16)]
    pieces.sort()
    totals: dict[str, int] = {}
    for i, (address, size, kind) in enumerate(pieces):
        limit = next(hi for lo, hi in ranges if lo <= address < hi)
        if i + 1 < len(pieces) and pieces[i + 1][0] < limit:
            limit = pieces[i + 1][0]
        totals[kind] = totals.get(kind, 0) + max(0, min(size, limit - address))
    return totals


@dataclass(frozen=True)
class Implementation:
    """One way to run the model on the M4, measured in the same harness."""

    name: str
    flash: int  # bytes over the empty harness
    model_bytes: int  # of which: the model's data (flatbuffer / C arrays)
    static_ram: int  # .data + .bss over the empty harness, arena excluded
    arena: int
    stack: int  # deepest stack of one inference
    instructions: float  # mean per inference (NaN on the host: no counter)
    setup_instructions: int  # one-time set-up before the first inference
    outputs_equal_tflm: bool  # all inputs give TFLM's Python-runtime codes
    baseline_flash: int  # flash of the empty harness it is measured over
    flash_parts: dict[str, int] = field(default_factory=dict)  # flash over the baseline by origin
    equal_rows: int = 0  # input rows whose outputs equal TFLM's Python runtime...
    cases: int = 0  # ...of this many

    @property
    def ram(self) -> int:
        """Return static RAM + arena + stack."""
        return self.static_ram + self.arena + self.stack


@dataclass(frozen=True)
class SideBySide:
    """TFLM and the plain C on the same simulated Cortex-M4F."""

    tflm: Implementation
    plain: Implementation
    source: str
    cases: int


def _equal_rows(got: np.ndarray, want: np.ndarray) -> int:
    """Return how many rows of ``got`` equal ``want`` (0 if the shapes differ)."""
    got, want = np.asarray(got), np.asarray(want).reshape(len(want), -1)
    if got.shape != want.shape:
        return 0
    return int(np.all(got == want, axis=1).sum())


def _mean_cost(cost) -> float:
    return float("nan") if cost is None else float(np.mean(cost))


def tflm_implementation(model, rows, build_dir, *, swap: KernelSwap | None = None,
                        src: Source | None = None, target: str = "m4",
                        arena: Arena | int | None = None,
                        name: str | None = None,
                        int8_only: bool | None = None) -> Implementation:
    """Measure the int8 model (.tflite bytes or a :class:`graph.Graph`) under TFLM on
    ``target`` (default the Cortex-M4F on QEMU), inside deploy/harness/harness.c over every
    row of int8 ``rows``: flash and static RAM over the empty harness (and the flash by origin,
    :func:`flash_by_origin`), the smallest arena, the stack of one Invoke, the mean
    instructions per Invoke, the one-time set-up, and whether every row's outputs equal the
    TFLM Python runtime (:func:`tflm.run`).

    ``swap`` builds optimized kernels in place of the reference ones (e.g.
    :func:`cmsis_nn.swap_for`). ``arena`` is the arena the firmware gets: an :class:`Arena`
    or a byte count, default the minimum measured here with :func:`arena_for_tflite` (bisected:
    it runs at that size and fails one byte below). Builds go to ``build_dir``. On the host
    there is no instruction counter: ``instructions`` is NaN and the set-up 0.

    ``int8_only`` as for :func:`bench.build_bench`: by default a swap that defines int8-only
    registrations (CMSIS-NN's) gets them, so the program links only the int8 code of those
    kernels; False measures the generic registrations (float, int16 and int4 paths linked too).
    """
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"name must be a non-empty str or None, got {name!r}")
    if swap is not None and not isinstance(swap, KernelSwap):
        raise TypeError(f"swap must be a tflm_build.KernelSwap or None, got "
                        f"{type(swap).__name__}")
    if isinstance(arena, Arena):
        if arena.target != target:
            raise ValueError(f"the arena was measured on {arena.target}, not on {target}")
    elif arena is not None and (not isinstance(arena, int) or isinstance(arena, bool)
                                or arena <= 0):
        raise TypeError(f"arena must be an Arena, a positive byte count or None, got {arena!r}")
    g = graph.read(model)
    tflite = g.data
    src = require(target, src)
    build_dir = Path(build_dir)
    want = tflm.run(tflite, rows)
    if arena is None:
        arena = arena_for_tflite(target, tflite, build_dir / "arena", src=src, swap=swap)
    size = arena.size if isinstance(arena, Arena) else arena
    full = build_bench(target, tflite, rows, build_dir, arena_size=size, src=src, swap=swap,
                       int8_only=int8_only)
    empty = build_bench(target, tflite, rows, build_dir, arena_size=size, baseline=True,
                        src=src, swap=swap, int8_only=int8_only)
    result = firmware.run(target, full)
    line = parse_bench_line(result.text.splitlines())
    if line is None:
        raise TflmBuildError("the TFLM firmware printed no TFLM SETUP line:\n" + result.text)
    full_size, base_size = firmware.sizes(target, full), firmware.sizes(target, empty)
    full_parts, base_parts = flash_by_origin(full), flash_by_origin(empty)
    parts = {kind: n - base_parts.get(kind, 0) for kind, n in full_parts.items()}
    equal = _equal_rows(result.outputs, want)
    if name is None:
        name = "TFLM" if swap is None else f"TFLM + {swap.label}"
    return Implementation(
        name, full_size.flash - base_size.flash, len(tflite),
        full_size.ram - base_size.ram - line.arena, line.arena, line.invoke_stack,
        _mean_cost(result.cost), line.setup_cost, equal == len(want), base_size.flash, parts,
        equal, len(want))


def plain_implementation(c_model: CModel, rows, build_dir, *, tflite, target: str = "m4",
                         name: str = "plain C", model_bytes: int | None = None
                         ) -> Implementation:
    """Measure the plain C ``c_model`` (a :class:`CModel`, e.g.
    ``export.plain_c_files(graph, "model")``) on ``target`` inside the same harness over every
    row of ``rows`` (:func:`firmware.measure`): flash and static RAM over its empty harness,
    stack, mean instructions per inference, and whether every row's outputs equal the TFLM
    Python runtime on ``tflite`` (the model it was generated from: bytes or a
    :class:`graph.Graph`). ``model_bytes`` defaults to the C model's constant data. It needs
    no arena and no set-up (both 0)."""
    if not isinstance(c_model, CModel):
        raise TypeError(f"c_model must be a CModel (from export.plain_c_files), got "
                        f"{type(c_model).__name__}")
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    tflite = graph.read(tflite).data
    want = tflm.run(tflite, rows)
    flat = np.asarray(rows).reshape(len(want), -1)
    build_dir = Path(build_dir)
    m = firmware.measure(target, c_model, flat, build_dir=build_dir)
    base = firmware.sizes(target, build_dir / f"{c_model.prefix}_baseline.{target}.elf")
    equal = _equal_rows(m.result.outputs, want)
    data = c_model.constant_bytes if model_bytes is None else int(model_bytes)
    cost = float("nan") if m.cost is None else float(m.cost)
    return Implementation(name, m.flash, data, m.static_ram, 0, m.stack, cost, 0,
                          equal == len(want), base.flash, {}, equal, len(want))


def side_by_side(tflite: bytes, build_dir=None, arena: Arena | None = None,
                 src: Source | None = None) -> SideBySide:
    """Measure the one-input int8 Dense model ``tflite`` under TFLM and as plain C on the
    Cortex-M4F (QEMU), both inside deploy/harness/harness.c over every input code: flash and
    static RAM over each one's empty harness, arena, stack, instructions per inference and the
    one-time set-up. ``arena`` (default: measured here with :func:`arena_for_tflite`) is the
    TFLM arena the firmware gets. Built on :func:`tflm_implementation` and
    :func:`plain_implementation`."""
    src = require("m4", src)
    build_dir = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="tflm-vs-c-"))
    codes = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)
    tflm_side = tflm_implementation(tflite, codes, build_dir, src=src, arena=arena, name="TFLM")
    model = dense.int8_layers(tflite)
    plain_side = plain_implementation(export.plain_c_files(model, "sine_int8"), codes,
                                      build_dir / "plain", tflite=tflite,
                                      model_bytes=dense.data_bytes(model))
    return SideBySide(tflm_side, plain_side, src.label, len(codes))


def side_by_side_table(record: dict) -> str:
    """Return a :func:`side_by_side_record` as a Markdown table."""
    t, p = record["TFLM"], record["plain C"]
    rows = [
        ("flash over the empty harness (B)", f"{t['flash']:,}", f"{p['flash']:,}"),
        ("  of which the model's data (B)", f"{t['model_bytes']:,} (flatbuffer)",
         f"{p['model_bytes']:,} (C arrays)"),
        ("  TFLM's own code (B)", f"{t['code_bytes']:,}", "—"),
        ("  C library + compiler runtime it pulls in (B)", f"{t['libc_bytes']:,}", "—"),
        ("static RAM, arena excluded (B)", f"{t['static_ram']:,}", f"{p['static_ram']:,}"),
        ("tensor arena (B)", f"{t['arena']:,}", "—"),
        ("stack of one inference (B)", f"{t['stack']:,}", f"{p['stack']:,}"),
        ("RAM in all (B)", f"{t['ram']:,}", f"{p['ram']:,}"),
        ("instructions per inference", f"{t['instructions']:,.0f}", f"{p['instructions']:,.0f}"),
        ("one-time set-up (instructions)", f"{t['setup_instructions']:,}",
         "0 (nothing to set up)"),
        (f"all {record['cases']} input codes = TFLM runtime",
         "yes" if t["outputs_equal_tflm"] else "NO", "yes" if p["outputs_equal_tflm"] else "NO"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"| {record['board']:{width}} | TFLM ({record['tflm']}, reference kernels) "
             "| plain C |", f"|{'-' * (width + 2)}|---|---|"]
    lines += [f"| {a:{width}} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def _implementation_record(side: Implementation) -> dict:
    """Return one implementation as the plain data :func:`side_by_side_record` stores."""
    return {"flash": side.flash, "model_bytes": side.model_bytes,
            "code_bytes": side.flash_parts.get("TFLM library", 0),
            "libc_bytes": side.flash_parts.get("C library", 0)
            + side.flash_parts.get("compiler runtime", 0),
            "static_ram": side.static_ram, "arena": side.arena, "stack": side.stack,
            "ram": side.ram, "instructions": round(side.instructions, 1),
            "setup_instructions": side.setup_instructions,
            "outputs_equal_tflm": side.outputs_equal_tflm}


def side_by_side_record(result: SideBySide, arenas: dict[str, Arena]) -> dict:
    """Return the measurement as plain data (what ``benchmarks/tflm_vs_plain_c.py --write``
    stores for the lesson and the build): both implementations and the arena minima."""
    return {"board": "Cortex-M4F (QEMU mps2-an386, -icount shift=0)", "tflm": result.source,
            "cases": result.cases, "TFLM": _implementation_record(result.tflm),
            "plain C": _implementation_record(result.plain),
            "arena": {target: {"size": a.size, "used": a.used, "provenance": a.provenance}
                      for target, a in sorted(arenas.items())}}


# --- like with like: reference against reference, optimized against optimized ----------------

PLAIN_REFERENCE = "plain C reference"  # the record's key of the plain C over reference kernels
REFERENCE_PAIR, OPTIMIZED_PAIR = "reference vs reference", "optimized vs optimized"


@dataclass(frozen=True)
class LikeForLike:
    """One model measured like with like on the same Cortex-M4F: TFLM's reference kernels
    against the plain C over its reference kernels (the same loops, without the interpreter),
    and TFLM with optimized kernels against the plain C's fast paths; and both plain-C builds
    on the Uno, where TFLM does not run (None when not measured)."""

    tflm: Implementation  # TFLM, reference kernels
    plain_reference: Implementation  # plain C over the reference kernels (c/tinyml_ops.c)
    tflm_optimized: Implementation  # TFLM with a KernelSwap (e.g. CMSIS-NN's)
    plain: Implementation  # plain C with its fast paths (c/tinyml_kernels.c)
    uno_reference: Implementation | None  # plain C reference on the Uno ("instructions": cycles)
    uno: Implementation | None  # plain C fast paths on the Uno ("instructions": cycles)
    source: str  # the TFLM tree
    optimized_kernels: str  # what the swap put in, and from where
    cases: int

    @property
    def side_by_side(self) -> SideBySide:
        """Return the pair :func:`side_by_side` measures: TFLM reference, plain C fast."""
        return SideBySide(self.tflm, self.plain, self.source, self.cases)


def like_for_like(tflite: bytes, build_dir, *, swap: KernelSwap, swap_src: Source | None = None,
                  arena: Arena | int | None = None, src: Source | None = None,
                  optimized_name: str = "TFLM + CMSIS-NN", optimized_kernels: str | None = None,
                  uno: bool = True) -> LikeForLike:
    """Measure the one-input int8 Dense model ``tflite`` four ways on the Cortex-M4F (QEMU),
    all inside deploy/harness/harness.c over every input code: :func:`side_by_side`'s TFLM
    (reference kernels, arena ``arena``) and plain C (fast paths), the plain C over the
    reference kernels (``export.plain_c_files(..., kernels="reference")``: TFLM's reference
    loops in C) and TFLM with ``swap`` in place of its reference kernels (built from
    ``swap_src``, default ``src``; its arena is bisected here), named ``optimized_name``.
    With ``uno`` both plain-C builds also run on the simulated Uno (cycles). Builds go to
    ``build_dir``."""
    if not isinstance(swap, KernelSwap):
        raise TypeError(f"swap must be a tflm_build.KernelSwap, got {type(swap).__name__}")
    if not isinstance(uno, bool):
        raise TypeError(f"uno must be True or False, got {uno!r}")
    src = require("m4", src)
    build_dir = Path(build_dir)
    pair = side_by_side(tflite, build_dir, arena=arena, src=src)
    g = graph.read(tflite)
    codes = np.arange(-128, 128, dtype=np.int8).reshape(-1, 1)
    reference_c = export.plain_c_files(g, "sine_int8", kernels="reference")
    plain_reference = plain_implementation(reference_c, codes, build_dir / "plain-reference",
                                           tflite=g, name=PLAIN_REFERENCE)
    optimized = tflm_implementation(g, codes, build_dir / "optimized", swap=swap,
                                    src=swap_src or src, name=optimized_name)
    uno_reference = uno_fast = None
    if uno:
        uno_reference = plain_implementation(reference_c, codes, build_dir / "uno-reference",
                                             tflite=g, target="uno", name=PLAIN_REFERENCE)
        layers = dense.int8_layers(g)
        uno_fast = plain_implementation(export.plain_c_files(layers, "sine_int8"), codes,
                                        build_dir / "uno-fast", tflite=g, target="uno",
                                        model_bytes=dense.data_bytes(layers))
    return LikeForLike(pair.tflm, plain_reference, optimized, pair.plain, uno_reference,
                       uno_fast, pair.source, optimized_kernels or swap.label, pair.cases)


def _uno_record(side: Implementation) -> dict:
    return {"flash": side.flash, "model_bytes": side.model_bytes, "static_ram": side.static_ram,
            "stack": side.stack, "cycles": round(side.instructions, 1),
            "outputs_equal_tflm": side.outputs_equal_tflm}


def like_for_like_record(result: LikeForLike, arenas: dict[str, Arena]) -> dict:
    """Return :func:`side_by_side_record` of ``result`` (its "TFLM" and "plain C" rows and the
    arena minima, unchanged) plus the like-with-like rows: "plain C reference", the optimized
    TFLM under its name, "pairs" (which rows each comparison sets side by side), "labels"
    (a column heading per row), "optimized_kernels", and "uno" (the two plain-C builds on the
    Uno, cycles) when measured."""
    record = side_by_side_record(result.side_by_side, arenas)
    optimized = result.tflm_optimized.name
    if optimized in record or optimized == PLAIN_REFERENCE:
        raise ValueError(f"the optimized TFLM needs a name of its own, not {optimized!r}")
    record[PLAIN_REFERENCE] = _implementation_record(result.plain_reference)
    record[optimized] = _implementation_record(result.tflm_optimized)
    record["optimized_kernels"] = result.optimized_kernels
    record["pairs"] = {REFERENCE_PAIR: ["TFLM", PLAIN_REFERENCE],
                       OPTIMIZED_PAIR: [optimized, "plain C"]}
    record["labels"] = {"TFLM": "TFLM, reference kernels",
                        PLAIN_REFERENCE: "plain C, reference kernels",
                        optimized: optimized, "plain C": "plain C, fast paths"}
    if result.uno is not None and result.uno_reference is not None:
        record["uno"] = {"board": firmware.get_target("uno").title,
                         PLAIN_REFERENCE: _uno_record(result.uno_reference),
                         "plain C": _uno_record(result.uno)}
    return record


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "—"


def _pair_table(record: dict, first: str, second: str) -> str:
    """Return two rows of a :func:`like_for_like_record` as a Markdown table, with a ÷."""
    a, b = record[first], record[second]
    labels = record["labels"]

    def data(side: dict) -> str:
        return f"{side['model_bytes']:,} ({'flatbuffer' if side['code_bytes'] else 'C arrays'})"

    def only(side: dict, key: str) -> str:
        return f"{side[key]:,}" if side["code_bytes"] else "—"

    rows = [
        ("flash over the empty harness (B)", f"{a['flash']:,}", f"{b['flash']:,}",
         _ratio(a["flash"], b["flash"])),
        ("  of which the model's data (B)", data(a), data(b), ""),
        ("  TFLM's code, its kernels included (B)", only(a, "code_bytes"),
         only(b, "code_bytes"), ""),
        ("  C library + compiler runtime it pulls in (B)", only(a, "libc_bytes"),
         only(b, "libc_bytes"), ""),
        ("static RAM, arena excluded (B)", f"{a['static_ram']:,}", f"{b['static_ram']:,}", ""),
        ("tensor arena (B)", only(a, "arena"), only(b, "arena"), ""),
        ("stack of one inference (B)", f"{a['stack']:,}", f"{b['stack']:,}", ""),
        ("RAM in all (B)", f"{a['ram']:,}", f"{b['ram']:,}", _ratio(a["ram"], b["ram"])),
        ("instructions per inference (a lower bound on cycles)", f"{a['instructions']:,.0f}",
         f"{b['instructions']:,.0f}", _ratio(a["instructions"], b["instructions"])),
        ("one-time set-up (instructions)", f"{a['setup_instructions']:,}",
         f"{b['setup_instructions']:,}", ""),
        _codes_row(record, a, b),
    ]
    return _markdown(record["board"], (labels[first], labels[second], "TFLM ÷ plain C"), rows)


def _uno_table(record: dict) -> str:
    """Return the Uno rows of a :func:`like_for_like_record` as a Markdown table."""
    uno, labels = record["uno"], record["labels"]
    a, b = uno[PLAIN_REFERENCE], uno["plain C"]
    rows = [
        ("flash over the empty harness (B)", f"{a['flash']:,}", f"{b['flash']:,}", ""),
        ("static RAM (B)", f"{a['static_ram']:,}", f"{b['static_ram']:,}", ""),
        ("stack of one inference (B)", f"{a['stack']:,}", f"{b['stack']:,}", ""),
        ("cycles per inference", f"{a['cycles']:,.0f}", f"{b['cycles']:,.0f}",
         _ratio(a["cycles"], b["cycles"])),
        _codes_row(record, a, b),
    ]
    return _markdown(uno["board"],
                     (labels[PLAIN_REFERENCE], labels["plain C"], "reference ÷ fast"), rows)


def _codes_row(record: dict, a: dict, b: dict) -> tuple[str, str, str, str]:
    """Return the table row saying whether both builds printed the TFLM runtime's codes."""
    return (f"all {record['cases']} input codes = TFLM runtime",
            "yes" if a["outputs_equal_tflm"] else "NO", "yes" if b["outputs_equal_tflm"] else "NO",
            "")


def _markdown(title: str, heads: tuple[str, str, str], rows: list[tuple]) -> str:
    """Return a four-column Markdown table: ``title`` over the row names, then ``heads``."""
    width = max(len(title), *(len(r[0]) for r in rows))
    lines = [f"| {title:{width}} | {heads[0]} | {heads[1]} | {heads[2]} |",
             f"|{'-' * (width + 2)}|---|---|---|"]
    lines += [f"| {r[0]:{width}} | {r[1]} | {r[2]} | {r[3]} |" for r in rows]
    return "\n".join(lines)


def like_for_like_table(record: dict) -> str:
    """Return a :func:`like_for_like_record` as Markdown: which TFLM and which optimized
    kernels, a table per comparison on the Cortex-M4F, each titled with its pair, then the two
    plain-C builds on the Uno (TFLM does not run there)."""
    optimized = record["pairs"][OPTIMIZED_PAIR][0]
    blocks = [f"TFLM: {record['tflm']}; {optimized}: {record['optimized_kernels']}"]
    blocks += [f"{pair}, on the Cortex-M4F:\n" + _pair_table(record, *names)
               for pair, names in record["pairs"].items()]
    if "uno" in record:
        blocks.append("the plain C on the Uno (TFLM does not run there):\n"
                      + _uno_table(record))
    return "\n\n".join(blocks)
