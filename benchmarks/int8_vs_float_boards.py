"""Lesson 04's int8 against float32 on the simulated Arduino Uno and Cortex-M4F.

Trains lesson 01's sine model for ``--seed`` (``models.trained_sine_model``, as lesson 04
does), converts it to float32 and to full int8 (lesson 04's representative data), and runs
both as library-free C on the simulated Uno (simavr, exact cycles) and Cortex-M4F (QEMU,
instructions), once with the same plain C loop for both types and once with the course's
tuned kernels, on lesson 04's 200 test inputs: flash and RAM over the empty harness, cost per
inference, and the MSE against sin(x) of what each board answered
(``quantization.board_rows``, which also checks every output against TFLM and LiteRT).

Run: ``.venv/bin/python benchmarks/int8_vs_float_boards.py [--seed 0] [--write]`` (about half
a minute; needs avr-gcc, simavr, arm-none-eabi-gcc and qemu-system-arm:
``.venv/bin/python -m tinyml_helpers.deploy.toolchains install``). ``--write`` stores the
result in tinyml_helpers/measured/int8_vs_float_boards.json (written to a temporary file, then
renamed), which lesson 04 prints; tests/test_lesson_claims_04.py measures again and compares.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from tinyml_helpers import models, quantization
from tinyml_helpers.deploy import env, files, firmware, litert


def tool_versions() -> dict:
    """Return the version of each compiler and simulator the measurement depends on."""
    def first_line(command: list[str]) -> str:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return (done.stdout or done.stderr).strip().splitlines()[0]

    simavr = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "simavr"],
                            capture_output=True, text=True, check=False).stdout.strip()
    return {"avr-gcc": first_line(["avr-gcc", "-dumpversion"]),
            "simavr": simavr or "unknown",
            "arm-none-eabi-gcc": first_line(["arm-none-eabi-gcc", "-dumpversion"]),
            "qemu-system-arm": first_line(["qemu-system-arm", "--version"])}


def measure(seed: int) -> dict:
    """Return the record lesson 04 prints: what was measured, with which tools, and the rows."""
    env.setup(seed)
    model, split = models.trained_sine_model(seed)
    representative = quantization.sine_representative(split)
    float_tflite = litert.convert(model, "float32")
    int8_tflite = litert.convert(model, "int8", representative)
    rows = quantization.board_rows(float_tflite, int8_tflite, split.x_test)
    return {"command": quantization.BOARDS_COMMAND, "seed": seed,
            "model": "lesson 01's 1-16-16-1 sine model (models.trained_sine_model), "
                     "float32 and full int8 as lesson 04 converts them",
            "inputs": f"lesson 04's {len(split.x_test)} test inputs, every one on every board",
            "boards": {b: firmware.get_target(b).title for b in ("uno", "m4")},
            "tools": tool_versions(), "rows": rows}


def table(record: dict) -> str:
    """Return the rows as an aligned text table."""
    lines = [f"{'board':<6}{'kernel':<8}{'type':<9}{'flash B':>8}{'data B':>8}{'RAM B':>7}"
             f"{'cost per inference':>30}{'MSE vs sin':>12}"]
    for r in record["rows"]:
        lines.append(f"{r['board']:<6}{r['kernel']:<8}{r['dtype']:<9}{r['flash']:>8,}"
                     f"{r['data_bytes']:>8,}{r['ram']:>7,}{r['cost']:>17,.0f} {r['unit']:<12}"
                     f"{r['mse_vs_sin']:>12.5f}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Measure, print, and with --write store."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true",
                        help=f"store the result in {quantization.BOARDS_FILE}")
    args = parser.parse_args(argv)
    for board in ("uno", "m4"):
        missing = firmware.missing_tools(board)
        if missing:
            print(f"{board}: {', '.join(missing)} not installed ({firmware.install_hint(board)})")
            return 1
    record = measure(args.seed)
    print(table(record))
    print(f"tools: {record['tools']}")
    if args.write:
        text = json.dumps(record, indent=1) + "\n"
        files.write_files(quantization.BOARDS_FILE.parent, {quantization.BOARDS_FILE.name: text})
        print(f"wrote {quantization.BOARDS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
