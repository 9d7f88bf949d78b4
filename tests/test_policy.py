"""Every policy rule: fires when it should, stays quiet otherwise, obeys its settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from introd.config import build_config
from introd.reading.people import Contact, ContactBook
from introd.model import Candidate, Decision, IntroRequest, Person, Reading
from introd.policy import RULES, Situation, decide
from introd.state import Store

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
TIM = Person(name="Tim Walker", email="tim@example.org")
BOB = Person(name="Bob Jones", email="bob@bigchem.example")
REASON = "wants to learn about the technology transfer team before interviews"
BOOK = ContactBook(
    [
        Contact(name="Bob Jones", email="bob@bigchem.example", company="BigChem"),
        Contact(name="Tim Walker", email="tim@example.org"),
        Contact(name="Margaret Liu", email="margaret@cortexa.example", introductions="never"),
    ]
)


def config(tmp: Path, **policies: Any) -> Any:
    return build_config(
        {
            "owner": {"name": "Lisa", "addresses": ["lisa@example.com"]},
            "auth": {"trusted_authserv_ids": ["mx.example.com"]},
            "policies": policies,
        },
        path=tmp / "c.yaml",
        need_servers=False,
    )


def request(
    requester: Person | None = TIM,
    target: Person | None = BOB,
    reason: str | None = REASON,
    candidates: tuple[Candidate, ...] = (),
    from_owner: bool = True,
    authenticated: bool = True,
) -> Reading:
    return Reading(
        kind="request",
        message_id="<m@x>",
        sender=Person(email="lisa@example.com"),
        request=IntroRequest(
            requester=requester, target=target, reason=reason, blurb="...", candidates=candidates
        ),
        from_owner=from_owner,
        authenticated=authenticated,
        auth_reason="dkim=fail",
    )


def judge(tmp: Path, reading: Reading, store: Store | None = None, **policies: Any) -> Decision:
    return decide(
        Situation(
            reading=reading, config=config(tmp, **policies), contacts=BOOK, state=store, now=NOW
        )
    )


def add_intro(
    store: Store,
    intro_id: str,
    state: str,
    *,
    requester: str = TIM.email or "",
    target: str = BOB.email or "",
    age: timedelta = timedelta(days=1),
) -> None:
    when = NOW - age
    store.insert_intro(
        id=intro_id,
        state=state,
        created=when,
        updated=when,
        requester_email=requester,
        target_email=target,
        blurb="",
    )


CHEN = (
    Candidate(name="Sarah Chen", email="a@helix.example", company="Helix"),
    Candidate(name="Sarah Chen", email="b@arbor.example", company="Arbor"),
)

# (rule, reading that fires it, expected action)
FIRING = [
    ("not_from_owner", request(from_owner=False), "ignore"),
    ("unauthenticated", request(authenticated=False), "ignore"),
    ("no_target", request(target=None), "decline"),
    ("ambiguous_target", request(target=Person(name="Sarah Chen"), candidates=CHEN), "review"),
    ("unknown_target", request(target=Person(name="Dr. Quentin Blake")), "review"),
    ("no_reason", request(reason=None), "decline"),
    ("no_reason", request(reason="to chat"), "decline"),
    (
        "target_opted_out",
        request(target=Person(name="Margaret Liu", email="margaret@cortexa.example")),
        "decline",
    ),
]


class TestStatelessRules:
    @pytest.mark.parametrize(
        "rule, reading, action", FIRING, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(FIRING)]
    )
    def test_rule_fires_with_its_default_action(
        self, tmp_path: Path, rule: str, reading: Reading, action: str
    ) -> None:
        """Each rule fires on its case with the SPEC's default action."""
        d = judge(tmp_path, reading)
        assert (d.rule, d.action) == (rule, action)

    def test_good_request_is_accepted_by_default(self, tmp_path: Path) -> None:
        """A specific request with a reason passes every rule: `default`, accept."""
        d = judge(tmp_path, request())
        assert (d.action, d.rule) == ("accept", "default")

    @pytest.mark.parametrize(
        "rule, reading, action", FIRING, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(FIRING)]
    )
    def test_disabled_rule_does_not_fire(
        self, tmp_path: Path, rule: str, reading: Reading, action: str
    ) -> None:
        """`enabled: false` switches a rule off."""
        d = judge(tmp_path, reading, **{rule: {"enabled": False}})
        assert d.rule != rule

    def test_action_can_be_changed(self, tmp_path: Path) -> None:
        """A rule's action is configurable (no_target to review)."""
        d = judge(tmp_path, request(target=None), no_target={"action": "review"})
        assert (d.rule, d.action) == ("no_target", "review")

    def test_decline_templates(self, tmp_path: Path) -> None:
        """Declines carry their template; target_opted_out never names the target's choice."""
        assert judge(tmp_path, request(target=None)).template == "decline_no_target"
        assert judge(tmp_path, request(reason=None)).template == "decline_no_reason"
        opted = judge(tmp_path, request(target=Person(name="M", email="margaret@cortexa.example")))
        assert opted.template == "decline_policy"

    def test_min_words(self, tmp_path: Path) -> None:
        """no_reason counts the words of the extracted reason against min_words."""
        short = request(reason="to discuss a role")
        assert judge(tmp_path, short).rule == "no_reason"
        assert judge(tmp_path, short, no_reason={"min_words": 3}).rule == "default"

    def test_blocked_domain(self, tmp_path: Path) -> None:
        """Requester or target in a blocked domain (or a subdomain) is ignored."""
        spam = request(requester=Person(name="X", email="x@mail.leads.example"))
        d = judge(tmp_path, spam, blocked_domain={"domains": ["leads.example"]})
        assert (d.rule, d.action) == ("blocked_domain", "ignore")
        assert (
            judge(tmp_path, request(), blocked_domain={"domains": ["leads.example"]}).rule
            == "default"
        )

    def test_unknown_requester_and_review_all(self, tmp_path: Path) -> None:
        """The two opt-in rules fire only when switched on."""
        stranger = request(requester=Person(name="Ann", email="ann@new.example"))
        assert judge(tmp_path, stranger).rule == "default"
        assert (
            judge(tmp_path, stranger, unknown_requester={"enabled": True}).rule
            == "unknown_requester"
        )
        assert judge(tmp_path, request(), review_all={"enabled": True}).rule == "review_all"

    def test_order_first_rule_wins(self, tmp_path: Path) -> None:
        """Rules apply in SPEC order: not_from_owner before no_target."""
        d = judge(tmp_path, request(target=None, from_owner=False))
        assert d.rule == "not_from_owner"

    def test_registry_is_in_spec_order(self) -> None:
        """The registry holds exactly SPEC.md's rules, in its order."""
        assert list(RULES) == [
            "not_from_owner",
            "unauthenticated",
            "no_target",
            "ambiguous_target",
            "unknown_target",
            "no_reason",
            "target_opted_out",
            "blocked_domain",
            "duplicate",
            "declined_before",
            "requester_limit",
            "target_limit",
            "unknown_requester",
            "review_all",
        ]


class TestStateRules:
    @pytest.fixture
    def store(self, tmp_path: Path) -> Store:
        return Store(tmp_path / "s.db")

    def test_duplicate_awaiting(self, tmp_path: Path, store: Store) -> None:
        """The same pair already awaiting is a duplicate (ignored)."""
        add_intro(store, "AAAAA2", "awaiting")
        assert judge(tmp_path, request(), store).rule == "duplicate"

    def test_duplicate_introduced_within_cooldown(self, tmp_path: Path, store: Store) -> None:
        """Introduced within the cooldown is a duplicate; long ago it is not."""
        add_intro(store, "AAAAA3", "introduced", age=timedelta(days=10))
        assert judge(tmp_path, request(), store).rule == "duplicate"
        assert judge(tmp_path, request(), store, duplicate={"cooldown": "5d"}).rule == "default"

    def test_declined_before(self, tmp_path: Path, store: Store) -> None:
        """A target's earlier no within the cooldown declines the same request again."""
        add_intro(store, "AAAAA4", "declined_by_target", age=timedelta(days=30))
        d = judge(tmp_path, request(), store)
        assert (d.rule, d.action, d.template) == ("declined_before", "decline", "decline_policy")
        assert (
            judge(tmp_path, request(), store, declined_before={"cooldown": "20d"}).rule == "default"
        )

    def test_a_cooldown_of_zero_is_no_cooldown(self, tmp_path: Path, store: Store) -> None:
        """`cooldown: 0s` means what it says (it used to mean the 180-day default): an
        introduced or declined pair may be asked again at once; one still awaiting is a
        duplicate whatever the cooldown."""
        zero = {"cooldown": "0s"}
        off = {"enabled": False}  # two earlier requests to the target: its limit aside
        add_intro(store, "AAAAA5", "introduced", age=timedelta(hours=1))
        assert judge(tmp_path, request(), store).rule == "duplicate"
        assert judge(tmp_path, request(), store, duplicate=zero).rule == "default"
        add_intro(store, "AAAAA6", "declined_by_target", age=timedelta(hours=1))
        d = judge(tmp_path, request(), store, duplicate=zero, target_limit=off)
        assert d.rule == "declined_before"
        policies = {"duplicate": zero, "declined_before": zero, "target_limit": off}
        assert judge(tmp_path, request(), store, **policies).rule == "default"
        add_intro(store, "AAAAA7", "awaiting")
        assert judge(tmp_path, request(), store, **policies).rule == "duplicate"

    def test_requester_limit(self, tmp_path: Path, store: Store) -> None:
        """The 4th request in 30 days goes to review; older ones do not count."""
        for i, age in enumerate((1, 2, 40)):
            add_intro(
                store, f"AAAB{i}2", "introduced", target=f"t{i}@x.example", age=timedelta(days=age)
            )
        assert judge(tmp_path, request(), store).rule == "default"
        add_intro(store, "AAAB52", "expired", target="t5@x.example", age=timedelta(days=3))
        d = judge(tmp_path, request(), store)
        assert (d.rule, d.action) == ("requester_limit", "review")
        assert judge(tmp_path, request(), store, requester_limit={"max": 5}).rule == "default"

    def test_target_limit(self, tmp_path: Path, store: Store) -> None:
        """A target asked twice in 30 days: the third request goes to review."""
        for i in range(2):
            add_intro(store, f"AAAC{i}2", "expired", requester=f"r{i}@x.example")
        d = judge(tmp_path, request(), store)
        assert (d.rule, d.action) == ("target_limit", "review")

    def test_without_state_history_rules_cannot_fire(self, tmp_path: Path) -> None:
        """Under `parse` with no state, rate-limit and history rules never fire."""
        assert judge(tmp_path, request(), None).rule == "default"
