"""Mails per second of `introd parse`'s reading path against the email package alone.

    python bench/parse_speed.py [--rounds N] [CORPUS_DIR ...]

Default folders: tests/data/corpus and, when present, ../shared/corpus. Each folder
holds *.eml and a config.yaml. The reading path is exactly what `introd parse`
runs per file (read_mail, then judge without state); the baseline is
`email.message_from_bytes(policy=email.policy.default)` plus walking every part,
on the same bytes. Files are read into memory first: only parsing is timed.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from introd.wiring import contact_paths  # noqa: E402
from introd.config import load_config  # noqa: E402
from introd.contacts import load_contacts  # noqa: E402
from introd.engine import judge  # noqa: E402
from introd.reading import Context, read_mail  # noqa: E402

NOW = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)
DEFAULTS = [ROOT / "tests" / "data" / "corpus", ROOT.parent / "shared" / "corpus"]


def rate(fn: Callable[[bytes], object], mails: list[bytes], rounds: int) -> float:
    """Best of ``rounds`` passes over all mails, in mails per second."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in mails:
            fn(raw)
        best = min(best, time.perf_counter() - start)
    return len(mails) / best if best > 0 else float("inf")


def measure(folder: Path, rounds: int) -> tuple[str, int, float, float]:
    cfg = load_config(folder / "config.yaml", need_servers=False)
    contacts = load_contacts(contact_paths(cfg))
    ctx = Context(config=cfg, contacts=contacts)
    mails = [p.read_bytes() for p in sorted(folder.glob("*.eml"))]

    def introd_parse(raw: bytes) -> object:
        reading = read_mail(raw, ctx)
        return judge(reading, config=cfg, contacts=contacts, store=None, now=NOW)

    def email_only(raw: bytes) -> object:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        return [part.get_content_type() for part in msg.walk()]

    introd_parse(mails[0])  # warm caches and imports
    name = f"{folder.parent.name}/{folder.name}"
    return name, len(mails), rate(introd_parse, mails, rounds), rate(email_only, mails, rounds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    folders = args.folders or [d for d in DEFAULTS if (d / "config.yaml").is_file()]
    print(f"{'corpus':<14} {'mails':>5} {'introd parse/s':>15} {'email pkg/s':>12} {'ratio':>6}")
    for folder in folders:
        name, n, ours, base = measure(folder, args.rounds)
        print(f"{name:<14} {n:>5} {ours:>15.0f} {base:>12.0f} {base / ours:>5.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
