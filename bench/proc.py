"""What /proc says of a running process, for the benchmarks' memory figures."""

from __future__ import annotations

from pathlib import Path


def vm_rss_kb(pid: int, field: str = "VmRSS") -> int:
    """A process's resident size now (VmRSS), or its peak so far (``field="VmHWM"``), in
    kB; 0 once it has exited.

    Not wait4's ru_maxrss: Linux counts in it the memory the child had before its exec,
    which is the parent's (a fork, or a vfork's shared memory), so a big benchmark process
    would show as introd's peak."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
