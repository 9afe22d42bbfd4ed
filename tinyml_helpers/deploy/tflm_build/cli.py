"""Command line: build and run a TFLM sketch, measure a model's arena, or build the library.

The core knows no checkout, so the TFLM tree is ``--src`` (a checkout folder or an
esp-tflite-micro tarball) or ``$TFLM_SRC``, and the cache ``--cache`` or ``$TFLM_CACHE``
(else ``~/.cache/tinyml_helpers/tflm``). A model is a .tflite file: ``--model``, or the one
.tflite in the sketch folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import boards
from .arena import arena_minimum
from .kernels import kernels_for, model_ops
from .library import library
from .sketch import check_sketch
from .source import TARGETS, source

RUN_ARENA = 8192  # bytes: ample for the course's small models on either target


def _model(path: Path | None, folder: Path | None) -> bytes:
    """Return the bytes of ``path``, else of the one .tflite in ``folder``."""
    if path is None:
        found = sorted(folder.glob("*.tflite")) if folder is not None else []
        if len(found) != 1:
            raise ValueError(f"{folder} holds {len(found)} .tflite files: name the model "
                             "with --model")
        path = found[0]
    return Path(path).read_bytes()


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m tinyml_helpers.deploy.tflm_build``."""
    main_parser = argparse.ArgumentParser(
        prog="python -m tinyml_helpers.deploy.tflm_build",
        description="Build TensorFlow Lite Micro from source for this PC or a simulated "
                    "Cortex-M4F: run a sketch, measure a model's arena, build the library.")
    sub = main_parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "build the sketch with the Arduino stand-in and run it"),
                       ("arena", "bisect the smallest arena a model runs with"),
                       ("library", "build (or find in the cache) the TFLM library")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("target", choices=list(TARGETS))
        cmd.add_argument("--src", type=Path, help="TFLM checkout or esp-tflite-micro tarball "
                                                  "(default: $TFLM_SRC)")
        cmd.add_argument("--cache", type=Path, help="build cache (default: $TFLM_CACHE or "
                                                    "~/.cache/tinyml_helpers/tflm)")
        if name == "run":
            cmd.add_argument("sketch", type=Path, help="the sketch folder")
            cmd.add_argument("--model", type=Path, help="the int8 .tflite it runs (default: "
                                                        "the one in the folder)")
            cmd.add_argument("--arena", type=int, default=RUN_ARENA,
                             help=f"tensor arena in bytes (default {RUN_ARENA})")
        elif name == "arena":
            cmd.add_argument("model", type=Path, help="an int8 .tflite, or a sketch folder "
                                                      "(its .tflite; the sketch confirms)")
        else:
            kind = cmd.add_mutually_exclusive_group(required=True)
            kind.add_argument("--model", type=Path, help="the kernels of this .tflite's ops")
            kind.add_argument("--all-kernels", action="store_true",
                              help="every reference kernel")
    return main_parser


def main(argv=None) -> int:
    """Run the command line; return the exit status."""
    args = parser().parse_args(argv)
    try:
        src = source(args.src, cache=args.cache)
        if args.command == "library":
            kernels = None if args.all_kernels else kernels_for(model_ops(
                Path(args.model).read_bytes()))
            lib = library(args.target, kernels, src=src)
            print(f"{lib.path} ({lib.objects} objects, {lib.source.label}, "
                  f"{'built' if lib.built else 'cached'})")
        elif args.command == "run":
            run = check_sketch(args.sketch, args.target, tflite=_model(args.model, args.sketch),
                               arena_size=args.arena, src=src)
            print("\n".join(run.lines))
            print(f"-- {len(run.rows)} rows, every y as the plain-C arithmetic gives it")
        else:
            folder = args.model if args.model.is_dir() else None
            tflite = _model(None if folder else args.model, folder)
            arena = arena_minimum(args.target, tflite, folder, src=src)
            print(f"{arena.size} bytes ({arena.used} used), {arena.provenance}"
                  + ("; confirmed with the sketch" if arena.sketch_confirmed else ""))
    except (boards.FirmwareError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
