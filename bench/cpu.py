"""CPU per request of `introd run --once` over a backlog, for comparing two builds.

    .venv/bin/python bench/cpu.py TREE N [ROUNDS]

runs TREE/.venv/bin/introd (TREE: a checkout with its own .venv) over N owner-forwarded
requests (bench/mails.py) against a private Dovecot and the tests' SMTP server, ROUNDS
times (default 1), each on a fresh state, and prints one JSON line per round: `cpu_ms_req`
(introd's user + system time from wait4, children included, over N), `wall`, `peak_mb`
(the largest VmRSS sum of introd and its children, or introd's VmHWM, sampled every 0.1 s),
and, unless `FLOOR=0`, the floor of the same round (bench/floor.py) and the ratio.
`SRC=DIR` runs `python -m introd` with DIR first on the path (a tree without a venv of
its own), `PROF=FILE` writes a cProfile of introd, `K=n` sets `smtp.max_connections`.
On a shared machine compare CPU per request of alternating runs, not single wall times.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

tree = Path(sys.argv[1]).resolve()
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench as B  # noqa: E402
from mails import INTROS, request_mail  # noqa: E402


def _sample(pid: int, done: threading.Event, samples: list[int]) -> None:
    while not done.wait(0.1):
        samples.append(max(B.tree_rss_kb(pid), B.vm_rss_kb(pid, "VmHWM")))


def main() -> None:
    n = int(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    floors = os.environ.get("FLOOR", "1") == "1"
    prof = os.environ.get("PROF")
    k = int(os.environ.get("K", "1"))
    work = Path(tempfile.mkdtemp(prefix="introd-cpu-", dir="/dev/shm"))
    dov = B.Dovecot()
    dov.add_user(INTROS, B.IMAP_PASSWORD)
    dov.start()
    smtp = B.TimedSmtp(user=INTROS, password=B.SMTP_PASSWORD, local_domains=(), dovecot=None)
    smtp.start()
    lab = B.Lab(dovecot=dov, smtp=smtp, work=work)
    mails = [request_mail(i, seed=1) for i in range(n)]
    try:
        for r in range(rounds):
            lab.reset_mailbox()
            lab.append_all(mails)
            fetch_s = B.floor("fetch", lab, "INBOX", n)[0] if floors else 0
            cfg = lab.config(f"r{r}", smtp={"max_connections": k}) if k > 1 else lab.config(f"r{r}")
            argv = [str(tree / ".venv/bin/introd"), "run", "--once", "--config", str(cfg)]
            env = dict(os.environ)
            if os.environ.get("SRC"):
                env["PYTHONPATH"] = os.environ["SRC"]
                argv = [str(tree / ".venv/bin/python"), "-m", "introd", *argv[1:]]
            if prof:
                argv = [str(tree / ".venv/bin/python"), "-m", "cProfile", "-o", prof, *argv]
            samples: list[int] = []
            started = time.perf_counter()
            with open(cfg.parent / "log", "ab") as log:
                p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
            done = threading.Event()
            threading.Thread(target=_sample, args=(p.pid, done, samples), daemon=True).start()
            _, status, usage = os.wait4(p.pid, 0)
            wall = time.perf_counter() - started
            done.set()
            sent = smtp.count()
            with open(work / "sent.pickle", "wb") as f:
                pickle.dump([(m.mail_from, m.rcpt_tos, m.data) for m in smtp.received], f)
            smtp.clear()
            send_s = B.floor("send", lab, str(work / "sent.pickle"), 2 * n)[0] if floors else 0
            smtp.clear()
            cpu = usage.ru_utime + usage.ru_stime
            floor = fetch_s + send_s
            print(
                json.dumps(
                    {
                        "n": n,
                        "exit": os.waitstatus_to_exitcode(status),
                        "sent": sent,
                        "wall": round(wall, 2),
                        "floor": round(floor, 2),
                        "ratio": round(wall / floor, 2) if floor else None,
                        "cpu_ms_req": round(1000 * cpu / n, 2),
                        "user": round(usage.ru_utime, 2),
                        "sys": round(usage.ru_stime, 2),
                        "peak_mb": round(max(samples or [0]) / 1024, 1),
                        "load": round(os.getloadavg()[0], 2),
                    }
                ),
                flush=True,
            )
    finally:
        smtp.stop()
        dov.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
