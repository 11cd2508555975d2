"""What machine a measurement ran on, so numbers carry their context."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The processor's model name, or the architecture if unknown."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def describe() -> dict[str, str | int]:
    """CPU, core count, memory, OS and Python of this machine."""
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    page_size = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 0
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count() or 1,
        "memory_gib": round(pages * page_size / 2**30),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def fingerprint(details: dict[str, str | int] | None = None) -> str:
    """A short hash of what makes timings comparable: CPU model, cores,
    memory and Python. Runs with different fingerprints measured on
    different machines."""
    details = details or describe()
    keys = ("cpu", "cores", "memory_gib", "python")
    text = json.dumps({key: details.get(key) for key in keys}, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
