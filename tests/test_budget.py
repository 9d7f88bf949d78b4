"""The budget of one mail (introd/budget.py): hostile shapes of every family are refused
before the email package parses them or read with bounded work, a reading past its time
is quarantined with the reason, and a mail that was being read when introd died is never
read again. No test here measures time: the email package's parser, html2text and
introd's request reading are watched for what they are given, and time comes from an
injected clock."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from email.headerregistry import HeaderRegistry
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

import hostile_mail
from hostile_mail import SHAPES, hostile_mails
from introd import budget
from introd.reading import mailtext, request
from introd.budget import Budget, OverBudget
from introd.cli import main
from introd.config import load_config
from introd.contacts import load_contacts
from introd.engine import SLOW_MAIL_KEY
from introd.judge import judge
from introd.reading import Context, read_mail

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
# the families refused by the linear checks before anything is parsed
HEADER_SHAPES = [
    name
    for name in SHAPES
    if SHAPES[name][0].__name__
    in {
        "from_comments",
        "from_nested_comment",
        "all_address_comments",
        "cc_obs_dots",
        "to_obs_phrase",
        "local_part_dots",
        "subject_encoded_words",
        "subject_encoded_words_b64",
        "from_encoded_words",
        "from_quoted_strings",
        "from_quoted_pairs",
        "cc_many_addresses",
        "cc_empty_list_items",
        "cc_groups",
        "cc_obs_route",
        "cc_domain_literal",
        "cc_angle_brackets",
        "message_id_comments",
        "references_many",
        "date_comments",
        "content_type_params",
        "content_type_quoted_semicolons",
        "many_headers",
        "many_cc_headers",
        "many_auth_results",
        "attached_from_comments",
        "attached_subject_encoded_words",
        "stranger_from_comments",
        "part_header_comments",
        "subject_many_words",
        "many_parts",
        "nested_multipart",
        "many_alternatives",
    }
]


class FakeClock:
    """Seconds that advance by ``step`` each time they are read."""

    def __init__(self, step: float) -> None:
        self.t = 0.0
        self.step = step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "contacts.yaml").write_text(
        "- {name: Bob Jones, email: bob@bigchem.example, company: BigChem}\n"
        "- {name: Tim Walker, email: tim@walker.example}\n"
    )
    (tmp_path / "config.yaml").write_text(f"""\
owner: {{name: Lisa Balbes, addresses: [{hostile_mail.OWNER}]}}
from: "Lisa Balbes <{hostile_mail.OWNER}>"
reply_address: {hostile_mail.INTROS}
secret_file: secret
state_path: absent/introd.db
contacts: [contacts.yaml]
auth: {{require: true, trusted_authserv_ids: [{hostile_mail.TRUSTED}]}}
""")
    return tmp_path


@pytest.fixture
def ctx(config_dir: Path) -> Context:
    cfg = load_config(config_dir / "config.yaml", need_servers=False)
    return Context(config=cfg, contacts=load_contacts(list(cfg.contacts)))


class Watch:
    """What the costly readers were handed, recorded while a mail is read."""

    def __init__(self) -> None:
        self.parsed: list[bytes] = []
        self.headers: list[tuple[str, str]] = []
        self.html: list[str] = []
        self.request_bodies: list[str] = []

    def check(self) -> None:
        for raw in self.parsed:
            assert len(raw) <= max(budget.SMALL_MAIL, budget.MAX_MAIL_BYTES)
            assert raw.count(b"\n") <= max(budget.SMALL_MAIL, budget.MAX_MAIL_LINES)
        for name, value in self.headers:
            problem, _, _ = budget._value_problem(name, value)
            assert problem is None, f"the header parser was given {name}: {problem}"
        for html in self.html:
            assert len(html) <= budget.MAX_HTML and not mailtext._too_complex(html)
            assert html.find("<!--", html.rfind("-->") + 1) < 0, "an unclosed comment"
        for body in self.request_bodies:
            assert len(body) <= budget.MAX_TEXT
            assert all(len(line) <= budget.MAX_LINE for line in body.split("\n"))


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Watch]:
    w = Watch()

    class Parser(BytesParser):
        def parsebytes(self, text: bytes, headersonly: bool = False) -> Any:
            w.parsed.append(bytes(text))
            return super().parsebytes(text, headersonly)

    registry_call = HeaderRegistry.__call__

    def header(self: HeaderRegistry, name: str, value: str) -> Any:
        w.headers.append((name, value))
        return registry_call(self, name, value)

    html_handle = mailtext._PlainText.handle

    def html(self: Any, data: str) -> str:
        w.html.append(data)
        return html_handle(self, data)

    read_request = request.read_request

    def req(**kwargs: Any) -> Any:
        w.request_bodies.append(kwargs["body"])
        return read_request(**kwargs)

    monkeypatch.setattr(mailtext, "BytesParser", Parser)
    monkeypatch.setattr(HeaderRegistry, "__call__", header)
    monkeypatch.setattr(mailtext._PlainText, "handle", html)
    monkeypatch.setattr(request, "read_request", req)
    yield w


class TestHostileShapes:
    @pytest.mark.parametrize("name", list(SHAPES))
    def test_parse_stays_within_budget(
        self, name: str, config_dir: Path, watch: Watch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`introd parse` on every hostile shape at full size: the email package's parser,
        its header parser, html2text and the request reading are only ever handed what the
        budget allows, and the result is a decision (a quarantine for the header shapes)."""
        family, n = SHAPES[name]
        eml = config_dir / f"{name}.eml"
        eml.write_bytes(family(n))
        assert main(["parse", "--config", str(config_dir / "config.yaml"), str(eml)]) == 0
        out = json.loads(capsys.readouterr().out)
        watch.check()
        assert out["decision"]["action"] in ("accept", "decline", "review", "ignore")
        if name in HEADER_SHAPES:
            assert out["kind"] == "unknown"
            assert out["decision"]["rule"] == "over_budget"
            assert "reading took" not in out["decision"]["detail"]

    @pytest.mark.parametrize("name", [n for n in SHAPES if n not in HEADER_SHAPES])
    def test_bounded_shapes_are_read(self, name: str, ctx: Context, watch: Watch) -> None:
        """The shapes not refused outright are read to the end within bounded sizes: with a
        clock that never moves, no time limit cuts them short."""
        family, n = SHAPES[name]
        reading = read_mail(family(n), ctx, limits=Budget(clock=lambda: 0.0))
        watch.check()
        assert not reading.over_budget, reading.problem

    @pytest.mark.parametrize("scale", [0.01, 0.1, 0.5])
    def test_every_size_of_every_shape(self, scale: float, ctx: Context, watch: Watch) -> None:
        """Smaller sizes of every family stay in bounds too (the limits are not only
        length limits that a shorter mail slips under)."""
        for _, raw in hostile_mails(scale):
            reading = read_mail(raw, ctx, limits=Budget(clock=lambda: 0.0))
            judge(reading, config=ctx.config, contacts=ctx.contacts, store=None, now=NOW)
        watch.check()

    def test_ordinary_mail_is_not_refused(self, ctx: Context) -> None:
        """A request with a long Cc list, a thread's References and an encoded subject
        is read as a request."""
        raw = hostile_mail.mail(
            headers={
                "Cc": ", ".join(f'"Person {i}" <p{i}@x.example>' for i in range(100)),
                "References": " ".join(f"<r{i}@x.example>" for i in range(100)),
                "Subject": "=?utf-8?q?Fwd=3A_Pr=C3=A9sentation?= =?utf-8?q?_=C3=A0_Bob?=",
            }
        )
        reading = read_mail(raw, ctx)
        assert reading.kind == "request" and not reading.problem
        assert reading.request is not None and reading.request.target is not None


class TestSizeCaps:
    def test_small_mail_is_unchanged(self) -> None:
        """A mail under SMALL_MAIL bytes is handed over as it is."""
        raw = hostile_mail.mail()
        assert budget.trim(raw) is raw

    def test_attachment_keeps_only_its_headers(self) -> None:
        """A 3 MB attachment costs nothing: its part keeps its headers, the text stays."""
        pdf = "JVBERi0xLjQK" * 250_000
        raw = hostile_mail.mail(
            content_type='multipart/mixed; boundary="b"',
            raw_body=(
                "--b\r\nContent-Type: text/plain\r\n\r\nPlease introduce me to Bob Jones.\r\n"
                "--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
                f"\r\n{pdf}\r\n--b--\r\n"
            ).encode(),
        )
        out = budget.trim(raw)
        assert len(out) < 2_000 and b"Please introduce me" in out
        assert b"application/pdf" in out and b"--b--" in out

    def test_text_part_and_mail_are_cut(self) -> None:
        """A text part is cut to MAX_PART_BYTES and MAX_PART_LINES, the mail to
        MAX_MAIL_BYTES, each at a line end."""
        line = b"x" * 99 + b"\n"
        part = b"--b\r\nContent-Type: text/plain\r\n\r\n" + line * 20_000
        out = budget.trim(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + part * 6)
        assert len(out) <= budget.MAX_MAIL_BYTES and out.endswith(b"\n")
        assert out.count(b"--b\r\n") >= 2
        assert out.count(b"\n") <= budget.MAX_MAIL_LINES
        first = out.split(b"--b\r\n")[1]
        assert len(first) <= budget.MAX_PART_BYTES
        assert first.count(b"\n") <= budget.MAX_PART_LINES

    def test_too_many_parts_is_refused_before_parsing(self) -> None:
        """More MIME parts or boundaries than are read: OverBudget before the parser."""
        with pytest.raises(OverBudget, match="MIME parts"):
            budget.trim(hostile_mail.many_parts(5_000))
        with pytest.raises(OverBudget, match="boundaries"):
            budget.trim(hostile_mail.nested_multipart(500))

    def test_text_is_cut_per_line_and_in_all(self) -> None:
        """The text read from a mail: MAX_LINE per line, MAX_TEXT in all."""
        text = mailtext.body_text(
            mailtext.parse_bytes(
                hostile_mail.mail(body="a" * 50_000 + "\n" + "b\n" * 50_000, forward=False)
            )
        )
        assert len(text) <= budget.MAX_TEXT
        assert text.startswith("a" * budget.MAX_LINE + "\n")

    def test_deep_html_is_read_without_html2text(self) -> None:
        """HTML nested past MAX_HTML_DEPTH is read by stripping its tags: the words stay."""
        html = "<div>" * 5_000 + "Please introduce me to Bob Jones." + "</div>" * 5_000
        assert mailtext._too_complex(html)
        assert mailtext.html_to_text(html) == "Please introduce me to Bob Jones."
        assert not mailtext._too_complex("<p>a</p>" * 300)


class TestHeaderChecks:
    @pytest.mark.parametrize(
        "name, value, reason",
        [
            ("From", "(c) " * 1_001 + "<a@b.example>", "special characters"),
            ("Subject", "=?utf-8?q?a?= " * 101, "encoded words"),
            ("From", "(" * 11 + "c" + ")" * 11 + " <a@b.example>", "nests comments"),
            ("To", "a " * 2_001 + "<a@b.example>", "words"),
            ("X-Anything", "x" * 70_000, "characters"),
        ],
    )
    def test_one_header(self, name: str, value: str, reason: str) -> None:
        """Each per-header limit refuses its shape, naming the header."""
        msg = mailtext.parse_bytes(f"{name}: {value}\r\n\r\nbody".encode())
        problem = budget.header_problem(msg)
        assert problem is not None and name in problem and reason in problem

    def test_limits_add_up_over_the_mail(self) -> None:
        """Many parsed headers each under the limit still add up to a refusal."""
        headers = "".join(f"Cc: {'(c)' * 300}<p{i}@x.example>\r\n" for i in range(20))
        problem = budget.header_problem(mailtext.parse_bytes(f"{headers}\r\nbody".encode()))
        assert problem is not None and "parsed headers" in problem

    def test_headers_of_attached_messages_count(self) -> None:
        """The headers of a message/rfc822 part are checked like the top ones."""
        msg = mailtext.parse_bytes(hostile_mail.attached({"From": "(c) " * 2_000 + "<a@b.x>"}))
        assert "header From" in (budget.header_problem(msg) or "")


class TestTimeLimit:
    def test_reading_past_the_limit_is_over_budget(self, ctx: Context) -> None:
        """With a clock that moves 0.3 s per look, the reading stops at a checkpoint past
        1 s: kind unknown, rule over_budget, the reason names the limit and the stage."""
        slow: list[bool] = []
        limits = Budget(clock=FakeClock(0.3), on_slow=lambda: slow.append(True))
        reading = read_mail(hostile_mail.mail(), ctx, limits=limits)
        assert reading.kind == "unknown" and reading.over_budget
        assert reading.problem.startswith("over budget: reading took more than 1 s (in ")
        assert slow == [True], "on_slow is called once"
        decision = judge(reading, config=ctx.config, contacts=ctx.contacts, store=None, now=NOW)
        assert (decision.action, decision.rule) == ("ignore", "over_budget")

    def test_a_fast_reading_is_untouched(self, ctx: Context) -> None:
        """A clock that hardly moves: the mail is read, on_slow is never called."""
        slow: list[bool] = []
        limits = Budget(clock=FakeClock(1e-6), on_slow=lambda: slow.append(True))
        reading = read_mail(hostile_mail.mail(), ctx, limits=limits)
        assert reading.kind == "request" and not slow
        assert limits.checkpoints >= 4

    def test_the_timer_stops_work_between_checkpoints(
        self, ctx: Context, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Work that never reaches a checkpoint is stopped by the CPU-time timer: its first
        tick marks the mail slow, the second ends the reading (the ticks are raised here,
        not waited for)."""
        ticks = []

        def stuck(part: Any) -> str:
            for _ in range(2):
                ticks.append(1)
                signal.raise_signal(signal.SIGPROF)
            raise AssertionError("the second tick ends the reading")

        monkeypatch.setattr(mailtext, "body_text", stuck)
        slow: list[bool] = []
        reading = read_mail(
            hostile_mail.mail(), ctx, limits=Budget(on_slow=lambda: slow.append(True))
        )
        assert reading.over_budget and "reading took more than" in reading.problem
        assert ticks == [1, 1] and slow == [True]
        assert signal.getsignal(signal.SIGPROF) in (signal.SIG_IGN, signal.SIG_DFL)
        signal.raise_signal(signal.SIGPROF)  # a late tick after the reading is harmless


def _engine(tmp_path: Path) -> Any:
    from introd.daemon import build_engine
    from introd.state import Store

    (tmp_path / "contacts.yaml").write_text("- {name: Bob Jones, email: bob@bigchem.example}\n")
    (tmp_path / "config.yaml").write_text(f"""\
owner: {{name: Lisa Balbes, addresses: [{hostile_mail.OWNER}]}}
from: "Lisa Balbes <{hostile_mail.OWNER}>"
reply_address: {hostile_mail.INTROS}
secret_file: secret
state_path: introd.db
contacts: [contacts.yaml]
auth: {{require: true, trusted_authserv_ids: [{hostile_mail.TRUSTED}]}}
""")
    cfg = load_config(tmp_path / "config.yaml", need_servers=False)
    store = Store(cfg.state_path)
    return build_engine(cfg, store), store


class TestNeverReadTwice:
    def test_mail_in_hand_when_introd_died_is_quarantined(self, tmp_path: Path) -> None:
        """A mail noted as slow and never recorded (introd was killed while reading it) is
        quarantined with the reason on the next start, without being read again."""
        engine, store = _engine(tmp_path)
        store.set_meta(SLOW_MAIL_KEY, "INBOX:7:42")
        outcome = engine.handle(hostile_mail.mail(), folder="INBOX", uidvalidity=7, uid=42, now=NOW)
        assert outcome.placement == "quarantine"
        assert outcome.decision.rule == "over_budget"
        assert "introd stopped while reading this mail" in outcome.decision.detail
        assert store.get_meta(SLOW_MAIL_KEY) is None
        assert store.seen_uid("INBOX", 7, 42)["rule"] == "over_budget"

    def test_other_mail_is_read_as_usual(self, tmp_path: Path) -> None:
        """The note concerns one mail only: the next mail is read normally."""
        engine, store = _engine(tmp_path)
        store.set_meta(SLOW_MAIL_KEY, "INBOX:7:42")
        outcome = engine.handle(hostile_mail.mail(), folder="INBOX", uidvalidity=7, uid=43, now=NOW)
        assert outcome.reading.kind == "request"

    def test_slow_mail_is_noted_while_read_and_cleared_when_recorded(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A slow reading writes the note into the state while it runs (so a kill then
        leaves it), and the mail's record clears it; the log names the reason."""
        engine, store = _engine(tmp_path)
        engine.budget_clock = FakeClock(0.3)
        noted: list[str | None] = []
        body_text = mailtext.body_text

        def spy(part: Any) -> str:
            noted.append(store.get_meta(SLOW_MAIL_KEY))
            return body_text(part)

        monkeypatch.setattr(mailtext, "body_text", spy)
        from structlog.testing import capture_logs

        with capture_logs() as logs:
            outcome = engine.handle(
                hostile_mail.mail(), folder="INBOX", uidvalidity=7, uid=9, now=NOW
            )
        assert outcome.decision.rule == "over_budget" and outcome.placement == "quarantine"
        assert "INBOX:7:9" in noted
        assert store.get_meta(SLOW_MAIL_KEY) is None
        events = [e for e in logs if e["event"] == "mail_over_budget"]
        assert events and "reading took more than 1 s" in events[0]["reason"]


class TestInTheMailbox:
    def test_hostile_mails_then_a_genuine_request(
        self,
        tmp_path: Path,
        make_world: Any,
        clock: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Against the real Dovecot and SMTP server: hostile mails of each kind, then a
        genuine request, in one `run --once`: every hostile one is quarantined with its
        reason (log event and state), the genuine one gets its two opt-ins in the same
        pass, and every mail is put away."""
        from introd.state import Store
        from world import TIM_ASKS, forward

        world = make_world()
        refused = [
            "from_comments",
            "all_address_comments",
            "cc_obs_dots",
            "subject_encoded_words",
            "many_headers",
            "many_parts",
            "stranger_from_comments",
        ]
        for name in refused:
            family, n = SHAPES[name]
            world.owner_sends(family(n))
        read = ["one_paragraph", "nested_divs", "html_comments_open", "many_lines"]
        for i, name in enumerate(read):  # read within budget: a stranger's, so quarantined
            family, n = SHAPES[name]
            world.owner_sends(hostile_mail.as_stranger(family(n), i))
        world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
        capsys.readouterr()
        assert world.run_once(clock.now()) == 0
        out = capsys.readouterr()
        logs = [
            json.loads(line) for line in (out.out + out.err).splitlines() if line.startswith("{")
        ]
        assert sorted(world.sent_to("tim@example.test") + world.sent_to("bob@example.test"))
        assert len(world.sent()) == 2, "the genuine request's two opt-ins, nothing else"
        total = len(refused) + len(read) + 1
        assert world.dovecot.messages(hostile_mail.INTROS) == []
        quarantined = world.dovecot.messages(hostile_mail.INTROS, "introd/quarantine")
        assert len(quarantined) == len(refused) + len(read)
        assert len(world.dovecot.messages(hostile_mail.INTROS, "introd/done")) == 1
        over = [e for e in logs if e.get("event") == "mail_over_budget"]
        assert len(over) == len(refused) and all(e["reason"] for e in over)
        store = Store(tmp_path / "introd.db")
        rules = [r["rule"] for r in store.db.execute("SELECT rule FROM messages ORDER BY uid")]
        assert len(rules) == total
        assert rules[: len(refused)] == ["over_budget"] * len(refused)
        assert rules[len(refused) : -1] == ["not_from_owner"] * len(read)
        assert rules[-1] == "default"


class TestFetchBudget:
    def test_big_mail_is_fetched_in_part_and_batches_are_bounded(
        self, tmp_path: Path, make_world: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Of a mail larger than MAX_FETCH_BYTES only its first bytes are fetched, and a
        FETCH asks for about MAX_BATCH_BYTES at most: a flood of big mails cannot fill the
        memory. (The limits are lowered here so the mails stay small.)"""
        from introd import mailbox

        world = make_world()
        monkeypatch.setattr(mailbox, "MAX_FETCH_BYTES", 20_000)
        monkeypatch.setattr(mailbox, "MAX_BATCH_BYTES", 30_000)
        small = hostile_mail.mail()
        big = hostile_mail.mail(body="Please introduce me to Bob Jones.\n" * 3_000)
        for raw in (small, big, small, small, big, small):
            world.owner_sends(raw)
        cfg = load_config(world.config_path)
        assert cfg.imap is not None
        box = mailbox.Mailbox(cfg.imap)
        box.connect()
        try:
            batches = list(box.fetch_batches(box.new_uids(0)))
        finally:
            box.close()
        fetched = [raw for batch in batches for _, raw in batch]
        assert len(fetched) == 6
        assert [len(r) for r in fetched if len(r) != len(small)] == [20_000, 20_000]
        assert all(r == big[:20_000] for r in fetched if len(r) != len(small))
        assert len(batches) >= 2
        assert all(sum(len(r) for _, r in b) <= 30_000 for b in batches)
