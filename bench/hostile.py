"""Wall-clock time and peak memory of `introd parse` on every hostile mail shape.

    python bench/hostile.py [--scale 1.0] [--only NAME ...] [--timeout 60] [--markdown]
                            [--before TREE]

Each shape of tests/hostile_mail.py is written to a file at the size an MTA lets through and
read by a fresh `introd parse` process (the same reading path as `introd run`); the
table shows, per shape, the mail's size, the seconds and peak RSS of that process (its
start-up included: the `benign` row is an ordinary request for comparison), the seconds
spent in the reading itself (measured in the process, from a second in-process run),
and the decision. The budget is 1 s and 100 MB per mail. With ``--before TREE`` (a checkout
of an older introd, e.g. ``git worktree add /tmp/old v1``) each shape is also run with that
tree's introd, right before the current one, so both see the same load. Never part of the
test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import hostile_mail as hostile  # noqa: E402
from proc import vm_rss_kb  # noqa: E402

CONFIG = f"""\
owner:
  name: Lisa Balbes
  addresses: [{hostile.OWNER}]
from: "Lisa Balbes <{hostile.OWNER}>"
reply_address: {hostile.INTROS}
secret_file: secret
state_path: absent/introd.db
contacts: [contacts.yaml]
auth:
  require: true
  trusted_authserv_ids: [{hostile.TRUSTED}]
"""
CONTACTS = """\
- {name: Bob Jones, email: bob@bigchem.example, company: BigChem}
- {name: Tim Walker, email: tim@walker.example}
"""
INTROD = Path(sys.executable).with_name("introd")


def setup(folder: Path) -> Path:
    (folder / "contacts.yaml").write_text(CONTACTS)
    cfg = folder / "config.yaml"
    cfg.write_text(CONFIG)
    return cfg


def run_measured(
    cfg: Path, eml: Path, timeout: float, tree: Path | None = None
) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, kind/rule) of one `introd parse` process (its VmHWM,
    read every 10 ms while it runs);
    with ``tree``, the introd package of that folder."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(INTROD), "parse", "--config", str(cfg), str(eml)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = start + timeout
    out = b""
    peak_kb = 0
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    while True:
        try:
            chunk = proc.stdout.read()
            if chunk:
                out += chunk
        except BlockingIOError:
            pass
        # its peak so far (not wait4's ru_maxrss, which counts this process's memory too)
        peak_kb = max(peak_kb, vm_rss_kb(proc.pid, "VmHWM"))
        pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return float("inf"), float("nan"), f"killed after {timeout:.0f} s"
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    rest = proc.stdout.read() or b""
    out += rest
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = peak_kb / 1024
    try:
        result = json.loads(out)
        rule = f"{result['kind']}/{result['decision']['rule']}"
    except (ValueError, KeyError, TypeError):
        err = proc.stderr.read() if proc.stderr else b""
        rule = f"exit {proc.returncode}: {err.decode(errors='replace').strip()[-80:]}"
    return seconds, rss, rule


def reading_seconds(cfg: Path, raw: bytes) -> tuple[float, float]:
    """The reading alone, in this process (best of two): wall-clock and CPU seconds (the
    budget counts CPU time: on a busy machine the two differ)."""
    from introd.wiring import contact_paths
    from introd.config import load_config
    from introd.contacts import load_contacts
    from introd.judge import judge
    from introd.reading import Context, read_mail

    config = load_config(cfg, need_servers=False)
    contacts = load_contacts(contact_paths(config))
    ctx = Context(config=config, contacts=contacts)
    now = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    best = cpu = float("inf")
    for _ in range(2):
        start, start_cpu = time.perf_counter(), time.process_time()
        reading = read_mail(raw, ctx)
        judge(reading, config=config, contacts=contacts, store=None, now=now)
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return best, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument(
        "--no-inprocess",
        action="store_true",
        help="skip the in-process timing (it has no time limit of its own)",
    )
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--before", type=Path, help="an older introd tree to compare with")
    args = ap.parse_args(argv)
    shapes = [("benign", hostile.mail())]
    shapes += [
        (n, raw) for n, raw in hostile.hostile_mails(args.scale) if not args.only or n in args.only
    ]
    with tempfile.TemporaryDirectory(prefix="introd-hostile-") as tmp:
        folder = Path(tmp)
        cfg = setup(folder)
        head = ["shape", "bytes", "parse s", "peak MB", "read s", "read CPU", "decision"]
        if args.before:
            head[2:2] = ["before s", "before MB"]
        if args.markdown:
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * len(head))
        else:
            print(
                " ".join(f"{h:>9}" if i else f"{h:<32}" for i, h in enumerate(head[:-1]))
                + "  "
                + head[-1]
            )
        worst_s = worst_mb = 0.0
        for name, raw in shapes:
            eml = folder / f"{name}.eml"
            eml.write_bytes(raw)
            before: list[str] = []
            if args.before:
                b_s, b_mb, b_rule = run_measured(cfg, eml, args.timeout, args.before)
                before = [
                    f"{b_s:.2f}" if b_s != float("inf") else f">{args.timeout:.0f}",
                    f"{b_mb:.0f}",
                ]
            seconds, rss, rule = run_measured(cfg, eml, args.timeout)
            inproc = incpu = float("nan")
            if not args.no_inprocess and seconds != float("inf"):
                inproc, incpu = reading_seconds(cfg, raw)
            if name != "benign":
                worst_s, worst_mb = max(worst_s, seconds), max(worst_mb, rss)
            cells = [
                name,
                str(len(raw)),
                *before,
                f"{seconds:.2f}",
                f"{rss:.0f}",
                f"{inproc:.3f}",
                f"{incpu:.3f}",
                rule,
            ]
            if args.markdown:
                print("| " + " | ".join(cells) + " |", flush=True)
            else:
                print(
                    " ".join(f"{c:>9}" if i else f"{c:<32}" for i, c in enumerate(cells[:-1]))
                    + "  "
                    + cells[-1],
                    flush=True,
                )
        print(f"\nworst: {worst_s:.2f} s, {worst_mb:.0f} MB (budget: 1 s of reading, 100 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
