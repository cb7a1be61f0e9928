"""The machine a benchmark ran on, named the same way by every script in benchmarks/."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def vector_isa() -> str:
    """The widest x86 vector extension the CPU reports: AVX-512, AVX2 or SSE/AVX."""
    try:
        flags = next((ln.split(":", 1)[1].split() for ln in
                      Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("flags")), [])
    except OSError:
        flags = []
    return "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE/AVX"


def machine(load: bool = False) -> str:
    """``"<model> (<isa>), <n> cores"``, with the 1/5/15-minute load average if asked."""
    text = f"{cpu_model()} ({vector_isa()}), {os.cpu_count()} cores"
    if load:
        text += ", load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return text
