"""How much of the wall clock this machine lets a process run, printed beside results.

On the 2-core VMs we measure on, a busy loop that reads the clock sees gaps of
100-300 ms many times a second while the guest reports the CPU idle and no steal:
the virtual CPU is not running. `stalled()` is the share of wall-clock time lost
to such gaps (over 2 ms) in a short busy loop. Wall-clock rates and tail
latencies measured while it is high are mostly the machine; the benchmarks
print it before and after their runs so that a reader can tell.
"""

from __future__ import annotations

import os
import time

GAP = 0.002  # longer than any scheduler tick or interrupt on an idle core


def stalled(seconds: float = 1.0) -> float:
    """The share of `seconds` of busy looping lost to gaps longer than GAP."""
    lost, last = 0.0, time.perf_counter()
    end = last + seconds
    while (now := time.perf_counter()) < end:
        if now - last > GAP:
            lost += now - last
        last = now
    return lost / seconds


def describe(seconds: float = 1.0) -> str:
    one, five, _ = os.getloadavg()
    return (
        f"machine: {stalled(seconds):.0%} of a {seconds:g} s busy loop stalled"
        f" (gaps > {GAP * 1e3:g} ms); load {one:.1f}/{five:.1f}; {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    print(describe(5.0))
