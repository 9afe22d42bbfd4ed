"""The simulated boards the harness runs on: how to compile for each, run it, read its sizes,
its clock, and which tools and Debian packages it needs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from . import toolchains


@dataclass(frozen=True)
class Target:
    """A board: how to compile for it, run it, read its sizes, and its real clock."""

    name: str
    title: str
    compiler: str
    cflags: tuple[str, ...]
    platform_files: tuple[str, ...]
    run_command: tuple[str, ...]  # "{elf}" is replaced by the firmware path
    size_tool: str
    unit: str  # what the harness's counter counts
    clock_hz: float | None  # the real board's clock, to turn counts into microseconds
    packages: tuple[str, ...]  # Debian/Ubuntu packages that provide the tools
    tools: tuple[str, ...]  # the executables it needs


_COMMON = ("-std=gnu99", "-Wall", "-Wextra", "-Werror", "-ffunction-sections",
           "-fdata-sections", "-Wl,--gc-sections")

TARGETS = {
    # The Arduino IDE's own flags for the Uno (-Os, link-time optimization).
    "uno": Target(
        "uno", "Arduino Uno (ATmega328P, 16 MHz) on simavr", "avr-gcc",
        ("-mmcu=atmega328p", "-DF_CPU=16000000UL", "-Os", "-flto", "-fuse-linker-plugin",
         *_COMMON),
        ("platform_uno.c",), (*toolchains.SIMAVR_UNO, "{elf}"),
        "avr-size", "cycles", 16e6, ("gcc-avr", "avr-libc", "simavr"),
        ("avr-gcc", "simavr", "avr-size")),
    "m4": Target(
        "m4", "Cortex-M4F (mps2-an386) on QEMU", "arm-none-eabi-gcc",
        ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2", *_COMMON,
         "--specs=nano.specs", "--specs=rdimon.specs", "-T{templates}/m4.ld"),
        ("platform_m4.c",),
        ("qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial",
         "none", "-semihosting-config", "enable=on,target=native", "-icount", "shift=0",
         "-kernel", "{elf}"),
        "arm-none-eabi-size", "instructions", 64e6,
        ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm"),
        ("arm-none-eabi-gcc", "qemu-system-arm", "arm-none-eabi-size")),
    "host": Target(
        "host", "this PC (gcc -O2)", "gcc", ("-O2", *_COMMON), ("platform_host.c",),
        ("{elf}",), "size", "none", None, ("gcc", "binutils"), ("gcc", "size")),
}

# The Nano 33 BLE (nRF52840) runs its Cortex-M4F at 64 MHz; QEMU counts instructions, so
# microseconds there assume one instruction per cycle.
M4_CLOCK_NOTE = "at 64 MHz (Nano 33 BLE), assuming 1 instruction/cycle"


class FirmwareError(RuntimeError):
    """A firmware build or run failed; the message carries the captured output."""


class ToolchainMissing(FirmwareError):
    """A compiler or simulator is not installed."""


def get_target(name: str) -> Target:
    """Return the :class:`Target` called ``name`` ("uno", "m4" or "host")."""
    if not isinstance(name, str) or name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    return TARGETS[name]


def missing_tools(target: str) -> list[str]:
    """Return the executables ``target`` needs that are not on PATH."""
    return [tool for tool in get_target(target).tools if shutil.which(tool) is None]


def install_hint(target: str | None = None) -> str:
    """Return the one-line apt command that installs the simulated boards' toolchains."""
    if target is None:
        return toolchains.install_command()
    return toolchains.install_command(get_target(target).packages)


def require(target: str) -> None:
    """Raise :class:`ToolchainMissing` naming the packages if ``target``'s tools are absent."""
    missing = missing_tools(target)
    if missing:
        raise ToolchainMissing(f"{', '.join(missing)} not found; install with: "
                               f"{install_hint(target)}")
