"""The course build behind ``make build``: execute every lesson notebook with papermill.

Notebooks run in course order into ``build/notebooks/`` (the sources are never overwritten).
Each result is written to a temporary file and renamed when complete, so a failure leaves the
notebooks already built untouched; the failing one is kept as ``NAME.failed.ipynb`` and the
build exits non-zero naming the notebook and the cell.

Then ``arduino/`` and ``wokwi/`` are regenerated from what lessons 06 and 07 exported, into
``build/projects/`` first. They replace the committed folders only when they are identical
(the course is reproducible: same lessons, same bytes, on any x86-64 CPU) or when
``--update-projects`` is given; otherwise the build lists the files that differ and keeps the
committed ones, so a machine that computes other last bits never silently rewrites them.

``python -m tinyml_helpers.tooling.build --refresh`` instead re-executes the sources in place
(what is committed, with outputs, for students and for nbval), stripping run-specific metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from .. import digits_projects, fan_detector, measurements, sine_projects
from ..deploy.files import swap_in, write_atomic
from ..deploy.projects import WOKWI_BUILD
from ..sine_projects import FLOAT_NAME, INT8_NAME, TFLM_NAME
from .course import NOTEBOOK_DIR, ROOT, lessons

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


def _patch_nbclient() -> None:
    """Stop widget cells from waiting out the whole cell timeout (jupyter/nbclient#312).

    While a cell runs, nbclient waits for its execute_reply with an asyncio poll on the shell
    socket. Meanwhile, for ``interact``/``interactive`` widgets, nbclient plays the front end
    of their Output widget and sends the widget's new state back to the kernel on that same
    socket. jupyter_client's ``Session.send`` does that through a *synchronous* shadow of the
    zmq.asyncio socket, and a synchronous send also consumes the socket's edge-triggered
    "readable" signal: if the reply arrived just before, the pending poll is never woken and
    only finds the reply when its timeout fires -- the cell then "succeeds" after exactly
    ``TIMEOUT_S``. Reading ``EVENTS`` through the asyncio socket after each send makes pyzmq
    re-check the socket and wake a pending poll (its asyncio socket does so on every read).
    Patched on the channel class, so it holds for papermill (``make build``) and nbclient
    (``--refresh``) alike, with jupyter_client 7 or 8.
    """
    # The notebook machinery (zmq, jupyter_client, papermill, nbclient, nbformat) loads only
    # for the commands that execute notebooks: --check and --from-export need none of it.
    import zmq
    import zmq.asyncio
    from jupyter_client.channels import ZMQSocketChannel

    if getattr(ZMQSocketChannel, "_tinyml_rearm_after_send", False):
        return
    send = ZMQSocketChannel.send

    def send_and_rearm(self, msg):
        send(self, msg)
        socket = self.socket
        if isinstance(socket, zmq.asyncio.Socket) and not socket.closed:
            socket.get(zmq.EVENTS)  # wakes a poll whose wake-up the send just consumed

    ZMQSocketChannel.send = send_and_rearm
    ZMQSocketChannel._tinyml_rearm_after_send = True


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
          build_dir: Path = BUILD_DIR, update_projects: bool = False,
          check: bool = False) -> int:
    """Run the build; return a process exit code (0 when every notebook succeeded).

    The regenerated Arduino and Wokwi projects replace the committed ones only when they are
    byte-identical (nothing changes) or ``update_projects`` is set; otherwise they are left in
    ``build/projects/`` and the differences are listed. With ``check`` such differences make
    the exit code 1.
    """
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
    root = ROOT if Path(build_dir) == BUILD_DIR else Path(build_dir)
    differences = export_projects(export_dir, root, Path(build_dir) / "projects",
                                  update=update_projects)
    return 1 if (check and differences) else 0


PROJECT_FOLDERS = ("arduino", "wokwi")


def _tracked_files(tree: Path) -> dict[str, bytes]:
    """Return {relative path: bytes} of the files under ``tree`` that are committed.

    A Wokwi project's compiled firmware (``wokwi/<project>/build/``) is made on each machine
    and not committed, so it is left out.
    """
    if not tree.is_dir():
        return {}
    files = {}
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree)
        if path.is_file() and WOKWI_BUILD not in rel.parts[1:2]:
            files[rel.as_posix()] = path.read_bytes()
    return files


def compare_trees(new: Path, old: Path) -> list[str]:
    """Return one line per file that differs between the folders ``new`` and ``old``."""
    new_files, old_files = _tracked_files(Path(new)), _tracked_files(Path(old))
    lines = []
    for rel in sorted(new_files.keys() | old_files.keys()):
        if rel not in old_files:
            lines.append(f"new      {rel}")
        elif rel not in new_files:
            lines.append(f"removed  {rel}")
        elif new_files[rel] != old_files[rel]:
            lines.append(f"changed  {rel}")
    return lines


def export_projects(export_dir: Path, root: Path, staging: Path,
                    update: bool = False) -> list[str]:
    """Regenerate ``root``/arduino and ``root``/wokwi from what lessons 06, 07 and 08 exported.

    The projects are generated into ``staging`` and compared with the ones in ``root``. They
    are moved into place when they are identical (the compiled Uno firmware comes along) or
    ``update`` is set; otherwise ``root`` keeps the committed projects. Returns the lines
    naming the files that differ (empty when the build reproduced the committed projects).
    """
    sources = [Path(export_dir) / name for name in (sine_projects.FLOAT_NAME,
                                                    sine_projects.INT8_NAME,
                                                    sine_projects.TFLM_NAME)]
    if not any(path.exists() for path in sources):
        return []  # lesson 06 did not run in this build: keep the committed projects
    missing = [path.name for path in sources if not path.exists()]
    if missing:
        raise ValueError(f"{export_dir} lacks {', '.join(missing)}: the export is from an older "
                         "lesson 06; run lesson 06 again")
    detector = fan_detector.load_exported(export_dir)
    fan = None if detector is None else fan_detector.projects(detector)
    if fan is None:
        print("lesson 07's fan detector is not in the export: keeping the fan projects")
    exported = digits_projects.load_exported(export_dir)
    digits = None if exported is None else digits_projects.projects(exported)
    if digits is None:
        print("lesson 08's digits network is not in the export: keeping the digits projects")
    staging = Path(staging)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for name in PROJECT_FOLDERS:  # start from the committed folders, so kept parts stay
        if (root / name).is_dir():
            shutil.copytree(root / name, staging / name, symlinks=True)
    # model.h gets the arena measured on a 32-bit board in every ESP32 library build, with a
    # margin (benchmarks/esp32_tflm_kernels.py --write; tests/test_esp32_kernels.py checks it
    # is current), not the 64-bit Python runtime's.
    arena, note = measurements.sketch_arena()
    print("generating Arduino and Wokwi projects ...", flush=True)
    sine_projects.generate(sources[0].read_bytes(), sources[1].read_bytes(),
                           staging / "arduino", staging / "wokwi", arena_size=arena, fan=fan,
                           arena_note=note, tflm_tflite=sources[2].read_bytes(), digits=digits)
    differences = [f"{line[:9]}{name}/{line[9:]}" for name in PROJECT_FOLDERS
                   for line in compare_trees(staging / name, root / name)]
    if differences and not update:
        print(f"\nKEPT the committed arduino/ and wokwi/: the regenerated projects differ in "
              f"{len(differences)} file(s):", file=sys.stderr)
        for line in differences:
            print(f"  {line}", file=sys.stderr)
        print(f"The regenerated ones are in {staging}/. On the same lessons this means another "
              "kind of CPU (an arm64 machine computes other last bits); after changing a "
              "lesson on purpose, accept them with `make build UPDATE=1`.", file=sys.stderr)
        return differences
    swap_in([(staging / name, root / name) for name in PROJECT_FOLDERS])
    if differences:
        print(f"updated {len(differences)} file(s) under arduino/ and wokwi/")
    else:
        count = sum(len(_tracked_files(root / name)) for name in PROJECT_FOLDERS)
        print(f"arduino/ and wokwi/ reproduced exactly: {count} files identical to the "
              "committed ones")
    return differences


# What a saved widget output says in place of the widget (tests/nbval_sanitize.cfg maps a fresh
# run's widget repr to the same line).
WIDGET_TEXT = "Interactive controls: run this cell to use them."

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
            # state (dropped above) it cannot render anyway. Its text form would be the
            # widget's repr (``interactive(children=(FloatSlider(...``): a reader of the saved
            # page gets a line that says what to do instead.
            data = output.get("data", {})
            if data.pop("application/vnd.jupyter.widget-view+json", None) is not None:
                data["text/plain"] = WIDGET_TEXT


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
    parser = argparse.ArgumentParser(prog="python -m tinyml_helpers.tooling.build",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", help="lesson numbers or file names (default: all)")
    parser.add_argument("--refresh", action="store_true",
                        help="re-execute the source notebooks in place instead of into build/")
    parser.add_argument("--update-projects", action="store_true",
                        help="replace arduino/ and wokwi/ even where the regenerated files "
                             "differ from the committed ones")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the regenerated projects differ from the committed "
                             "ones (they are kept in build/projects/)")
    parser.add_argument("--from-export", type=Path, metavar="DIR",
                        help="run no notebook: regenerate the projects from the files lessons "
                             "06 and 07 exported into DIR (e.g. by a test run of the lessons)")
    args = parser.parse_args(argv)
    try:
        if args.refresh:
            return refresh(args.lessons)
        if args.from_export is not None:
            for name in (FLOAT_NAME, INT8_NAME, TFLM_NAME):
                if not (args.from_export / name).is_file():
                    raise ValueError(f"--from-export: no {name} in {args.from_export} "
                                     "(run lesson 06 first)")
            differences = export_projects(args.from_export, ROOT, BUILD_DIR / "projects",
                                          update=args.update_projects)
            return 1 if (args.check and differences) else 0
        return build(args.lessons, update_projects=args.update_projects, check=args.check)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
