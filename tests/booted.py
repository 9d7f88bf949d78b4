"""A real systemd for the tests, booted as PID 1 of private namespaces.

`BootedSystemd` runs tests/namespace-boot.sh under `unshare` in new PID, mount, UTS, IPC
and cgroup namespaces (the host's network is shared, so services reach the test's mail
servers on 127.0.0.1). That script covers /run, /tmp, /var/tmp, /var/lib/private,
/var/lib/systemd and /var/log/journal with tmpfs, puts /var and /etc under overlays whose
writes land in tmpfs, and starts systemd with `test.target`, a target with
DefaultDependencies=no: nothing of sysinit.target runs, so no systemd-tmpfiles (which
would empty the host's /tmp), and nothing is written on the host. The namespace's cgroup
root is a fresh cgroup2 group of the test's own, removed afterwards.

The stage folder is shared live with the namespace: `units/` is its
/run/systemd/system, `etc/` its /etc/introd. `close()` kills the namespace's PID 1 (the
kernel then kills every process in it, and its mounts vanish with them) and removes the
cgroup; `HostSnapshot` proves nothing was left on the host.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOOT_SCRIPT = Path(__file__).with_name("namespace-boot.sh")
SYSTEMD = Path("/lib/systemd/systemd")
INSTALL_HINT = "run `bash scripts/install-test-deps` (as root) to install systemd"
UNSHARE = [
    "unshare",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount",
    "--uts",
    "--ipc",
    "--cgroup",
    "--mount-proc",
    "--propagation",
    "private",
]
TIMEOUT = 30.0


class NamespacesUnavailable(RuntimeError):
    """This machine cannot give the test private namespaces (not root, no unshare, no
    cgroup2 hierarchy to delegate): the test skips and says why."""


class BootError(RuntimeError):
    """systemd did not come up in the namespace."""


def _probe_namespaces() -> None:
    if os.geteuid() != 0:
        raise NamespacesUnavailable("booting systemd in private namespaces needs root")
    for tool in ("unshare", "nsenter", "setpriv"):
        if shutil.which(tool) is None:
            raise NamespacesUnavailable(f"{tool} (util-linux) is missing")
    probe = subprocess.run(
        [*UNSHARE, "true"], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if probe.returncode != 0:
        raise NamespacesUnavailable(
            "unshare cannot make PID, mount, UTS, IPC and cgroup "
            f"namespaces here: {probe.stderr.strip()}"
        )


def _cgroup2_parent() -> Path:
    """The test's own cgroup in the cgroup2 hierarchy (the whole tree on a pure cgroup2
    host, /sys/fs/cgroup/unified on a hybrid one)."""
    mount = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2":
                mount = Path(fields[4])
                break
    if mount is None:
        raise NamespacesUnavailable("no cgroup2 hierarchy is mounted to give systemd a tree")
    own = "/"
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            own = line[3:]
    parent = mount / own.lstrip("/")
    if not os.access(parent, os.W_OK):
        raise NamespacesUnavailable(f"cannot create a cgroup under {parent}")
    return parent


class Cgroup:
    """A fresh cgroup2 group: the booted systemd's whole tree lives below it."""

    def __init__(self) -> None:
        self.path = _cgroup2_parent() / f"introd-test-{uuid.uuid4().hex[:10]}"
        self.path.mkdir()

    def processes(self) -> list[int]:
        pids: list[int] = []
        for procs in self.path.rglob("cgroup.procs"):
            try:
                pids += [int(p) for p in procs.read_text().split()]
            except OSError:
                pass
        return pids

    def remove(self) -> None:
        """Kill whatever is still inside, then remove the groups, deepest first."""
        if not self.path.exists():
            return
        kill = self.path / "cgroup.kill"
        deadline = time.monotonic() + TIMEOUT
        while self.processes():
            if kill.exists():
                kill.write_text("1")
            else:
                for pid in self.processes():
                    _kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise BootError(f"processes left in {self.path}: {self.processes()}")
            time.sleep(0.05)
        dirs = sorted(
            (p for p in self.path.rglob("*") if p.is_dir()),
            key=lambda p: len(p.parts),
            reverse=True,
        )
        for d in [*dirs, self.path]:
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:  # EBUSY for a moment after the last process left
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


@dataclass(frozen=True, slots=True)
class HostSnapshot:
    """What a systemd booted by mistake against the host would change, before and after."""

    canary: Path
    entries: dict[str, frozenset[str]]

    WATCHED = ("/var/lib/private", "/var/log/journal")  # every file below
    TOP_LEVEL = ("/var/lib", "/var/lib/systemd", "/etc")  # the names directly inside

    @classmethod
    def take(cls) -> HostSnapshot:
        canary = Path("/tmp") / f"introd-canary-{uuid.uuid4().hex[:10]}"
        canary.write_text("must survive the booted systemd\n")
        return cls(canary=canary, entries=cls._entries())

    @classmethod
    def _entries(cls) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for root in cls.WATCHED:
            base = Path(root)
            out[root] = (
                frozenset(str(p.relative_to(base)) for p in base.rglob("*"))
                if base.is_dir()
                else frozenset()
            )
        for root in cls.TOP_LEVEL:
            base = Path(root)
            out[root] = frozenset(p.name for p in base.iterdir()) if base.is_dir() else frozenset()
        out["cgroups"] = frozenset(
            glob.glob("/sys/fs/cgroup/*/system.slice") + glob.glob("/sys/fs/cgroup/system.slice")
        )
        return out

    def changes(self) -> list[str]:
        """What differs from the snapshot (new entries only: others may remove files)."""
        problems = []
        if not self.canary.is_file():
            problems.append(f"{self.canary} is gone: the host's /tmp was emptied")
        now = self._entries()
        for key, before in self.entries.items():
            new = now[key] - before
            if new:
                problems.append(f"{key}: new on the host: {sorted(new)}")
        return problems

    def discard(self) -> None:
        self.canary.unlink(missing_ok=True)


class BootedSystemd:
    """systemd as PID 1 of private namespaces; `stage` holds `units/` and `etc/`."""

    def __init__(self, stage: Path) -> None:
        if not SYSTEMD.exists():
            raise BootError(f"{SYSTEMD} not found: {INSTALL_HINT}")
        _probe_namespaces()
        self.stage = stage
        self.units = stage / "units"
        self.etc = stage / "etc"
        for d in (stage, self.units, self.etc):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)
        self.console_log = stage / "console.log"
        self.pid = 0  # systemd's PID on the host
        self._proc: subprocess.Popen[bytes] | None = None
        self._cgroup: Cgroup | None = None
        self._pty: tuple[int, int] | None = None
        self._pump: threading.Thread | None = None

    # -- life cycle -----------------------------------------------------------------
    def boot(self, target_wants: list[str]) -> None:
        """Write test.target wanting `target_wants`, boot, wait until systemd runs."""
        (self.units / "test.target").write_text(
            "[Unit]\nDescription=introd test boot\nDefaultDependencies=no\n"
            f"Wants={' '.join(target_wants)}\n"
        )
        self._cgroup = Cgroup()
        master, slave = os.openpty()
        self._pty = (master, slave)
        self._pump = threading.Thread(target=self._read_console, args=(master,), daemon=True)
        self._pump.start()
        procs = self._cgroup.path / "cgroup.procs"
        # setpriv: killed with the test process; sh moves itself into the fresh cgroup
        # before unshare makes that cgroup the namespace's root; --kill-child: systemd
        # dies with unshare
        self._proc = subprocess.Popen(
            [
                "setpriv",
                "--pdeathsig",
                "KILL",
                "sh",
                "-c",
                'echo $$ > "$0" && exec "$@"',
                str(procs),
                *UNSHARE,
                "bash",
                str(BOOT_SCRIPT),
                str(self.stage),
                os.ttyname(slave),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + TIMEOUT
        while not self.pid:
            children = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children")
            try:
                found = children.read_text().split()
            except OSError:
                found = []
            if found:
                self.pid = int(found[0])
                break
            self._check_alive(deadline)
            time.sleep(0.02)
        while True:
            state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                break
            self._check_alive(deadline)
            time.sleep(0.1)

    def _check_alive(self, deadline: float) -> None:
        assert self._proc is not None
        if self._proc.poll() is not None:
            out = self._proc.stdout.read().decode(errors="replace") if self._proc.stdout else ""
            raise BootError(
                f"the namespace ended (exit {self._proc.returncode}): {out}\n{self.console()}"
            )
        if time.monotonic() > deadline:
            raise BootError(f"systemd did not come up within {TIMEOUT}s\n{self.console()}")

    def _read_console(self, fd: int) -> None:
        with self.console_log.open("ab") as log:
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                log.write(data)
                log.flush()

    def console(self, lines: int = 40) -> str:
        """The end of systemd's console output, for failure messages."""
        if not self.console_log.exists():
            return ""
        raw = self.console_log.read_text(errors="replace").replace("\r", "")
        text = [ln for ln in raw.splitlines() if ln]
        return "\n".join(text[-lines:])

    def close(self) -> None:
        """Kill the namespace (every process and mount in it) and remove its cgroup."""
        if self.pid:
            _kill(self.pid, signal.SIGKILL)
        if self._proc is not None:
            if self._proc.poll() is None:
                try:
                    self._proc.wait(TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                    self._proc.wait(TIMEOUT)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        if self._pty is not None:
            for fd in self._pty:
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._pty = None
        if self._pump is not None:
            self._pump.join(5)
            self._pump = None
        self.pid = 0

    @property
    def alive(self) -> bool:
        return bool(self.pid) and Path(f"/proc/{self.pid}").exists()

    # -- inside -----------------------------------------------------------------------
    def run(
        self,
        *cmd: str,
        check: bool = True,
        timeout: float = TIMEOUT,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in every namespace of the booted systemd, as root."""
        base = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "SYSTEMD_PAGER": "",
            "SYSTEMD_COLORS": "0",
            "SYSTEMD_LOG_COLOR": "0",
        }
        result = subprocess.run(
            ["nsenter", "-t", str(self.pid), "-a", *cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=input,
            env={**base, **(env or {})},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def systemctl(
        self, *args: str, check: bool = True, timeout: float = TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        result = self.run(
            "systemctl", "--no-pager", "--no-ask-password", *args, check=False, timeout=timeout
        )
        if check and result.returncode != 0:
            journal = self.run("journalctl", "--no-pager", "-n", "40", check=False).stdout
            raise AssertionError(
                f"systemctl {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n-- journal:\n{journal}"
                f"\n-- console:\n{self.console(20)}"
            )
        return result

    def show(self, unit: str, *props: str) -> dict[str, str]:
        out = self.systemctl("show", unit, *(f"--property={p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def daemon_reload(self) -> None:
        self.systemctl("daemon-reload")

    def journal(self, unit: str, *extra: str) -> list[dict[str, Any]]:
        """The unit's journal entries, every field (journald runs in the namespace)."""
        self.run("journalctl", "--sync", check=False)
        out = self.run("journalctl", "--no-pager", "-o", "json", "-u", unit, *extra).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def wait_for(
        self, what: str, predicate: Any, timeout: float = TIMEOUT, interval: float = 0.1
    ) -> Any:
        """Poll `predicate()` until it returns something true; fail with `what`."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}\n{self.console(15)}"
                )
            time.sleep(interval)

    def read(self, path: str) -> str:
        return self.run("cat", path).stdout

    def stat(self, path: str) -> tuple[int, int, str]:
        """(uid, gid, octal mode) of a path inside the namespace."""
        uid, gid, mode = self.run("stat", "-c", "%u %g %a", path).stdout.split()
        return int(uid), int(gid), mode
