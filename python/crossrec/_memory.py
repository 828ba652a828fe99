"""Memory estimates checked before large allocations: refuse with the estimate instead of growing
until the kernel's OOM killer or a raw ``ArrayMemoryError`` / ``std::bad_alloc`` ends the process.

The C++ bindings apply the same rule (``require_memory`` in ``cpp/bindings/common.hpp``) to the
buffers they allocate themselves.
"""

from __future__ import annotations

import resource
from typing import Optional

GiB = float(2**30)


def available_memory() -> Optional[int]:
    """Bytes this process can still allocate: MemAvailable from /proc/meminfo, lowered to what is left
    under an address-space limit (``ulimit -v``); None when neither is known (e.g. not Linux)."""
    avail: Optional[int] = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (OSError, ValueError):  # pragma: no cover - platform without RLIMIT_AS
        soft = resource.RLIM_INFINITY
    if soft != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/statm") as fh:
                used = int(fh.read().split()[0]) * resource.getpagesize()
        except (OSError, ValueError, IndexError):
            used = 0
        left = max(0, soft - used)
        avail = left if avail is None else min(avail, left)
    return avail


def check_allocation(nbytes: float, what: str, hint: str = "", max_memory: Optional[float] = None) -> None:
    """Raise ``MemoryError`` saying what needs how much, when ``nbytes`` exceed the budget.

    nbytes : estimated peak bytes of the allocation(s) about to be made.
    what : what is being allocated, with the sizes that drive it ("ALS factors (10000000 x 1000)").
    hint : what the caller can change ("lower factors").
    max_memory : an explicit byte budget; default :func:`available_memory`.
    """
    limit = available_memory() if max_memory is None else float(max_memory)
    if limit is None or nbytes <= limit:
        return
    source = "max_memory" if max_memory is not None else "available memory"
    raise MemoryError(
        f"{what} needs about {nbytes / GiB:.2f} GiB, more than the {limit / GiB:.2f} GiB of {source}"
        + (f"; {hint}" if hint else "")
    )
