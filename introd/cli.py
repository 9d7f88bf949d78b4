"""The command line: ``main(argv) -> int``; errors become one line and an exit code."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import __version__, patterns
from .exceptions import ConfigError, IntrodError, UsageError
from .files import cache_file, private_umask

if TYPE_CHECKING:
    from .config import Config
    from .state import IntroRow, Store

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def parse_now(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--now: expected a time like 2026-12-10T09:00:00Z, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _clock(args: argparse.Namespace) -> Any:
    fixed = parse_now(getattr(args, "now", None))
    if fixed is None:
        return lambda: datetime.now(UTC)
    return lambda: fixed


def _load(
    args: argparse.Namespace, *, need_servers: bool = True, make_templates_dir: bool = False
) -> Config:
    from .config import config_path, load_config
    from .logs import setup_logging

    cfg = load_config(
        config_path(args.config), need_servers=need_servers, make_templates_dir=make_templates_dir
    )
    setup_logging(cfg.log_format, cfg.log_level)
    return cfg


# -- commands ----------------------------------------------------------------
def cmd_parse(args: argparse.Namespace) -> int:
    from .judge import judge
    from .reading import Context, read_mail
    from .config import config_path, load_config
    from .files import load_secret
    from .wiring import load_book

    # parse only reads: it logs nothing, so it does not even load the logging setup
    cfg = load_config(config_path(args.config), need_servers=False)
    now = _clock(args)()
    contacts = load_book(cfg)
    secret = load_secret(cfg.secret_file) if cfg.secret_file.is_file() else None
    store = None
    if cfg.state_path.is_file():  # sqlite3 and the store load only when there is one
        from .state import Store

        store = Store.open_readonly(cfg.state_path)
    ctx = Context(config=cfg, contacts=contacts, secret=secret)
    results = []
    status = EXIT_OK
    for name in args.files:
        try:
            raw = Path(name).read_bytes()
        except OSError as exc:
            print(f"introd: {name}: {exc.strerror}", file=sys.stderr)
            status = EXIT_FAIL
            continue
        reading = read_mail(raw, ctx)
        decision = judge(reading, config=cfg, contacts=contacts, store=store, now=now)
        results.append(
            {
                "file": name,
                "kind": reading.kind,
                "message_id": reading.message_id,
                "request": reading.request.as_json()
                if reading.kind == "request" and reading.request
                else None,
                "reply": reading.answer.as_json()
                if reading.kind == "reply" and reading.answer
                else None,
                "decision": decision.as_json(),
            }
        )
    out: Any = results[0] if len(results) == 1 and len(args.files) == 1 else results
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return status


def cmd_check_config(args: argparse.Namespace) -> int:
    from .config import config_path, load_config, warnings_for
    from .templates_check import check_templates
    from .wiring import load_book

    cfg = load_config(config_path(args.config), need_servers=not args.offline)
    problems: list[str] = []
    contacts = load_book(cfg)
    problems += check_templates(cfg)
    from .login import problems as signin_problems

    problems += signin_problems(cfg)
    for w in warnings_for(cfg):
        print(f"warning: {w}", file=sys.stderr)
    from .templates_copy import outdated

    for w in outdated(cfg):
        print(w, file=sys.stderr)
    if not args.offline:
        from .delivery import SmtpConnection
        from .mailbox import Mailbox

        assert cfg.imap is not None and cfg.smtp is not None
        box = Mailbox(cfg.imap)
        try:
            box.connect()
            caps = [c for c in ("IDLE", "MOVE", "UIDPLUS") if box.capable(c)]
            print(
                f"imap: logged in to {cfg.imap.host} as {cfg.imap.username}; "
                f"{cfg.imap.folder} selected; server has {', '.join(caps) or 'no IDLE/MOVE'}"
            )
        except IntrodError as exc:
            problems.append(str(exc))
        finally:
            box.close()
        conn = SmtpConnection(cfg.smtp)
        try:
            conn.open()
            print(f"smtp: connected to {cfg.smtp.host}:{cfg.smtp.port}")
        except IntrodError as exc:
            problems.append(str(exc))
        finally:
            conn.close()
    if problems:
        for p in problems:
            print(f"introd: {p}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{cfg.path}: ok ({len(contacts)} contacts, templates ok)")
    return EXIT_OK


def check_templates_apart(cfg: Config) -> list[str]:
    """`run`'s start-up templates check, done in a child process when it can be.

    Compiling every template in every language leaves megabytes in the process that did
    it (the compiled code, jinja2's caches, a heap grown for them) that a collection does
    not give back; the daemon would carry them while it sits in IDLE. A child forked for
    the check takes them with it when it exits, and hands back only its list of problems.
    The check is the same either way; it runs here when there is no fork, or when other
    threads are running (a fork copies none of them, and no lock one of them holds
    would ever be released in the child).
    """
    import threading

    if not hasattr(os, "fork") or threading.active_count() > 1:
        return _checked_here(cfg)
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return _checked_here(cfg)
    if pid == 0:  # the child: check, write the problems, leave without any clean-up
        code = 1
        try:
            os.close(read_end)
            from .templates_check import check_templates_cached

            with os.fdopen(write_end, "wb") as out:
                out.write(json.dumps(check_templates_cached(cfg)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        data = answer.read()
    _pid, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        # it failed for a reason the check does not report: here, that reason is raised
        return _checked_here(cfg)
    problems = json.loads(data)
    assert isinstance(problems, list)
    return [str(p) for p in problems]


def _checked_here(cfg: Config) -> list[str]:
    from .templates_check import check_templates_cached

    problems = check_templates_cached(cfg)
    # the check's compiled templates hang in reference cycles (jinja2's environment and
    # its caches) that would otherwise stay until a full collection, long after start
    gc.collect()
    return problems


def cmd_run(args: argparse.Namespace) -> int:
    from .daemon import Daemon

    cfg = _load(args)
    templates = None
    if args.once:
        # a run that reads its mail at once and exits: no IDLE to keep lean, so the check
        # compiles in the set the engine renders with, and no template is compiled twice
        from .render import Templates
        from .templates_check import check_templates_cached

        templates = Templates(cfg.templates_dir)
        problems = check_templates_cached(cfg, templates)
    else:
        problems = check_templates_apart(cfg)
    if problems:
        raise ConfigError([("templates", p) for p in problems], str(cfg.path))
    from .runlock import RunLock

    # one `run` per state, or the same due mail would leave twice
    with RunLock(cfg.state_path) as lock:
        daemon = Daemon(cfg, clock=_clock(args), lock=lock, templates=templates)
        if args.once:
            stats = daemon.run_once()
            print(
                f"handled {stats.handled} mails, sent {stats.sent}", file=sys.stderr
            ) if sys.stderr.isatty() else None
            return EXIT_OK
        return daemon.run_forever()


def _store(cfg: Config) -> Any:
    from .state import Store

    return Store(cfg.state_path)


def cmd_list(args: argparse.Namespace) -> int:
    from .config import parse_duration

    cfg = _load(args, need_servers=False)
    now = _clock(args)()
    older = now - parse_duration(args.older_than) if args.older_than else None
    store = _store(cfg)
    rows = store.intros(state=args.state, party=args.party, older_than=older, outcome=args.outcome)
    followups = store.followups()

    def outcome(r: Any) -> str | None:
        f = followups.get(r.id)
        if f is None:
            return None
        return f.outcome or ("unanswered" if f.status in ("sent", "reasked") else None)

    if args.json:
        json.dump(
            [
                {
                    "id": r.id,
                    "state": r.state,
                    "created": r.created.isoformat(),
                    "requester": r.requester_email,
                    "target": r.target_email,
                    "rule": r.rule,
                    "outcome": outcome(r),
                    "snoozed_until": r.snoozed_until.isoformat() if r.snoozed_until else None,
                    "suggested": (r.suggested or {}).get("email"),
                    "suggested_in": (r.suggested_by or {}).get("intro_id"),
                }
                for r in rows
            ],
            sys.stdout,
            indent=2,
        )
        print()
        return EXIT_OK
    if not rows:
        print("no intros")
        return EXIT_OK
    print(f"{'ID':<7} {'STATE':<19} {'AGE':>5}  REQUESTER -> TARGET")
    for r in rows:
        age = (now - r.created).days
        state = f"{r.state}, {outcome(r)}" if outcome(r) else r.state
        if r.state == "snoozed" and r.snoozed_until:
            state = f"snoozed {r.snoozed_until:%Y-%m-%d}"
        suggests = f" (suggests {r.suggested.get('email')})" if r.suggested else ""
        print(
            f"{r.id:<7} {state:<19} {age:>4}d  {r.requester_email or r.requester_name or '?'}"
            f" -> {r.target_email or r.target_name or '(nobody specific)'}{suggests}"
        )
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    cfg = _load(args, need_servers=False)
    store = _store(cfg)
    intro = store.intro(args.id)
    if intro is None:
        raise UsageError(f"no intro {args.id.upper()} (see `introd list`)")
    print(f"intro {intro.id}: {intro.state}")
    print(
        f"  created   {intro.created:%Y-%m-%d %H:%M} UTC"
        + (f", expires {intro.expires:%Y-%m-%d %H:%M} UTC" if intro.expires else "")
    )
    print(f"  requester {intro.requester_name or ''} <{intro.requester_email or '?'}>")
    if intro.forwarded_by:
        print(
            "  passed on by "
            + ", ".join(
                f"{p.get('name') or ''} <{p.get('email') or '?'}>".strip()
                for p in intro.forwarded_by
            )
        )
    print(f"  target    {intro.target_name or '(nobody specific)'} <{intro.target_email or '?'}>")
    print(f"  decision  {intro.action} (rule {intro.rule}): {intro.detail}")
    for i, c in enumerate(intro.candidates, 1):
        print(
            f"    {i}. {c['name']} <{c.get('email') or 'no address'}>"
            + (f" — {c['company']}" if c.get("company") else "")
        )
    if intro.reason:
        print(f"  reason    {intro.reason}")
    _show_later(store, intro)
    for role, p in store.parties(intro.id).items():
        print(
            f"  {role:<9} {p.status}"
            + (f", asked {p.asked_at:%Y-%m-%d %H:%M}" if p.asked_at else "")
            + (f", reminded {p.reminded_at:%Y-%m-%d}" if p.reminded_at else "")
            + (f", answered {p.answered_at:%Y-%m-%d %H:%M}" if p.answered_at else "")
        )
    _show_owner_commands(store, intro)
    _show_followup(store, intro)
    print("history:")
    for e in store.events(intro.id):
        at = e.pop("at")
        event = e.pop("event")
        rest = " ".join(f"{k}={v}" for k, v in e.items() if v not in (None, ""))
        print(f"  {at:%Y-%m-%d %H:%M}  {event:<18} {rest}")
    print("mail out:")
    for o in store.outbox_for(intro.id):
        when = o.sent_at or o.next_attempt
        print(
            f"  {when:%Y-%m-%d %H:%M}  {o.template:<18} to {', '.join(o.recipients)}  "
            f"[{o.status}{', ' + o.last_error if o.last_error else ''}]"
        )
    return EXIT_OK


def _show_later(store: Store, intro: IntroRow) -> None:
    """What the target put off or passed on: the snooze, a suggested person."""
    if intro.snoozed_until:
        asked = "will ask" if intro.state == "snoozed" else "was to ask"
        print(
            f"  snoozed   the target asked to be asked again later; {asked} them again on "
            f"{intro.snoozed_until:%Y-%m-%d %H:%M} UTC"
        )
    if intro.suggested:
        person = f"{intro.suggested.get('name') or ''} <{intro.suggested.get('email')}>".strip()
        made = [e["new_intro"] for e in store.events(intro.id) if e.get("new_intro")]
        then = (
            f"approved: intro {made[0]}"
            if made
            else ("approve to ask them instead" if intro.state == "review" else "not asked")
        )
        print(f"  suggested {person} by the target; {then}")
    if intro.suggested_by:
        by = intro.suggested_by
        who = f"{by.get('name') or ''} <{by.get('email') or '?'}>".strip()
        print(f"  suggested by {who}, the target of intro {by.get('intro_id')}")


def _show_owner_commands(store: Store, intro: IntroRow) -> None:
    """Who approved, declined or cancelled it, and when."""
    done = {
        "approve": "approved",
        "pick": "approved",
        "target": "approved",
        "decline": "declined",
        "cancel": "cancelled",
    }
    for e in store.events(intro.id):
        if e["event"] == "owner_command" and e.get("verb") in done:
            by = e.get("by") or "shell"
            who = "the owner (shell)" if by == "shell" else by
            print(f"  {done[e['verb']]:<9} by {who}, {e['at']:%Y-%m-%d %H:%M}")


def _show_followup(store: Store, intro: IntroRow) -> None:
    """The follow-up after the introduction: sent, answered, its outcome."""
    followup = store.followup(intro.id)
    if followup is None or followup.status == "skipped":
        return
    line = f"  follow-up {followup.status}"
    if followup.sent_at:
        line += f", sent {followup.sent_at:%Y-%m-%d %H:%M}"
    if followup.answered_at:
        line += f", answered {followup.answered_at:%Y-%m-%d %H:%M} ({followup.answer})"
    print(line)
    print(f"  outcome   {followup.outcome or 'none yet'}")
    if followup.thanks:
        print(f"  thank-you {followup.thanks}")


def cmd_owner_action(args: argparse.Namespace) -> int:
    from .wiring import build_engine

    cfg = _load(args, need_servers=False)
    store = _store(cfg)
    engine = build_engine(cfg, store)
    now = _clock(args)()
    verb = args.command
    argument = None
    if verb == "approve" and args.target:
        verb, argument = "target", args.target
    elif verb == "approve" and args.pick:
        verb, argument = "pick", str(args.pick)
    with store.transaction():
        intro_id = engine.owner_action(verb, args.id, now, argument=argument)
    intro = store.intro(intro_id)
    assert intro is not None
    print(f"{intro.id}: {intro.state}; mails wait in the outbox for `introd run`")
    return EXIT_OK


def cmd_contacts(args: argparse.Namespace) -> int:
    from .contacts import read_contacts_file
    import shutil

    from .wiring import imported_contacts_dir, load_book

    cfg = _load(args, need_servers=False)
    if args.contacts_command == "import":
        src = Path(args.file)
        entries = read_contacts_file(src)
        dest_dir = imported_contacts_dir(cfg)
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / src.name
        shutil.copyfile(src, dest)
        with_email = sum(1 for c in entries if c.email)
        print(
            f"imported {len(entries)} contacts ({with_email} with an address) from {src} "
            f"into {dest}"
        )
        return EXIT_OK
    book = load_book(cfg)
    for c in sorted(book, key=lambda c: c.name.lower()):
        extra = " [never]" if c.introductions == "never" else ""
        print(f"{c.name:<28} {c.email or '-':<40} {c.company or ''}{extra}")
    print(f"{len(book)} contacts", file=sys.stderr)
    return EXIT_OK


def cmd_templates(args: argparse.Namespace) -> int:
    from .templates_check import check_templates, list_templates, preview
    from .templates_copy import copy_template, diff_template, outdated

    command = args.templates_command
    cfg = _load(args, need_servers=False, make_templates_dir=command == "copy")
    if command == "list":
        for line in list_templates(cfg):
            print(line)
        return EXIT_OK
    if command == "check":
        problems = check_templates(cfg)
        for p in problems:
            print(p)
        for w in outdated(cfg):
            print(w)
        if problems:
            return EXIT_USAGE
        print("all templates render")
        return EXIT_OK
    if command == "copy":
        paths = copy_template(cfg, args.name, args.lang, force=args.force)
        for path in paths[:-1]:
            print(f"copied {path.name} to {path}", file=sys.stderr)
        print(paths[-1])
        return EXIT_OK
    if command == "diff":
        lines = diff_template(cfg, args.name, args.lang)
        sys.stdout.writelines(lines)
        return EXIT_FAIL if lines else EXIT_OK
    store = _store(cfg) if args.intro else None
    print(
        preview(
            cfg, args.name, lang=args.lang, store=store, intro_id=args.intro, html_out=args.html
        )
    )
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    cfg = _load(args, need_servers=False)
    if not cfg.state_path.is_file():
        print("not running yet: no state at " + str(cfg.state_path))
        return EXIT_FAIL
    store = _store(cfg)
    counts = store.count_by_state()
    last = store.get_meta("last_poll")
    now = datetime.now(UTC)
    errors = len(store.recent_events("error", now - timedelta(hours=1)))
    alive = False
    if last:
        alive = now - datetime.fromisoformat(last) < timedelta(minutes=15)
    print(
        f"daemon:   {'running' if alive else 'not seen in the last 15 minutes'}"
        f" (last poll {last or 'never'})"
    )
    print(f"outbox:   {store.outbox_depth()} waiting")
    print(f"awaiting: {counts.get('awaiting', 0)}; in review: {counts.get('review', 0)}")
    print(f"errors in the last hour: {errors}")
    signin_ok = True
    if cfg.oauth2 is not None and any(
        srv is not None and srv.auth == "oauth2" for srv in (cfg.imap, cfg.smtp)
    ):
        from .login import status as signin_status

        st = signin_status(cfg)
        for line in st.lines:
            if line.startswith(("problem:", "not signed in")):
                print(f"sign-in:  {line.removeprefix('problem: ')}")
        signin_ok = not st.login_needed
    return EXIT_OK if alive and signin_ok else EXIT_FAIL


def cmd_auth(args: argparse.Namespace) -> int:
    """Sign in once (`login`), or show what the token file says (`status`)."""
    cfg = _load(args, need_servers=False)
    if cfg.oauth2 is None:
        raise UsageError(
            f"{cfg.path}: no oauth2: section; `introd auth` is for "
            f"imap.auth / smtp.auth: oauth2 (see docs/providers.md)"
        )
    from . import login

    if args.auth_command == "login":
        token = login.login(cfg, paste=args.paste, port=args.port)
        until = (
            f", access token valid until "
            f"{datetime.fromtimestamp(token.expires_at, UTC):%Y-%m-%d %H:%M} UTC"
            if token.expires_at
            else ""
        )
        print(
            f"signed in{' as ' + token.account if token.account else ''}: tokens stored in "
            f"{cfg.oauth2.token_file}{until}"
        )
        print(
            "a running daemon picks them up at its next try; `systemctl reload introd` "
            "makes it try now"
        )
        return EXIT_OK
    st = login.status(cfg)
    for line in st.lines:
        print(line)
    return EXIT_FAIL if st.login_needed else EXIT_OK


def cmd_ledger(args: argparse.Namespace) -> int:
    """Who introduced whom, and the favours both ways: the requesters you helped, and
    the targets who gave their time because you asked."""
    cfg = _load(args, need_servers=False)
    store = _store(cfg)
    rows = store.intros(state="introduced")
    if not rows:
        print("no introductions yet")
        return EXIT_OK
    followups = store.followups()
    tally = {"met": 0, "not_met": 0, "unanswered": 0}
    print("Introductions made:")
    favours: dict[str, list[int]] = {}
    for r in sorted(rows, key=lambda r: r.updated, reverse=True):
        asker = r.requester_name or r.requester_email or "?"
        giver = r.target_name or r.target_email or "?"
        f = followups.get(r.id)
        result = ""
        if f is not None and f.outcome:
            result = "  met" if f.outcome == "met" else "  did not meet"
            tally[f.outcome] += 1
        elif f is not None and f.status in ("sent", "reasked"):
            result = "  (follow-up unanswered)"
            tally["unanswered"] += 1
        print(f"  {r.updated:%Y-%m-%d}  {r.id}  {asker} -> {giver}{result}")
        if f is not None and f.thanks:
            print(f"      thank-you: {f.thanks}")
        favours.setdefault(asker, [0, 0])[0] += 1
        favours.setdefault(giver, [0, 0])[1] += 1
    print(
        f"\nmade {len(rows)}, met {tally['met']}, not met {tally['not_met']}, "
        f"unanswered {tally['unanswered']}"
    )
    print(f"\n{'person':<32} {'you helped them':>15} {'they helped you':>15}")
    for name, (helped, gave) in sorted(favours.items(), key=lambda kv: (-sum(kv[1]), kv[0])):
        print(f"{name:<32} {helped:>15} {gave:>15}")
    return EXIT_OK


def cmd_forget(args: argparse.Namespace) -> int:
    cfg = _load(args, need_servers=False)
    store = _store(cfg)
    address = args.address.lower()
    with store.transaction():
        n = store.forget(address)
    print(f"forgot {address}: {n} intros anonymised")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.out) if args.out else None)


# -- parser ------------------------------------------------------------------
COMMANDS = (
    "run",
    "check-config",
    "parse",
    "list",
    "show",
    "approve",
    "decline",
    "cancel",
    "contacts",
    "templates",
    "status",
    "auth",
    "ledger",
    "forget",
    "demo",
)


class _Unused:
    """The parser of a command that was not given: what is added to it goes nowhere."""

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_defaults(self, **kwargs: Any) -> None:
        pass

    def add_subparsers(self, **kwargs: Any) -> _Unused:
        return self

    def add_parser(self, *args: Any, **kwargs: Any) -> _Unused:
        return self


class _Commands:
    """The subparsers, built for ``only`` that command when it is given (each start reads
    one command: building the parsers of all of them cost milliseconds of every start)."""

    def __init__(self, sub: Any, only: str | None) -> None:
        self.sub, self.only = sub, only

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if self.only is None or name == self.only:
            made: argparse.ArgumentParser = self.sub.add_parser(name, **kwargs)
            return made
        return cast(argparse.ArgumentParser, _Unused())


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``only`` (one of COMMANDS), that command's alone."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default $INTROD_CONFIG, then /etc/introd/config.yaml)",
    )
    timed = argparse.ArgumentParser(add_help=False)
    timed.add_argument("--now", metavar="TIME", help="act as if it were TIME (ISO 8601, UTC)")

    p = argparse.ArgumentParser(
        prog="introd", description="A double-opt-in introduction broker that lives on a mailbox."
    )
    p.add_argument("--version", action="version", version=f"introd {__version__}")
    sub = _Commands(p.add_subparsers(dest="command", required=True, metavar="COMMAND"), only)

    s = sub.add_parser("run", parents=[common, timed], help="the daemon")
    s.add_argument("--once", action="store_true", help="process what is there and due, then exit")
    s.set_defaults(func=cmd_run)
    s = sub.add_parser("check-config", parents=[common], help="validate config and templates")
    s.add_argument("--offline", action="store_true", help="do not log in to IMAP and SMTP")
    s.set_defaults(func=cmd_check_config)
    s = sub.add_parser("parse", parents=[common, timed], help="read mail files, print JSON")
    s.add_argument("files", nargs="+", metavar="FILE.eml")
    s.set_defaults(func=cmd_parse)
    s = sub.add_parser("list", parents=[common, timed], help="the intros")
    s.add_argument("--state")
    s.add_argument("--party", metavar="ADDRESS")
    s.add_argument("--older-than", metavar="DURATION")
    s.add_argument(
        "--outcome",
        choices=("met", "not_met", "unanswered", "none"),
        help="after the follow-up: met, not_met, unanswered or none",
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_list)
    s = sub.add_parser("show", parents=[common, timed], help="one intro and its history")
    s.add_argument("id")
    s.set_defaults(func=cmd_show)
    for verb in ("approve", "decline", "cancel"):
        s = sub.add_parser(verb, parents=[common, timed], help=f"{verb} an intro")
        s.add_argument("id")
        if verb == "approve":
            s.add_argument("--target", metavar="ADDRESS", help="the target's address")
            s.add_argument("--pick", type=int, metavar="N", help="candidate number N")
        s.set_defaults(func=cmd_owner_action)
    s = sub.add_parser("contacts", parents=[common], help="import or list contacts")
    csub = s.add_subparsers(dest="contacts_command", required=True)
    c = csub.add_parser("import", parents=[common])
    c.add_argument("file")
    csub.add_parser("list", parents=[common])
    s.set_defaults(func=cmd_contacts)
    s = sub.add_parser(
        "templates", parents=[common], help="list, check, copy, diff, preview templates"
    )
    tsub = s.add_subparsers(dest="templates_command", required=True)
    tsub.add_parser("list", parents=[common])
    tsub.add_parser("check", parents=[common])
    t = tsub.add_parser(
        "copy", parents=[common], help="copy a built-in template (or `layout`) into templates_dir"
    )
    t.add_argument("name")
    t.add_argument("--lang", metavar="LL")
    t.add_argument("--force", action="store_true", help="overwrite files already there")
    t = tsub.add_parser(
        "diff", parents=[common], help="how an override differs from the installed built-in"
    )
    t.add_argument("name")
    t.add_argument("--lang", metavar="LL")
    t = tsub.add_parser("preview", parents=[common])
    t.add_argument("name")
    t.add_argument("--lang", metavar="LL")
    t.add_argument("--intro", metavar="ID")
    t.add_argument("--html", metavar="FILE")
    s.set_defaults(func=cmd_templates)
    s = sub.add_parser("status", parents=[common], help="is the daemon running")
    s.set_defaults(func=cmd_status)
    s = sub.add_parser("auth", parents=[common], help="OAuth 2.0 sign-in to the mail servers")
    asub = s.add_subparsers(dest="auth_command", required=True)
    # --config before or after login/status: the inner one must not reset the outer one
    nested = argparse.ArgumentParser(add_help=False)
    nested.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default $INTROD_CONFIG, then /etc/introd/config.yaml)",
    )
    a = asub.add_parser("login", parents=[nested], help="sign in once and store the tokens")
    a.add_argument(
        "--paste",
        action="store_true",
        help="authorization_code: paste the address the browser ended on",
    )
    a.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="N",
        help="authorization_code: the loopback port to listen on (default: any)",
    )
    asub.add_parser("status", parents=[nested], help="account, scopes, token expiry")
    s.set_defaults(func=cmd_auth)
    s = sub.add_parser("ledger", parents=[common], help="who introduced whom")
    s.set_defaults(func=cmd_ledger)
    s = sub.add_parser("forget", parents=[common], help="erase a person's data")
    s.add_argument("address")
    s.set_defaults(func=cmd_forget)
    s = sub.add_parser("demo", help="the whole story, no mail account needed")
    s.add_argument("--out", metavar="DIR", help="where to leave the .eml files")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(given[0] if given and given[0] in COMMANDS else None)
    args = parser.parse_args(given)
    # the readers' compiled patterns are kept in the cache folder for the next start
    patterns.KEPT.keep(*cache_file(patterns.KEPT.file_name()))
    try:
        with private_umask():  # whatever introd writes is its user's alone
            return int(args.func(args))
    except IntrodError as exc:
        print(f"introd: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
