"""A flood of mail from strangers, then one genuine request, into a running `introd run`.

    python bench/flood.py [--count 5000] [--hostile N] [--idle] [--waiting]

Against the test suite's real Dovecot and SMTP server: the daemon is started and ready;
then ``count`` mails from strangers (made-up requests, replies and spam, ~1-2 kB each,
plus ``--hostile`` mails of the hostile shapes of tests/hostile_mail.py) are appended to
the folder as fast as IMAP takes them, followed by one genuine owner-forwarded request.
Prints: how long the appends took, how long after its append the genuine request's two
opt-ins reached the SMTP server (with ``--waiting`` the whole flood and the request are in
the folder before the daemon starts: the time is from its start), the daemon's peak RSS
(with any child process), whether every stranger's mail was quarantined and what was sent.
Never part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench import (  # noqa: E402
    IMAP_PASSWORD,
    SMTP_PASSWORD,
    Daemon,
    Lab,
    TimedSmtp,
    tree_rss_kb,
)
from mails import INTROS, OWNER, OWNER_NAME, request_mail  # noqa: E402
from servers import Dovecot  # noqa: E402

import hostile_mail  # noqa: E402

SPAM = [
    "Dear friend, I have a business proposal of mutual benefit for you. Kindly reply.",
    "Hi, could you introduce me to your whole network? I sell lead generation.",
    "Your mailbox is full. Click here to verify your account within 24 hours.",
    "We noticed your profile and would love to offer you SEO services at a discount.",
]


def stranger_mail(i: int, rng: random.Random) -> bytes:
    """One stranger's mail: a forged 'forward', a fake reply with a made-up token or tag,
    or spam; all from addresses that are not the owner's."""
    kind = i % 4
    sender = f"Stranger {i} <stranger{i}@elsewhere{i % 97}.example>"
    if kind == 0:  # a request that looks like the owner's forward, but is not from the owner
        raw = request_mail(50_000 + i, seed=7)
        return raw.replace(f"From: {OWNER_NAME} <{OWNER}>".encode(), f"From: {sender}".encode())
    headers = [
        f"From: {sender}",
        f"To: {INTROS}",
        f"Message-ID: <flood.{i}@elsewhere.example>",
        "Date: Tue, 08 Dec 2026 10:00:00 +0000",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
    ]
    if kind == 1:  # a reply with a made-up token
        token = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(26))
        headers[1] = f"To: intros+{token}@bench.example"
        headers.append("Subject: Re: Would you like an introduction? [intro K7F3Q2]")
        body = "Yes, happy to!\n\n> Would you like an introduction to ...\n"
    else:
        headers.append(f"Subject: {SPAM[i % len(SPAM)][:40]}")
        body = (SPAM[i % len(SPAM)] + "\n\n") * rng.randint(1, 8)
    return ("\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument(
        "--hostile",
        type=int,
        default=0,
        help="how many of the flood are hostile shapes (cycled), from strangers",
    )
    ap.add_argument("--idle", action="store_true", help="IDLE instead of polling each second")
    ap.add_argument(
        "--waiting", action="store_true", help="the flood is in the folder before the daemon starts"
    )
    args = ap.parse_args(argv)
    rng = random.Random(11)
    work = Path(
        tempfile.mkdtemp(
            prefix="introd-flood-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        )
    )
    dovecot = Dovecot()
    dovecot.add_user(INTROS, IMAP_PASSWORD)
    dovecot.start()
    smtp = TimedSmtp(user=INTROS, password=SMTP_PASSWORD, local_domains=(), dovecot=None)
    smtp.start()
    lab = Lab(dovecot=dovecot, smtp=smtp, work=work)
    shapes = list(hostile_mail.SHAPES.values())
    try:
        imap = {"idle": True} if args.idle else {"idle": False, "poll_interval": "1s"}
        config = lab.config("flood", imap=imap)
        mails = [stranger_mail(i, rng) for i in range(args.count - args.hostile)]
        for i in range(args.hostile):
            family, n = shapes[i % len(shapes)]
            mails.insert(
                rng.randrange(len(mails) + 1), hostile_mail.as_stranger(family(n), 10_000 + i)
            )
        genuine = request_mail(1, seed=3)
        daemon: Daemon | None = (
            None if args.waiting else Daemon(config, config.parent / "introd.log")
        )
        peak = [0]
        watching = threading.Event()

        def watch() -> None:
            while not watching.wait(0.1) and daemon is not None:
                peak[0] = max(peak[0], tree_rss_kb(daemon.proc.pid))

        try:
            if args.waiting:
                append_start = time.monotonic()
                lab.append_all([*mails, genuine])
                appended = time.monotonic()
                daemon = Daemon(config, config.parent / "introd.log")
                threading.Thread(target=watch, daemon=True).start()
                genuine_at = start = time.monotonic()
            else:
                daemon.wait_ready()
                threading.Thread(target=watch, daemon=True).start()
                start = append_start = time.monotonic()
                lab.append_all(mails)
                appended = time.monotonic()
                lab.append_all([genuine])
                genuine_at = time.monotonic()
            with smtp._lock:
                ok = smtp._lock.wait_for(lambda: len(smtp.received) >= 2, timeout=600)
            got = time.monotonic()
            # wait for the last of the flood to be put away
            deadline = time.monotonic() + 600
            while lab.folder_count("INBOX") and time.monotonic() < deadline:
                time.sleep(0.5)
            done = time.monotonic()
            time.sleep(1.0)  # anything more that would be sent
        finally:
            watching.set()
            if daemon is not None:
                daemon.stop()
        quarantined = lab.folder_count("introd/quarantine")
        processed = lab.folder_count("introd/done")
        left = lab.folder_count("INBOX")
        recipients = sorted({r for m in smtp.received for r in m.rcpt_tos})
        print(
            f"flood: {args.count:,} mails from strangers ({args.hostile} of hostile shapes), "
            f"then 1 genuine request, into `introd run` "
            f"({'IDLE' if args.idle else 'polling each second'})"
        )
        print(
            f"  appending the flood took           {appended - append_start:6.1f} s "
            f"({args.count / max(appended - append_start, 1e-9):.0f} mails/s)"
        )
        since = "the daemon's start" if args.waiting else "its append"
        print(
            f"  genuine request's opt-ins sent     {got - genuine_at:6.1f} s after {since}"
            f"{'' if ok else ' (NOT within 600 s)'}"
        )
        print(
            f"  whole flood put away               {done - start:6.1f} s after "
            f"{'the start' if args.waiting else 'the first append'} "
            f"({(args.count + 1) / max(done - start, 1e-9):.0f} mails/s)"
        )
        print(f"  peak RSS (daemon + sender)         {peak[0] / 1024:6.1f} MB")
        print(f"  quarantined / processed / left     {quarantined} / {processed} / {left}")
        print(
            f"  mails sent                         {len(smtp.received)}"
            + (f" to {', '.join(recipients)}" if recipients else "")
        )
        verdict = (
            quarantined == args.count
            and processed == 1
            and left == 0
            and len(smtp.received) == 2
            and peak[0] < 100 * 1024
            and ok
        )
        print(
            f"  {'OK' if verdict else 'NOT OK'}: all quarantined, 0 sent to strangers, "
            f"RSS < 100 MB, genuine request handled"
        )
        return 0 if verdict else 1
    finally:
        smtp.stop()
        dovecot.close()
        if os.environ.get("BENCH_KEEP"):
            print(f"scratch kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
