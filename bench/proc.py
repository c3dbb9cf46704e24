"""Reading a process's CPU time and memory from /proc (Linux only).

CPU is ``utime + stime`` of the process itself (all its threads, children excluded), in seconds at
clock-tick resolution (usually 10 ms). Memory is ``VmRSS`` in KiB. A *process set* is a list of
pids whose values are summed (nginx: the master and its workers; pushpin: its runner and every
process below it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid`` (children excluded): its own code and libraries, and
    the kernel working for it (system calls, and on loopback the receiving side's TCP work too)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    # The command name is in parentheses and may contain spaces; fields resume after the last ')'.
    fields = raw[raw.rindex(b")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return utime / CLK_TCK, stime / CLK_TCK


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` (children excluded)."""
    return sum(cpu_split(pid))


def system_seconds(pid: int) -> float:
    return cpu_split(pid)[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        pass
    return [p for p, raw in _all_stats() if int(raw[raw.rindex(b")") + 2:].split()[1]) == pid]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...), parents before children."""
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = children(todo.pop(0))
        out.extend(kids)
        todo.extend(kids)
    return out


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None if it is gone: with the pid, this names
    one process, never a later one that got the same pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return int(raw[raw.rindex(b")") + 2:].split()[19])  # field 22 of proc(5)


def comm(pid: int) -> str:
    """The command name of ``pid`` (``/proc/<pid>/comm``), or "?" if it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _all_stats() -> list[tuple[int, bytes]]:
    """``(pid, raw /proc/<pid>/stat)`` of every process still there when read."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                out.append((int(name), f.read()))
        except OSError:
            continue
    return out


def _total(pids: list[int], read: Callable[[int], float]) -> float:
    """Sum ``read(pid)`` over the processes still alive (one may exit between listing and reading)."""
    total = 0.0
    for pid in pids:
        try:
            total += read(pid)
        except (OSError, ValueError):
            pass
    return total


def total_cpu(pids: list[int]) -> float:
    return _total(pids, cpu_seconds)


def total_system(pids: list[int]) -> float:
    return _total(pids, system_seconds)


def total_rss(pids: list[int]) -> int:
    return int(_total(pids, rss_kib))


STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass(frozen=True)
class MachineCpu:
    """Jiffies from the ``cpu`` line of /proc/stat (all cores)."""

    fields: tuple[int, ...]

    @classmethod
    def read(cls) -> MachineCpu:
        with open("/proc/stat") as f:
            parts = [int(x) for x in f.readline().split()[1:]]
        return cls(tuple((parts + [0] * 8)[:8]))  # guest time is already inside user/nice

    @property
    def total(self) -> int:
        return sum(self.fields)

    @property
    def busy(self) -> int:
        """Everything but idle, iowait and steal (time the hypervisor gave to someone else)."""
        return self.total - self.fields[3] - self.fields[4] - self.fields[7]

    def busy_fraction_since(self, earlier: MachineCpu) -> float:
        dt = self.total - earlier.total
        return (self.busy - earlier.busy) / dt if dt > 0 else 0.0

    def breakdown_since(self, earlier: MachineCpu, seconds: float) -> dict[str, float]:
        """Each /proc/stat column's use since ``earlier``, in % of one core."""
        return {name: round(100 * (b - a) / CLK_TCK / seconds, 1)
                for name, a, b in zip(STAT_FIELDS, earlier.fields, self.fields)}


def all_processes() -> dict[int, tuple[str, float]]:
    """Every process's ``(command name, CPU seconds)``; used to name what else ran during a window."""
    out = {}
    for pid, raw in _all_stats():
        comm = raw[raw.index(b"(") + 1:raw.rindex(b")")].decode(errors="replace")
        fields = raw[raw.rindex(b")") + 2:].split()
        out[pid] = (comm, (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def busiest_since(before: dict[int, tuple[str, float]], exclude: set[int], seconds: float,
                  top: int = 4) -> list[tuple[str, int, float]]:
    """``(name, pid, % of one core)`` of the processes that used the most CPU since ``before``."""
    after = all_processes()
    used = []
    for pid, (comm, cpu) in after.items():
        if pid in exclude:
            continue
        delta = cpu - before.get(pid, (comm, 0.0))[1]
        if delta > 0:
            used.append((comm, pid, round(100 * delta / seconds, 1)))
    used.sort(key=lambda u: -u[2])
    return used[:top]
