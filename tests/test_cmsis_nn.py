"""Tests for tinyml_helpers.deploy.cmsis_nn: TFLM built with Arm's CMSIS-NN kernels (the glue
kernels of tflite-micro's kernels/cmsis_nn/ in place of the reference ones, CMSIS-NN's integer C
beside them) from the vendored tarball, against the esp-tflite-micro 1.4.0 tree.

They prove: the swap takes exactly the glue kernels a model needs and refuses bad names and
absent files in one clear line; the small CNNs (test_tflm_any_model's and test_ops's two) print
the TFLM Python runtime's codes on every row with CMSIS-NN, on this PC (CMSIS-NN's plain-C
fallbacks) and on the Cortex-M4F (QEMU; its DSP paths); and on the M4 CMSIS-NN takes fewer
instructions per inference than the reference kernels (the numbers are printed, run with -s).

The first run builds the CNN's CMSIS-NN library per target into build/tflm: about a minute per
target on two cores (CMSIS-NN's 114 integer C files are compiled once per target and shared by
every kernel set).
"""

import inspect

import numpy as np
import pytest
import test_ops
import test_tflm_any_model as any_model

from tinyml_helpers.deploy import cmsis_nn, export, firmware, graph, tflm, tflm_build
from tinyml_helpers.tooling import paths

VENDOR = paths.cmsis_vendor()  # ../shared/vendor, built into build/tflm
GLUE = ("conv", "depthwise_conv", "fully_connected", "pooling", "softmax")


def _sources_absent() -> str | None:
    reason = cmsis_nn.unavailable("host", VENDOR)
    return reason if reason and reason.startswith("vendored sources absent") else None


if _sources_absent():
    pytest.skip(_sources_absent(), allow_module_level=True)


def _needs(target: str):
    reason = cmsis_nn.unavailable(target, VENDOR)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def cnns(tf) -> dict[str, bytes]:
    """The three int8 CNNs: test_tflm_any_model's and the two whole CNNs of test_ops."""
    out = {"any-model CNN": any_model.cnn_models(tf)[0]}
    for index, case in enumerate(test_ops.CASES):
        if case.op == "CNN":
            out[case.params] = test_ops.models(case, index, tf)["int8"]
    assert len(out) == 3
    return out


def _rows(tflite: bytes) -> np.ndarray:
    """64 random rows of the model's input plus the all -128 and all 127 rows."""
    return cmsis_nn.random_rows(tflite, 64, seed=3)


@pytest.fixture(scope="module")
def src() -> tflm_build.Source:
    _needs("host")
    return cmsis_nn.tflm_source(VENDOR)


def test_the_swap_takes_the_glue_kernels_the_model_needs(cnns):
    for tflite in cnns.values():
        kernels = tflm_build.kernels_for(tflm_build.model_ops(tflite))
        swap = cmsis_nn.swap_for(tflite, VENDOR)
        replaced = {old.rsplit("/", 1)[1][:-3] for old, _ in swap.replace}
        assert replaced == set(GLUE) & set(kernels) and "reshape" not in replaced
        for old, new in swap.replace:
            assert old.startswith("tensorflow/lite/micro/kernels/")
            assert new.is_absolute() and new.is_file() and new.parent.name == "cmsis_nn"
        # the glue defines int8-only registrations; a program declares them with -DCMSIS_NN
        assert swap.int8_registrations == tflm_build.int8_kinds(swap.kernels)
        assert swap.program_flags == ("-DCMSIS_NN",)
    assert set(GLUE) <= set(cmsis_nn.glue_kernels(VENDOR))
    swap = cmsis_nn.swap(("conv", "reshape"), VENDOR)  # reshape has no CMSIS-NN version
    assert [old for old, _ in swap.replace] == ["tensorflow/lite/micro/kernels/conv.cc"]
    assert "-DCMSIS_NN" in swap.cxx_flags and "-DCMSIS_NN" in swap.c_flags
    names = [p.name for p in swap.c_sources]
    every = list((cmsis_nn.root(VENDOR) / "CMSIS-NN" / "Source").rglob("*.c"))
    floats = [p for p in every if p.stem.endswith(("_f16", "_f32"))]
    # 2026-06 CMSIS-NN: 185 C files, 71 of them float (_f16 / _f32), 114 integer
    assert len(names) == len(every) - len(floats) > 100
    assert all("_f16" not in n and "_f32" not in n for n in names)


def test_the_swap_refuses_bad_kernel_names():
    with pytest.raises(TypeError, match="tuple of TFLM kernel names"):
        cmsis_nn.swap("conv", VENDOR)
    with pytest.raises(TypeError, match="tuple of TFLM kernel names"):
        cmsis_nn.swap((), VENDOR)
    with pytest.raises(ValueError, match="not TFLM kernel names"):
        cmsis_nn.swap(("Conv2D",), VENDOR)
    with pytest.raises(ValueError, match="unknown TFLM kernel"):
        cmsis_nn.swap(("conv", "convolution"), VENDOR)
    with pytest.raises(ValueError, match="none of reshape has a CMSIS-NN kernel"):
        cmsis_nn.swap(("reshape",), VENDOR)
    with pytest.raises(TypeError, match="cmsis_nn.Vendor"):
        cmsis_nn.swap(("conv",), str(paths.VENDOR_DIR))
    with pytest.raises(ValueError, match="unknown target"):
        cmsis_nn.unavailable("esp32", VENDOR)


def test_absent_sources_are_named_in_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv(cmsis_nn.VENDOR_ENV, raising=False)
    empty = cmsis_nn.Vendor(tmp_path, tmp_path / "cache")
    reason = cmsis_nn.unavailable("host", empty)
    assert reason and "\n" not in reason and cmsis_nn.TARBALL in reason
    assert cmsis_nn.VENDOR_ENV in cmsis_nn.unavailable("host", cmsis_nn.Vendor(None))
    with pytest.raises(tflm_build.TflmUnavailable, match=f"{cmsis_nn.TARBALL} is absent"):
        cmsis_nn.swap(("conv",), empty)
    with pytest.raises(tflm_build.TflmUnavailable, match="no folder of vendored sources"):
        cmsis_nn.swap(("conv",), cmsis_nn.Vendor(None))


def test_a_swap_with_absent_files_is_refused(src, tmp_path):
    conv = "tensorflow/lite/micro/kernels/conv.cc"
    good = cmsis_nn.swap(("conv",), VENDOR)
    absent = tflm_build.KernelSwap("absent", ((conv, tmp_path / "conv.cc"),), (), (), (), ())
    with pytest.raises(tflm_build.TflmUnavailable, match="conv.cc is absent"):
        tflm_build.library("host", ("conv",), src=src, swap=absent)
    no_c = tflm_build.KernelSwap("no C", good.replace, (), (tmp_path / "arm_gone.c",), (), ())
    with pytest.raises(tflm_build.TflmUnavailable, match="arm_gone.c"):
        tflm_build.library("host", ("conv",), src=src, swap=no_c)
    with pytest.raises(ValueError, match="not among the library's sources"):
        tflm_build.library("host", ("softmax",), src=src, swap=good)  # conv.cc is not built
    with pytest.raises(TypeError, match="non-empty tuple"):
        tflm_build.KernelSwap("empty", (), (), (), (), ())
    with pytest.raises(ValueError, match="relative to the TFLM tree"):
        tflm_build.KernelSwap("abs", ((str(src.root / conv), tmp_path / "x.cc"),), (), (), (),
                              ())
    with pytest.raises(ValueError, match="no int8-only registration known for RESHAPE"):
        tflm_build.KernelSwap("r", good.replace, (), (), (), (), ("RESHAPE",), ("-DCMSIS_NN",))
    with pytest.raises(ValueError, match="need the program_flags"):
        tflm_build.KernelSwap("f", good.replace, (), (), (), (), ("CONV_2D",))


@pytest.mark.parametrize("target", ["host", "m4"])
def test_int8_only_registrations_cut_flash_and_keep_the_outputs(cnns, src, target, tmp_path):
    _needs(target)
    for n, (name, tflite) in enumerate(cnns.items()):
        rows = _rows(tflite)
        want = tflm.run(tflite, rows)
        swap = cmsis_nn.swap_for(tflite, VENDOR)
        flash = {}
        for only in (False, None):  # the generic registrations, then the default: int8-only
            program = tflm_build.build_bench(target, tflite, rows, tmp_path / f"{n}-{only}",
                                             arena_size=cmsis_nn.BENCH_ARENA, src=src,
                                             swap=swap, int8_only=only)
            got = firmware.run(target, program).outputs
            assert np.array_equal(got, want), f"{name} on {target}, int8_only={only}"
            flash[only] = firmware.sizes(target, program).flash
            linked = program.with_name(program.name + ".map").read_text(errors="replace")
            linked = linked[linked.index("Linker script and memory map"):]
            assert ("Register_CONV_2D_INT8" in linked) == (only is None)
        # the float, int16 and int4 paths of five kernels are gone
        assert flash[None] < flash[False] - 10_000, (name, target, flash)


@pytest.mark.parametrize("target", ["host", "m4"])
def test_cmsis_nn_prints_the_runtime_codes_for_every_cnn(cnns, src, target, tmp_path):
    _needs(target)
    for name, tflite in cnns.items():
        rows = _rows(tflite)
        want = tflm.run(tflite, rows)
        program = tflm_build.build_bench(target, tflite, rows, tmp_path / str(len(want)),
                                         arena_size=cmsis_nn.BENCH_ARENA, src=src,
                                         swap=cmsis_nn.swap_for(tflite, VENDOR))
        got = firmware.run(target, program).outputs
        equal = int(np.all(got == want, axis=1).sum())
        assert equal == len(rows), f"{name} on {target}: {len(rows) - equal} rows differ"
        assert len(np.unique(want, axis=0)) > 1, "the inputs must give different outputs"
        # the program ran CMSIS-NN's kernels, not the reference ones
        linked = program.with_name(program.name + ".map").read_text(errors="replace")
        assert "arm_convolve_wrapper_s8" in linked and "arm_softmax_s8" in linked
        assert cmsis_nn.run_codes(tflite, rows[:2], tmp_path / "run", target,
                                  vendor=VENDOR).tolist() == want[:2].tolist()


def test_cmsis_nn_takes_fewer_instructions_than_the_reference_kernels_on_the_m4(
        cnns, src, tmp_path):
    _needs("m4")
    # the plain C over its reference and its fast kernels, once export.plain_c_files has both
    fast_c = "kernels" in inspect.signature(export.plain_c_files).parameters
    lines = []
    for n, (name, tflite) in enumerate(cnns.items()):
        rows = _rows(tflite)
        folder = tmp_path / str(n)
        ref = tflm_build.tflm_implementation(tflite, rows, folder / "ref", src=src)
        swap = cmsis_nn.swap_for(tflite, VENDOR)
        fast = tflm_build.tflm_implementation(tflite, rows, folder / "cmsis", src=src, swap=swap)
        g = graph.read(tflite)
        choices = {"reference": "plain C", "fast": "plain C fast"} if fast_c else {None: "plain C"}
        plain = [tflm_build.plain_implementation(
            export.plain_c_files(g, "model", **({"kernels": k} if k else {})), rows,
            folder / f"plain_{k}", tflite=tflite, name=label) for k, label in choices.items()]
        lines.append(f"{name}:")
        for m in (ref, fast, *plain):
            lines.append(f"  {m.name[:24]:24} flash {m.flash:7,} arena {m.arena:6,} "
                         f"stack {m.stack:5,} instructions {m.instructions:9,.0f} "
                         f"set-up {m.setup_instructions:7,} equal {m.equal_rows}/{m.cases}")
        assert ref.outputs_equal_tflm and fast.outputs_equal_tflm, name
        assert all(p.outputs_equal_tflm for p in plain), name
        assert fast.name.startswith("TFLM + CMSIS-NN") and ref.name == "TFLM"
        assert 0 < fast.instructions < ref.instructions, name
        assert fast.flash_parts["TFLM library"] > 0 and fast.flash_parts["model"] == len(tflite)
        if n == 0:  # the CMSIS-NN arena is the minimum too: one byte less fails
            small = tflm_build.build_bench("m4", tflite, rows[:1], folder / "small",
                                           arena_size=fast.arena, src=src, swap=swap)
            assert tflm_build.probe_arena("m4", small, fast.arena - 1) is None
            assert tflm_build.probe_arena("m4", small, fast.arena) is not None
    print("\n" + "\n".join(lines))
