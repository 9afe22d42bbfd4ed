"""The course build behind ``make build``: execute every lesson notebook with papermill.

Notebooks run in course order into ``build/notebooks/`` (the sources are never overwritten).
Each result is written to a temporary file and renamed when complete, so a failure leaves the
notebooks already built untouched; the failing one is kept as ``NAME.failed.ipynb`` and the
build exits non-zero naming the notebook and the cell.

``python -m tinyml_helpers.build --refresh`` instead re-executes the sources in place (what is
committed, with outputs, for students and for nbval), stripping run-specific metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from .course import NOTEBOOK_DIR, ROOT, lessons
from .files import write_atomic

BUILD_DIR = ROOT / "build"
TIMEOUT_S = 600  # per cell; a lesson takes < 60 s in total, so only a hang gets here


def select(names: list[str] | None, notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Return the lesson paths matching ``names`` (file names or number prefixes), or all."""
    all_lessons = lessons(notebook_dir)
    if not names:
        return all_lessons
    chosen = []
    for name in names:
        hits = [p for p in all_lessons if p.name == name or p.name.startswith(f"{name}_")
                or p.stem == name]
        if not hits:
            known = ", ".join(p.name for p in all_lessons)
            raise ValueError(f"no lesson notebook matches {name!r}; lessons: {known}")
        chosen.extend(hits)
    return chosen


_SHELL_POLL_S = 1.0


def _patch_nbclient() -> None:
    """Make nbclient wait for each cell's reply in 1-second polls instead of one long one.

    With ipywidgets cells, nbclient's single long poll of the shell channel sometimes misses
    the kernel's reply and sits out the whole cell timeout (jupyter/nbclient#312, open): a
    lesson then "takes" ten minutes. Short polls see the reply within a second.
    """
    import asyncio
    from queue import Empty
    from time import monotonic

    from nbclient.client import NotebookClient

    if getattr(NotebookClient, "_tinyml_sliced_polls", False):
        return
    start_client = NotebookClient.async_start_new_kernel_client

    async def start_with_sliced_polls(self):
        kc = await start_client(self)
        get_msg = kc.shell_channel.get_msg

        async def sliced_get_msg(timeout=None):
            deadline = None if timeout is None else monotonic() + timeout
            while True:
                left = _SHELL_POLL_S if deadline is None else deadline - monotonic()
                try:
                    return await get_msg(timeout=max(0.0, min(_SHELL_POLL_S, left)))
                except Empty:
                    if deadline is not None and monotonic() >= deadline:
                        raise
                    await asyncio.sleep(0)

        kc.shell_channel.get_msg = sliced_get_msg
        return kc

    NotebookClient.async_start_new_kernel_client = start_with_sliced_polls
    NotebookClient._tinyml_sliced_polls = True


def execute(src: Path, dst: Path, parameters: dict | None = None) -> float:
    """Execute ``src`` with papermill into ``dst`` (atomically); return seconds taken."""
    import papermill as pm

    _patch_nbclient()
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp.ipynb")
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(src), str(tmp), parameters=parameters or {}, cwd=str(src.parent),
            kernel_name="python3", progress_bar=True, log_output=False,
            execution_timeout=TIMEOUT_S,
        )
    except BaseException:
        if tmp.exists():
            os.replace(tmp, dst.with_name(f"{dst.stem}.failed.ipynb"))
        raise
    os.replace(tmp, dst)
    return time.perf_counter() - start


def _parameters_for(path: Path, **available) -> dict:
    """Return the entries of ``available`` that the notebook's parameters cell declares."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    declared = "".join(cell.source for cell in nb.cells
                       if "parameters" in cell.get("metadata", {}).get("tags", []))
    return {key: value for key, value in available.items()
            if re.search(rf"^{key}\s*=", declared, flags=re.MULTILINE)}


def _describe_failure(path: Path, err) -> str:
    cell = getattr(err, "exec_count", None)
    where = f"cell [{cell}]" if cell is not None else "a cell"
    ename, evalue = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
    return f"FAILED: {path.name} at {where}: {ename}: {evalue}"


def build(names: list[str] | None = None, notebook_dir: Path = NOTEBOOK_DIR,
          build_dir: Path = BUILD_DIR) -> int:
    """Run the build; return a process exit code (0 when every notebook succeeded)."""
    from papermill.exceptions import PapermillExecutionError

    out_dir = Path(build_dir) / "notebooks"
    export_dir = Path(build_dir) / "export"
    times = {}
    todo = select(names, notebook_dir)
    for i, path in enumerate(todo, start=1):
        print(f"[{i}/{len(todo)}] {path.name}", flush=True)
        try:
            times[path.name] = execute(path, out_dir / path.name,
                                       _parameters_for(path, export_dir=str(export_dir)))
        except PapermillExecutionError as err:
            print(_describe_failure(path, err), file=sys.stderr)
            print(f"partial output kept in {out_dir / (path.stem + '.failed.ipynb')}",
                  file=sys.stderr)
            return 1
        print(f"      done in {times[path.name]:.1f} s", flush=True)
    write_atomic(Path(build_dir) / "notebook_times.json", json.dumps(times, indent=2) + "\n")
    print(f"built {len(todo)} notebook(s) into {out_dir}/")
    export_projects(export_dir, ROOT if Path(build_dir) == BUILD_DIR else Path(build_dir))
    return 0


def export_projects(export_dir: Path, root: Path) -> None:
    """Regenerate ``root``/arduino and ``root``/wokwi from what lessons 06 and 07 exported."""
    from . import projects

    sources = [Path(export_dir) / name for name in (projects.FLOAT_NAME, projects.INT8_NAME)]
    if not all(path.exists() for path in sources):
        return  # lesson 06 did not run in this build: keep the committed projects
    from . import fan_detector

    fan = fan_detector.load_exported(export_dir)
    if fan is None:
        print("lesson 07's fan detector is not in the export: keeping the fan projects")
    print("generating Arduino and Wokwi projects (measuring the TFLM arena) ...", flush=True)
    written = projects.generate(sources[0].read_bytes(), sources[1].read_bytes(),
                                root / "arduino", root / "wokwi", fan=fan)
    print(f"wrote {len(written)} files under arduino/ and wokwi/")


# Metadata that changes on every run and would only add noise to committed diffs.
_VOLATILE_CELL_KEYS = ("execution", "papermill", "collapsed", "scrolled")


def clean(nb) -> None:
    """Strip run-specific metadata (and random widget ids) from a notebook node in place."""
    for key in ("papermill", "widgets"):
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        for key in _VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        for output in cell.get("outputs", []):
            # A widget view holds a fresh random model id each run, and without the widget
            # state (dropped above) it cannot render anyway: keep only its text form.
            output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)


def refresh(names: list[str] | None = None) -> int:
    """Re-execute the source notebooks in place with their outputs; return an exit code."""
    import nbclient
    import nbclient.exceptions
    import nbformat

    _patch_nbclient()
    for path in select(names):
        print(f"refreshing {path.name}", flush=True)
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        client = nbclient.NotebookClient(
            nb, timeout=TIMEOUT_S, kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        try:
            client.execute()
        except nbclient.exceptions.CellExecutionError as err:
            print(f"FAILED: {path.name}: {err}", file=sys.stderr)
            return 1
        clean(nb)
        write_atomic(path, nbformat.writes(nb) + "\n")
        print(f"      done in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


def main(argv=None) -> int:
    """Command line for ``make build`` (and ``--refresh`` for authors)."""
    parser = argparse.ArgumentParser(prog="python -m tinyml_helpers.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson numbers or file names (default: all)")
    parser.add_argument("--refresh", action="store_true",
                        help="re-execute the source notebooks in place instead of into build/")
    args = parser.parse_args(argv)
    try:
        return refresh(args.lessons) if args.refresh else build(args.lessons)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
