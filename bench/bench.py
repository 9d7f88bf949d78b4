"""introd's benchmarks against the real Dovecot and SMTP server of the tests.

Run through ``bash bench/run [--quick] [--write]`` (which installs what is needed);
see docs/benchmarks.md for what each figure means. Prints a Markdown table; with
``--write`` (the default for a full run) the table and the machine go into
docs/benchmarks.md between the ``bench:begin`` and ``bench:end`` markers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import yaml

warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from mails import INTROS, OWNER, OWNER_NAME, TRUSTED, person, request_mail  # noqa: E402
from netem import Netns  # noqa: E402
from proc import vm_rss_kb  # noqa: E402
from servers import Dovecot, Received, SmtpServer  # noqa: E402

from introd.state import Store  # noqa: E402

PY = sys.executable
INTROD = str(Path(PY).with_name("introd"))
PEER = ROOT / "bench" / ".venv-peer" / "bin" / "imapautofiler"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
NET_BEGIN, NET_END = "<!-- bench:latency:begin -->", "<!-- bench:latency:end -->"
IMAP_PASSWORD = "bench-imap-secret"
SMTP_PASSWORD = "bench-smtp-secret"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    backlogs: tuple[int, ...]  # the backlog is measured at each of these counts
    backlog_rounds: int
    latency: int
    state_intros: int
    state_backlog: int
    soak: int
    startup_runs: int
    net_backlog: int  # behind the added latency (--latency)
    net_rounds: int
    net_latency: int


FULL = Sizes(
    backlogs=(500, 2000),
    backlog_rounds=3,
    latency=200,
    state_intros=100_000,
    state_backlog=2000,
    soak=10_000,
    startup_runs=20,
    net_backlog=500,
    net_rounds=3,
    net_latency=50,
)
QUICK = Sizes(
    backlogs=(100, 200),
    backlog_rounds=1,
    latency=20,
    state_intros=5_000,
    state_backlog=200,
    soak=600,
    startup_runs=5,
    net_backlog=50,
    net_rounds=1,
    net_latency=10,
)


@dataclass
class Row:
    what: str
    figure: str
    target: str = ""
    verdict: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, figure: str, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("met" if ok else "**missed**")
        self.rows.append(Row(what, figure, target, verdict))
        print(f"  {what}: {figure}" + (f"  [{target}: {verdict}]" if target else ""), flush=True)

    def table(self) -> str:
        lines = ["| measure | result | target | |", "| --- | --- | --- | --- |"]
        lines += [f"| {r.what} | {r.figure} | {r.target} | {r.verdict} |" for r in self.rows]
        return "\n".join(lines)


# -- servers ------------------------------------------------------------------------


class TimedSmtp(SmtpServer):
    """The tests' SMTP server, noting when each mail was accepted (monotonic clock)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.times: list[float] = []
        self.first: dict[str, float] = {}  # recipient → when a mail to it was first accepted

    def _accept(self, mail: Received) -> None:
        now = time.monotonic()
        with self._lock:
            self.received.append(mail)
            self.times.append(now)
            for rcpt in mail.rcpt_tos:
                self.first.setdefault(rcpt, now)
            self._lock.notify_all()

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.times.clear()
            self.first.clear()

    def wait_for(self, recipients: list[str], timeout: float) -> bool:
        """Wait until a mail to each of `recipients` was accepted; whether they all were."""
        with self._lock:
            return self._lock.wait_for(lambda: all(r in self.first for r in recipients), timeout)

    def count(self) -> int:
        with self._lock:
            return len(self.received)


@dataclass
class Lab:
    """One Dovecot, one SMTP server and a scratch folder for configs and state."""

    dovecot: Dovecot
    smtp: TimedSmtp
    work: Path
    runs: int = 0
    # where introd and the floor reach the servers (the veth address with --latency)
    host: str = "127.0.0.1"

    def config(self, name: str, **changes: Any) -> Path:
        """Write a config (state in its own folder) and return its path."""
        folder = self.work / name
        folder.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {
            "owner": {"name": OWNER_NAME, "addresses": [OWNER]},
            "imap": {
                "host": self.host,
                "port": self.dovecot.imap_port,
                "security": "none",
                "username": INTROS,
                "password": IMAP_PASSWORD,
                "folder": "INBOX",
                "processed_folder": "introd/done",
                "quarantine_folder": "introd/quarantine",
                "idle": False,
                "poll_interval": "60s",
                "timeout": "30s",
            },
            "smtp": {
                "host": self.host,
                "port": self.smtp.port,
                "security": "none",
                "username": INTROS,
                "password": SMTP_PASSWORD,
                "timeout": "30s",
            },
            "from": f"{OWNER_NAME} <{OWNER}>",
            "reply_address": INTROS,
            "secret_file": "secret",
            "state_path": "introd.db",
            "contacts": [],
            "auth": {"require": True, "trusted_authserv_ids": [TRUSTED]},
            "digest": {"every": "off"},
            "limits": {"max_outgoing_per_hour": 0},
            "policies": {"requester_limit": {"enabled": False}, "target_limit": {"enabled": False}},
            "log": {"format": "json", "level": "info"},
        }
        for section, value in changes.items():
            if isinstance(value, dict) and isinstance(data.get(section), dict):
                data[section] = {**data[section], **value}
            else:
                data[section] = value
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    def reset_mailbox(self) -> None:
        self.dovecot.clear()
        self.smtp.clear()

    def append_all(self, mails: Iterable[bytes], folder: str = "INBOX") -> int:
        n = 0
        with self.dovecot.session(INTROS) as client:
            if folder != "INBOX" and not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in mails:
                client.append(folder, raw)
                n += 1
        return n

    def folder_count(self, folder: str) -> int:
        with self.dovecot.session(INTROS) as client:
            if folder != "INBOX" and not client.folder_exists(folder):
                return 0
            return int(client.select_folder(folder, readonly=True)[b"EXISTS"])


# -- processes ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished:
    seconds: float
    returncode: int
    max_rss_kb: int
    samples: list[tuple[float, int]]
    cpu: float = 0.0  # user + system seconds, with every child it waited for (wait4)


def tree_rss_kb(pid: int) -> int:
    """VmRSS of a process and all its descendants (introd and any child process)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += vm_rss_kb(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return total


def run_measured(
    argv: list[str], *, log: Path, sample_every: float = 0.2, env: dict[str, str] | None = None
) -> Finished:
    """Run a process to its end; its time, exit code, peak RSS and RSS samples. The peak is
    the larger of wait4's (the largest single process) and the largest sampled sum over the
    process and its children: with a child process running, the sum is what it costs."""
    samples: list[tuple[float, int]] = []
    with open(log, "ab") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=out, env=env)
        done = threading.Event()
        peak_own = [0]  # the process's own peak (VmHWM), as of the last sample

        def sample() -> None:
            while not done.wait(sample_every):
                samples.append((time.perf_counter() - start, tree_rss_kb(proc.pid)))
                peak_own[0] = max(peak_own[0], vm_rss_kb(proc.pid, "VmHWM"))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        proc.returncode = os.waitstatus_to_exitcode(status)
    # the largest sum of the process and its children at one time, or the process's own
    # peak between two samples (see vm_rss_kb: not ru_maxrss)
    peak = max([peak_own[0], *(kb for _, kb in samples)])
    return Finished(
        seconds=seconds,
        returncode=proc.returncode,
        max_rss_kb=peak,
        samples=samples,
        cpu=usage.ru_utime + usage.ru_stime,
    )


def run_once_until(
    lab: Lab, config: Path, expected: int, wrap: list[str] | None = None
) -> tuple[Finished, int]:
    """`introd run --once` until the SMTP server has `expected` mails (at most 10 runs, as a
    run may leave part of the outbox for the next); the summed time, the peak RSS, the runs."""
    seconds, peak, runs, cpu = 0.0, 0, 0, 0.0
    samples: list[tuple[float, int]] = []
    while runs < 10:
        runs += 1
        run = run_measured(
            [*(wrap or []), INTROD, "run", "--once", "--config", str(config)],
            log=config.parent / "introd.log",
        )
        seconds += run.seconds
        cpu += run.cpu
        peak = max(peak, run.max_rss_kb)
        samples += run.samples
        if run.returncode != 0 or lab.smtp.count() >= expected:
            break
    if run.returncode != 0 or lab.smtp.count() != expected:
        raise RuntimeError(
            f"introd run --once: exit {run.returncode}, {lab.smtp.count()} mails "
            f"sent, {expected} expected; see {config.parent / 'introd.log'}"
        )
    return Finished(seconds=seconds, returncode=0, max_rss_kb=peak, samples=samples, cpu=cpu), runs


def run_floor(argv: list[str]) -> tuple[dict[str, Any], float]:
    """Run bench/floor.py with `argv`; its JSON answer and its CPU seconds (wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [PY, str(ROOT / "bench" / "floor.py"), *argv], stdout=out, stderr=err
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise RuntimeError(
                f"bench/floor.py {argv[0]}: exit {proc.returncode}: {err.read().decode()[-2000:]}"
            )
        return json.loads(out.read()), usage.ru_utime + usage.ru_stime


def floor(what: str, lab: Lab, arg: str, count: int) -> tuple[float, float]:
    """The floor's fetch or send of `count` mails: its seconds and CPU seconds."""
    user, password = (INTROS, IMAP_PASSWORD) if what == "fetch" else (INTROS, SMTP_PASSWORD)
    port = lab.dovecot.imap_port if what == "fetch" else lab.smtp.port
    result, cpu = run_floor([what, lab.host, str(port), user, password, arg])
    if result["count"] != count:
        raise RuntimeError(f"bench/floor.py {what}: {result['count']} mails, {count} expected")
    return float(result["seconds"]), cpu


class Daemon:
    """`introd run` in the background; ready once it logged daemon_ready."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self.out = open(log, "ab")
        self.proc = subprocess.Popen(
            [INTROD, "run", "--config", str(config)], stdout=self.out, stderr=self.out
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while b"daemon_ready" not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"introd run did not get ready: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> int:
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.out.close()
        return code


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


# -- the measures -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Round:
    ratio: float
    fetch_s: float
    send_s: float
    floor_cpu: float
    run: Finished
    runs: int


def backlog_rounds(
    lab: Lab, mails: list[bytes], rounds: int, wrap: list[str] | None
) -> tuple[list[Round], float]:
    """`rounds` rounds of introd then the floor, in turn (the machine is shared: one round
    can land on a busy moment of either); each round printed as it ends. Also returns the
    average size of the mails introd sent."""
    n = len(mails)
    results: list[Round] = []
    out_size = 0.0
    for r in range(rounds):
        lab.reset_mailbox()
        lab.append_all(mails)
        config = lab.config(f"backlog-{n}-{r + 1}")  # a fresh state each round
        run, runs = run_once_until(lab, config, 2 * n, wrap if r == 0 else None)
        sent = lab.smtp.count()
        out_size = sum(len(m.data) for m in lab.smtp.received) / sent
        replay = lab.work / "sent.pickle"
        with open(replay, "wb") as f:
            pickle.dump([(m.mail_from, m.rcpt_tos, m.data) for m in lab.smtp.received], f)
        lab.smtp.clear()
        # the same mails, where introd put them
        fetch_s, fetch_cpu = floor("fetch", lab, "introd/done", n)
        send_s, send_cpu = floor("send", lab, str(replay), 2 * n)
        lab.smtp.clear()
        results.append(
            Round(
                run.seconds / (fetch_s + send_s), fetch_s, send_s, fetch_cpu + send_cpu, run, runs
            )
        )
        print(
            f"  round {r + 1}: introd {run.seconds:.2f} s "
            f"({run.cpu / n * 1000:.1f} ms CPU/request), "
            f"floor {fetch_s:.2f} + {send_s:.2f} s ({(fetch_cpu + send_cpu) / n * 1000:.1f} ms "
            f"CPU/request): {results[-1].ratio:.2f}×, peak {mb(run.max_rss_kb)}",
            flush=True,
        )
    return results, out_size


def measure_peer(lab: Lab, report: Report, mails: list[bytes], introd_s: float) -> None:
    """imapautofiler moving the same mails, for comparison."""
    if not PEER.exists():
        return
    n = len(mails)
    lab.reset_mailbox()
    lab.append_all(mails, folder="PeerIn")
    peer_cfg = lab.work / "imapautofiler.yaml"
    rule = {
        "headers": [{"name": "from", "substring": OWNER}],
        "action": {"name": "move", "dest-mailbox": "PeerFiled"},
    }
    server = {
        "hostname": lab.host,
        "port": lab.dovecot.imap_port,
        "ssl": False,
        "username": INTROS,
        "password": IMAP_PASSWORD,
    }
    peer_cfg.write_text(
        yaml.safe_dump({"server": server, "mailboxes": [{"name": "PeerIn", "rules": [rule]}]})
    )
    peer = run_measured([str(PEER), "-c", str(peer_cfg)], log=lab.work / "peer.log")
    moved = lab.folder_count("PeerFiled")
    if peer.returncode != 0 or moved != n:
        report.notes.append(
            f"imapautofiler exited {peer.returncode} and moved {moved} of {n} mails"
        )
    report.add(
        f"peer: imapautofiler moves the same {n} mails",
        f"{peer.seconds:.2f} s ({n / peer.seconds:.0f} mails/s; "
        f"{peer.seconds / introd_s:.2f}× introd's time)",
    )


WARM_UP = 20  # requests of the round before the measured ones


def warm_up(lab: Lab, mails: list[bytes], name: str) -> None:
    """A small round first, not counted: the first backlog after the servers started ran
    0.1 to 0.2 s slower than the rounds after it (introd and the floor alike, whichever came
    first), which is the lab warming up (Dovecot's processes, the SMTP server's first big
    session), not what is measured."""
    lab.reset_mailbox()
    lab.append_all(mails)
    run_once_until(lab, lab.config(f"warm-up-{name}"), 2 * len(mails))  # a state of its own
    lab.smtp.clear()


def measure_backlog(
    lab: Lab, report: Report, n: int, rounds: int, *, peer: bool = False, where: str = ""
) -> None:
    """The backlog of `n` requests: introd against the floor in `rounds` interleaved rounds;
    the round with the median ratio is reported, with the ratios of all of them."""
    print(f"backlog{where}: {n} requests, {rounds} round(s)", flush=True)
    mails = [request_mail(i, seed=1) for i in range(n)]
    size = sum(map(len, mails)) / n
    profile = os.environ.get("BENCH_PROFILE")  # a file name: profile this run with cProfile
    wrap: list[str] = []
    if profile and profile.endswith(".txt"):  # py-spy collapsed stacks (py-spy on PATH)
        wrap = ["py-spy", "record", "-r", "200", "-f", "raw", "-o", profile, "--"]
    elif profile:
        wrap = [PY, "-m", "cProfile", "-o", profile]
    warm_up(lab, mails[:WARM_UP], f"{n}{where}".replace(" ", "-"))
    results, out_size = backlog_rounds(lab, mails, rounds, wrap)
    med = sorted(results, key=lambda x: x.ratio)[len(results) // 2]
    run, runs = med.run, med.runs
    peak_kb = max(x.run.max_rss_kb for x in results)

    which = f", median of {rounds} rounds after one of {WARM_UP}" if rounds > 1 else ""
    report.add(
        f"backlog{where}: `introd run --once`, {n} requests → {2 * n} opt-in mails{which}",
        f"{run.seconds:.2f} s ({n / run.seconds:.0f} requests/s)"
        + (f", **{runs} runs needed**" if runs > 1 else ""),
    )
    if any(x.runs > 1 for x in results):
        report.notes.append(
            f"`introd run --once` left part of the outbox unsent in some round of {n}: "
            f"it took more than one run to send all {2 * n} mails (the "
            "backlog time is their sum)."
        )
    report.add(
        f"floor{where}: fetch + parse {n} mails (imapclient, batches of 200) "
        f"+ send {2 * n} over one SMTP connection (smtplib), same round",
        f"{med.fetch_s:.2f} + {med.send_s:.2f} s",
    )
    each = ", ".join(f"{x.ratio:.2f}" for x in results)
    report.add(
        f"backlog{where}, {n} requests: introd ÷ floor"
        + (f" (rounds in order: {each})" if rounds > 1 else "")
        + "; CPU per request, introd (children included) / floor",
        f"{med.ratio:.2f}×; {run.cpu / n * 1000:.1f} / {med.floor_cpu / n * 1000:.1f} ms",
        "≤ 1.5×",
        med.ratio <= 1.5,
    )
    if peer:
        measure_peer(lab, report, mails, run.seconds)
    report.add(
        f"memory: peak RSS of the whole instance (`introd run --once` and any child "
        f"process){where}, {n} requests" + (", all rounds" if rounds > 1 else ""),
        mb(peak_kb),
        "≤ 60 MB",
        peak_kb <= 60 * 1024,
    )
    report.notes.append(
        f"Backlog of {n}: requests average {size / 1024:.1f} KB in, opt-in mails "
        f"{out_size / 1024:.1f} KB out."
    )


def measure_idle_rss(lab: Lab, report: Report) -> None:
    """`introd run` (IDLE) after it got ready and before any mail: the daemon alone."""
    print("idle RSS of `introd run`", flush=True)
    lab.reset_mailbox()
    config = lab.config("idle-rss", imap={"idle": True})
    daemon = Daemon(config, config.parent / "introd.log")
    try:
        daemon.wait_ready()
        time.sleep(1.0)  # settled into IDLE
        own, tree = vm_rss_kb(daemon.proc.pid), tree_rss_kb(daemon.proc.pid)
    finally:
        daemon.stop()
    report.add(
        "memory: `introd run` idle RSS (after start, before mail; with any child process)",
        mb(own) + (f" ({mb(tree)} with children)" if tree > own else ""),
        "≤ 35 MB",
        tree <= 35 * 1024,
    )


def measure_idle_delay(lab: Lab, samples: int) -> list[float]:
    """APPEND → EXISTS as a plain imapclient IDLE sees it (Dovecot's own notify delay)."""
    delays = []
    folder = "IdleProbe"
    with lab.dovecot.session(INTROS) as writer, lab.dovecot.session(INTROS) as watcher:
        writer.create_folder(folder)
        watcher.select_folder(folder)
        for i in range(samples):
            watcher.idle()
            t0 = time.monotonic()
            writer.append(folder, request_mail(i, seed=9))
            seen = None
            while seen is None and time.monotonic() - t0 < 5:
                for response in watcher.idle_check(timeout=0.5):
                    if len(response) > 1 and response[1] == b"EXISTS":
                        seen = time.monotonic()
            watcher.idle_done()
            if seen is not None:
                delays.append(seen - t0)
    return delays


def floor_recipients(message_id: str) -> list[str]:
    """Where bench/floor.py idle sends the two mails for the request with `message_id`."""
    tag = hashlib.sha1(message_id.strip().encode()).hexdigest()[:12]
    return [f"a.{tag}@floor.example", f"b.{tag}@floor.example"]


def one_by_one(lab: Lab, n: int, who: str) -> tuple[list[float], int]:
    """`n` requests appended one by one at random intervals; for each, the time from its
    APPEND to the SMTP server's acceptance of the second of its two mails (introd's
    opt-ins, or the floor's two). A request without them after 10 s counts as missed and
    the next one is appended anyway (it wakes the client up); the missed ones' latencies
    run to whenever their mails came, and the count of them is returned too."""
    sent: list[tuple[float, list[str]]] = []
    parser = BytesParser(policy=policy.default)
    with lab.dovecot.session(INTROS) as client:
        rng = random.Random(5)
        for i in range(n):
            time.sleep(rng.uniform(0.05, 0.25))  # mail arrives at no particular moment
            raw = request_mail(10_000 + i, seed=2)
            if who == "floor":
                want = floor_recipients(str(parser.parsebytes(raw, headersonly=True)["Message-ID"]))
            else:
                want = [person(10_000 + i, r).email for r in ("requester", "target")]
            t0 = time.monotonic()
            client.append("INBOX", raw)
            sent.append((t0, want))
            lab.smtp.wait_for(want, timeout=10)
    lab.smtp.wait_for([r for _, want in sent for r in want], timeout=30)
    latencies, missed = [], 0
    with lab.smtp._lock:
        for t0, want in sent:
            if all(r in lab.smtp.first for r in want):
                latency = max(lab.smtp.first[r] for r in want) - t0
            else:
                latency = float("inf")
            latencies.append(latency)
            missed += latency > 10
    return latencies, missed


def introd_latencies(lab: Lab, n: int) -> tuple[list[float], int]:
    lab.reset_mailbox()
    config = lab.config("latency", imap={"idle": True})
    daemon = Daemon(config, config.parent / "introd.log")
    try:
        daemon.wait_ready()
        return one_by_one(lab, n, "introd")
    finally:
        daemon.stop()


def floor_latencies(lab: Lab, n: int) -> tuple[list[float], int]:
    """The floor under IDLE (bench/floor.py idle) for the same requests."""
    lab.reset_mailbox()
    log = lab.work / "floor-idle.log"
    argv = [PY, str(ROOT / "bench" / "floor.py"), "idle", lab.host, str(lab.dovecot.imap_port)]
    argv += [str(lab.smtp.port), INTROS, IMAP_PASSWORD, SMTP_PASSWORD, str(n)]
    with open(log, "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError(f"bench/floor.py idle did not get ready; see {log}")
            result = one_by_one(lab, n, "floor")
            if proc.wait(30):
                raise RuntimeError(f"bench/floor.py idle: exit {proc.returncode}; see {log}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return result


def ms(seconds: float) -> str:
    return "never" if seconds == float("inf") else f"{seconds * 1000:.0f}"


def missed_note(report: Report, who: str, missed: int, n: int, where: str = "") -> None:
    if missed:
        report.notes.append(
            f"IDLE{where}: {who} had not sent the mails of {missed} of {n} requests 10 s "
            "after their APPEND; they went out once a later request woke it up (their "
            "latencies count until then)."
        )


def measure_latency(lab: Lab, report: Report, n: int) -> None:
    print(f"latency under IDLE: {n} requests one by one", flush=True)
    lab.reset_mailbox()
    idle_delays = measure_idle_delay(lab, max(10, n // 5))
    latencies, missed = introd_latencies(lab, n)
    missed_note(report, "introd", missed, n)
    burst = 50 if n < 200 else 250
    burst_s, burst_worst = measure_burst(lab, burst)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    d50, d99 = percentile(idle_delays, 50), percentile(idle_delays, 99)
    report.add(
        f"latency: APPEND → both opt-ins accepted, p50 / p99 ({n} requests)",
        f"{ms(p50)} / {ms(p99)} ms" + (f", {missed} missed" if missed else ""),
    )
    report.add(
        f"Dovecot IDLE delay: APPEND → EXISTS, p50 / p99 ({len(idle_delays)} samples)",
        f"{d50 * 1000:.0f} / {d99 * 1000:.0f} ms",
    )
    share50, share99 = p50 - d50, p99 - d50
    report.add(
        "IDLE: introd's share (latency − Dovecot's IDLE delay p50), p50 / p99",
        f"{ms(share50)} / {ms(share99)} ms",
        "p99 ≤ 30 ms",
        share99 <= 0.030,
    )
    report.add(
        f"burst under IDLE: {burst} requests appended while introd works, until all "
        f"{2 * burst} opt-ins are accepted",
        f"{burst_s:.1f} s (slowest request {burst_worst:.1f} s)",
    )


def measure_net(lab: Lab, report: Report, net: Netns, sizes: Sizes) -> None:
    """Behind the added latency: the backlog and IDLE, introd and the floor."""
    where = f" at +{net.rtt * 1000:g} ms RTT"
    measure_backlog(lab, report, sizes.net_backlog, sizes.net_rounds, where=where)
    n = sizes.net_latency
    print(f"latency under IDLE{where}: {n} requests one by one, introd then the floor", flush=True)
    lab.reset_mailbox()
    idle_delays = measure_idle_delay(lab, max(10, n // 5))
    d50 = percentile(idle_delays, 50)
    for who, measure in (("introd", introd_latencies), ("floor", floor_latencies)):
        values, missed = measure(lab, n)
        missed_note(report, who, missed, n, where)
        p50, p99 = percentile(values, 50), percentile(values, 99)
        report.add(
            f"IDLE{where}: {who}, APPEND → both mails accepted, p50 / p99 ({n} requests); "
            "less Dovecot's IDLE delay",
            f"{ms(p50)} / {ms(p99)} ms; {ms(p50 - d50)} / {ms(p99 - d50)} ms"
            + (f"; **{missed} missed**" if missed else ""),
        )
    report.add(
        f"Dovecot IDLE delay (inside the namespace, no added latency): p50 "
        f"({len(idle_delays)} samples)",
        f"{d50 * 1000:.0f} ms",
    )


def measure_burst(lab: Lab, n: int) -> tuple[float, float]:
    """Requests that arrive while introd is busy with the ones before them: the time until
    every opt-in is accepted, and the slowest request (APPEND to its second opt-in)."""
    lab.reset_mailbox()
    config = lab.config("burst", imap={"idle": True})
    daemon = Daemon(config, config.parent / "introd.log")
    try:
        daemon.wait_ready()
        appended: list[float] = []
        with lab.dovecot.session(INTROS) as client:  # back to back, as fast as they go
            start = time.monotonic()
            for i in range(n):
                appended.append(time.monotonic())
                client.append("INBOX", request_mail(40_000 + i, seed=7))
        with lab.smtp._lock:
            if not lab.smtp._lock.wait_for(lambda: len(lab.smtp.received) >= 2 * n, timeout=300):
                raise RuntimeError(
                    f"burst: {len(lab.smtp.received)} of {2 * n} opt-ins after "
                    f"300 s; see {daemon.log}"
                )
            done = {}
            for mail, when in zip(lab.smtp.received, lab.smtp.times, strict=True):
                done[mail.rcpt_tos[0]] = when
    finally:
        daemon.stop()
    worst = 0.0
    for i, t0 in enumerate(appended):
        who = [person(40_000 + i, "requester").email, person(40_000 + i, "target").email]
        worst = max(worst, max(done.get(w, t0) for w in who) - t0)
    return max(done.values()) - start, worst


def fill_state(path: Path, count: int) -> None:
    """A state with `count` intros of the past two years, most ended, as introd writes them."""
    store = Store(path)
    rng = random.Random(3)
    now = datetime.now(UTC)
    states = (
        ["introduced"] * 40
        + ["declined"] * 15
        + ["declined_by_target"] * 10
        + ["expired"] * 20
        + ["withdrawn"] * 5
        + ["ignored"] * 5
        + ["awaiting"] * 4
        + ["review"]
    )
    with store.transaction():
        for i in range(count):
            created = now - timedelta(minutes=rng.randrange(1, 2 * 365 * 24 * 60))
            state = rng.choice(states)
            if state in ("awaiting", "review"):
                created = now - timedelta(minutes=rng.randrange(1, 10 * 24 * 60))
            requester, target = person(500_000 + i, "requester"), person(500_000 + i, "target")
            intro_id = f"S{i:07d}"
            store.insert_intro(
                id=intro_id,
                state=state,
                created=created,
                updated=created + timedelta(days=2),
                expires=created + timedelta(days=14),
                requester_name=requester.name,
                requester_email=requester.email,
                target_name=target.name,
                target_email=target.email,
                reason="would like to learn about the team's work",
                blurb="Hi Lisa, could you introduce me? I would like to learn about the team.",
                subject="Introduction request",
                source_message_id=f"<state.{i}@bench.example>",
                rule="default",
                action="accept",
                detail="",
            )
            for role in ("requester", "target"):
                store.insert_party(intro_id, role)
            store.record_message(
                folder="INBOX",
                uidvalidity=1,
                uid=i + 1,
                message_id=f"<state.{i}@bench.example>",
                kind="request",
                intro_id=intro_id,
                action="accept",
                rule="default",
                now=created,
            )
            store.add_event(intro_id, "received", created, rule="default")
            store.add_event(intro_id, "state_changed", created + timedelta(days=2), to=state)
            if state != "review":
                for role, who in (("requester", requester), ("target", target)):
                    row = store.enqueue(
                        intro_id=intro_id,
                        template=f"optin_{role}",
                        role=role,
                        sender=INTROS,
                        recipients=[who.email],
                        message_id=f"<optin.{role}.{i}@bench.example>",
                        raw=b"",
                        now=created,
                    )
                    store.mark_sent(row, created)
    store.close()


def measure_big_state(lab: Lab, report: Report, intros: int, n: int) -> None:
    print(f"memory with {intros} intros in the state, then {n} more requests", flush=True)
    lab.reset_mailbox()
    config = lab.config("bigstate")
    start = time.perf_counter()
    fill_state(config.parent / "introd.db", intros)
    fill_s = time.perf_counter() - start
    db_mb = (config.parent / "introd.db").stat().st_size / 1e6
    lab.append_all(request_mail(20_000 + i, seed=3) for i in range(n))
    run, runs = run_once_until(lab, config, 2 * n)
    lab.smtp.clear()
    status = run_measured(
        [INTROD, "status", "--config", str(config)], log=config.parent / "status.log"
    )
    report.add(
        f"memory: peak RSS of the whole instance, {intros:,} intros in the state + {n} requests",
        f"{mb(run.max_rss_kb)} ({run.seconds:.2f} s, {n / run.seconds:.0f} requests/s"
        + (f", {runs} runs)" if runs > 1 else ")"),
        "≤ 60 MB",
        run.max_rss_kb <= 60 * 1024,
    )
    report.add(f"`introd status` with {intros:,} intros", f"{status.seconds * 1000:.0f} ms")
    report.notes.append(
        f"The {intros:,}-intro state was written through introd.state.Store in "
        f"{fill_s:.0f} s: {db_mb:.0f} MB of SQLite (sent opt-ins with their "
        "bodies pruned, two events and one seen message per intro)."
    )


def measure_soak(lab: Lab, report: Report, n: int, *, idle: bool = False) -> None:
    how = "under IDLE" if idle else "polling every second"
    print(f"soak: {n} mails into `introd run` ({how})", flush=True)
    lab.reset_mailbox()
    # polling each second: the soak is about memory, and under IDLE introd can miss mail
    # that arrives while it works (see the burst measure), which would only slow it down
    imap = {"idle": True} if idle else {"idle": False, "poll_interval": "1s"}
    config = lab.config("soak", imap=imap)
    started = time.perf_counter()
    daemon = Daemon(config, config.parent / "introd.log")
    samples: list[tuple[int, int]] = []  # (mails handled so far, RSS kB)
    batch = 250
    tree_peak: list[int] = []
    watching = threading.Event()

    def watch() -> None:
        while not watching.wait(0.2):
            tree_peak.append(tree_rss_kb(daemon.proc.pid))

    try:
        daemon.wait_ready()
        threading.Thread(target=watch, daemon=True).start()
        base = vm_rss_kb(daemon.proc.pid)
        with lab.dovecot.session(INTROS) as client:
            appended = 0
            while appended < n:
                owners = 0
                for _ in range(min(batch, n - appended)):
                    raw = request_mail(30_000 + appended, seed=4)
                    if appended % 10 == 9:  # now and then mail from someone else
                        raw = raw.replace(
                            f"From: {OWNER_NAME} <{OWNER}>".encode(),
                            b"From: Someone Else <someone@elsewhere.example>",
                        )
                    else:
                        owners += 1
                    client.append("INBOX", raw)
                    appended += 1
                with lab.smtp._lock:
                    if not lab.smtp._lock.wait_for(
                        lambda owners=owners: len(lab.smtp.received) >= 2 * owners, timeout=120
                    ):
                        raise RuntimeError(
                            f"soak: {len(lab.smtp.received)} of {2 * owners} "
                            f"opt-ins after 120 s; see {daemon.log}"
                        )
                    lab.smtp.received.clear()  # keep the harness itself small
                    lab.smtp.times.clear()
                samples.append((appended, vm_rss_kb(daemon.proc.pid)))
    finally:
        watching.set()
        daemon.stop()
    # growth is the daemon's own; the peak counts any child process too
    peak = max([*(kb for _, kb in samples), *tree_peak])
    first = next((kb for done, kb in samples if done >= n // 10), samples[0][1])
    last = samples[-1][1]
    growth = (last - first) / 1024
    marks = [samples[int(len(samples) * f) - 1] for f in (0.25, 0.5, 0.75, 1.0)]
    report.add(
        f"soak: RSS of `introd run` over {n:,} mails, {how} "
        f"({time.perf_counter() - started:.0f} s; after start, at 25/50/75/100 %)",
        f"{mb(base)}; " + " / ".join(mb(kb) for _, kb in marks),
    )
    report.add(
        "soak: RSS growth from 10 % to 100 % of the mails; peak (with any child process)",
        f"{growth:+.1f} MB, peak {mb(peak)}",
        "flat, ≤ 60 MB",
        peak <= 60 * 1024 and growth < 10,
    )


def measure_startup(lab: Lab, report: Report, runs: int) -> None:
    print("start-up", flush=True)
    config = lab.config("startup")
    mail = config.parent / "request.eml"
    mail.write_bytes(request_mail(1, seed=6))
    commands = {
        "`introd --help`": [INTROD, "--help"],
        "`introd parse` on one mail": [INTROD, "parse", "--config", str(config), str(mail)],
    }
    hyperfine = shutil.which("hyperfine")
    for name, argv in commands.items():
        if hyperfine:
            export = lab.work / "hyperfine.json"
            subprocess.run(
                [
                    hyperfine,
                    "--warmup",
                    "3",
                    "--runs",
                    str(runs),
                    "-N",
                    "--export-json",
                    str(export),
                    " ".join(argv),
                ],
                check=True,
                capture_output=True,
            )
            result = json.loads(export.read_text())["results"][0]
            mean, sd = result["mean"], result["stddev"] or 0.0
            how = "hyperfine"
        else:
            times = []
            for i in range(runs + 3):
                t0 = time.perf_counter()
                subprocess.run(argv, check=True, capture_output=True)
                if i >= 3:
                    times.append(time.perf_counter() - t0)
            mean, sd = statistics.mean(times), statistics.pstdev(times)
            how = "timed runs"
        report.add(
            f"start-up: {name} ({how}, {runs} runs)",
            f"{mean * 1000:.0f} ± {sd * 1000:.0f} ms",
            *(("≤ 150 ms", mean <= 0.150) if "parse" in name else ("", None)),
        )


# -- the machine --------------------------------------------------------------------


def machine() -> list[tuple[str, str]]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    dovecot = subprocess.run(
        ["/usr/sbin/dovecot", "--version"], capture_output=True, text=True
    ).stdout.strip()
    import imapclient

    return [
        ("CPU", f"{cpu}, {os.cpu_count()} cores"),
        ("RAM", f"{mem_kb / 1024 / 1024:.1f} GB"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("Dovecot", dovecot),
        ("IMAPClient", imapclient.__version__),
        ("mail store", "Maildir on tmpfs (/dev/shm)"),
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def render(report: Report, command: str, elapsed: float, load: tuple[float, float]) -> str:
    lines = [
        f"Command: `{command}` — took {elapsed / 60:.1f} min.",
        "",
        "| machine | |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in machine()]
    lines += [f"| load average (1 min) at start / end | {load[0]:.2f} / {load[1]:.2f} |"]
    lines += ["", report.table()]
    if report.notes:
        lines += [""] + [f"- {note}" for note in report.notes]
    return "\n".join(lines)


def write_doc(text: str, begin: str = BEGIN, end: str = END) -> None:
    doc = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{begin}\n{end}\n"
    if begin not in doc or end not in doc:
        doc += f"\n{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    _old, tail = rest.split(end, 1)
    DOC.write_text(f"{head}{begin}\n{text}\n{end}{tail}")


def duration(text: str) -> float:
    """`25ms`, `0.1s` or a bare number of milliseconds, in seconds."""
    value = text.strip().lower()
    try:
        if value.endswith("ms"):
            return float(value[:-2]) / 1000
        if value.endswith("s"):
            return float(value[:-1])
        return float(value) / 1000
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (say 25ms)") from None


class NetDovecot(Dovecot):
    """The tests' Dovecot, in the namespace: started there, and every connection the
    benchmark itself opens to it (appending, clearing, counting) opened from there."""

    net: Netns

    def start(self) -> None:
        with self.net.inside():
            super().start()

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        with self.net.inside():
            return super().connect(*args, **kwargs)


def servers(net: Netns | None) -> tuple[Dovecot, TimedSmtp]:
    """Dovecot and the SMTP server, started; in the namespace `net` when there is one."""
    if net is None:
        dovecot = Dovecot()
        smtp = TimedSmtp(user=INTROS, password=SMTP_PASSWORD, local_domains=(), dovecot=None)
    else:
        NetDovecot.net = net
        with net.inside():  # free ports there, and the SMTP server's thread and socket
            dovecot = NetDovecot()
            smtp = TimedSmtp(user=INTROS, password=SMTP_PASSWORD, local_domains=(), dovecot=None)
    dovecot.add_user(INTROS, IMAP_PASSWORD)
    dovecot.start()
    if net is None:
        smtp.start()
    else:
        with net.inside():
            smtp.start()
        net.expose([dovecot.imap_port, smtp.port])
    return dovecot, smtp


MEASURES = ["backlog", "latency", "state", "soak", "startup"]


def _bring_up(net: Netns, report: Report) -> None:
    """The namespace the servers run in, up, and the report told how its latency is made."""
    net.up()
    if net.netem_error:
        print(f"bench: netem unavailable: {net.netem_error}; using bench/delay.py")
        report.notes.append(f"netem unavailable here: {net.netem_error}.")
    print(f"network: {net.describe()}", flush=True)
    report.notes.append(f"Network: {net.describe()}.")


def _arguments(argv: list[str] | None) -> tuple[argparse.Namespace, set[str]]:
    """The command line, and the measures it asks for."""
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, to check the scripts")
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the table into docs/benchmarks.md (default: not with --quick)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[*MEASURES, "netem"],
        help="run only these measures (repeatable); netem: the backlog and IDLE behind "
        "an added latency (--latency, 25 ms unless given), on its own",
    )
    parser.add_argument(
        "--latency",
        type=duration,
        metavar="RTT",
        help="added round-trip time for the netem measures (e.g. 25ms); implies --only netem",
    )
    parser.add_argument(
        "--soak-idle", action="store_true", help="soak under IDLE instead of polling each second"
    )
    args = parser.parse_args(argv)
    only = set(args.only or (["netem"] if args.latency is not None else MEASURES))
    if args.latency is not None:
        only.add("netem")
    if "netem" in only and len(only) > 1:
        parser.error("the netem measures run on their own (their servers sit behind the latency)")
    return args, only


def main(argv: list[str] | None = None) -> int:
    args, only = _arguments(argv)
    sizes = QUICK if args.quick else FULL
    write = (not args.quick) if args.write is None else args.write
    command = " ".join(["bash bench/run", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    report = Report()
    work = Path(
        tempfile.mkdtemp(
            prefix="introd-bench-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        )
    )
    net: Netns | None = None
    dovecot: Dovecot | None = None
    smtp: TimedSmtp | None = None
    try:
        if "netem" in only:
            net = Netns(
                0.025 if args.latency is None else args.latency,
                name=os.environ.get("BENCH_NETNS"),
                via=os.environ.get("BENCH_NETEM_VIA", "auto"),
            )
            _bring_up(net, report)  # once net is set, so that finally takes it down
        dovecot, smtp = servers(net)
        lab = Lab(dovecot=dovecot, smtp=smtp, work=work)
        if net is not None:
            lab.host = net.ns_addr

        def backlogs() -> None:
            measure_idle_rss(lab, report)
            for i, n in enumerate(sizes.backlogs):
                last = i == len(sizes.backlogs) - 1
                measure_backlog(lab, report, n, sizes.backlog_rounds, peer=last)

        steps: list[tuple[str, Callable[[], None]]] = [
            ("startup", lambda: measure_startup(lab, report, sizes.startup_runs)),
            ("backlog", backlogs),
            ("latency", lambda: measure_latency(lab, report, sizes.latency)),
            (
                "state",
                lambda: measure_big_state(lab, report, sizes.state_intros, sizes.state_backlog),
            ),
            ("soak", lambda: measure_soak(lab, report, sizes.soak, idle=args.soak_idle)),
        ]
        if net is not None:
            steps = [("netem", lambda: measure_net(lab, report, net, sizes))]
        for name, step in steps:
            if name in only:
                t0 = time.perf_counter()
                step()
                print(f"  ({name} took {time.perf_counter() - t0:.0f} s)", flush=True)
    finally:
        if smtp is not None:
            smtp.stop()
        if dovecot is not None:
            dovecot.close()
        if net is not None:
            net.down()
        keep = os.environ.get("BENCH_KEEP")
        if keep:
            print(f"scratch kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    text = render(report, command, time.perf_counter() - started, (load_start, os.getloadavg()[0]))
    print()
    print(text)
    if write:
        if net is None:
            write_doc(text)
        else:
            write_doc(text, NET_BEGIN, NET_END)
        print(f"\nwritten to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
