"""Peak resident memory of this process, from /proc/self (Linux), for memory tests."""

from __future__ import annotations

__all__ = ["peak_since_reset", "reset_peak"]


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak() -> int:
    """Reset the peak RSS (VmHWM) to the current RSS and return the current RSS, bytes."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status("VmRSS")


def peak_since_reset(baseline: int) -> int:
    """Peak RSS since :func:`reset_peak` above ``baseline``, bytes."""
    return _status("VmHWM") - baseline
