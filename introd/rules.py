"""The names of every decision introd takes on a mail: the policy rules of SPEC.md and
the proofs the judge asks of answers, owner commands and bounces.

These names are the contract: they appear in ``decision.rule`` of `introd parse`, in
the logs, in the state and in `introd show`. The code names a decision only through
``RuleName``, so a misspelt name fails at import (or under mypy), not as a silent
mismatch.
"""

from __future__ import annotations

from enum import StrEnum


class RuleName(StrEnum):
    # -- the policy rules of SPEC.md, in evaluation order (see introd.policy) --
    """The name of every rule and decision, as logs, JSON and the SPEC spell it."""

    NOT_FROM_OWNER = "not_from_owner"
    UNAUTHENTICATED = "unauthenticated"
    NO_TARGET = "no_target"
    AMBIGUOUS_TARGET = "ambiguous_target"
    UNKNOWN_TARGET = "unknown_target"
    NO_REASON = "no_reason"
    TARGET_OPTED_OUT = "target_opted_out"
    BLOCKED_DOMAIN = "blocked_domain"
    DUPLICATE = "duplicate"
    DECLINED_BEFORE = "declined_before"
    REQUESTER_LIMIT = "requester_limit"
    TARGET_LIMIT = "target_limit"
    UNKNOWN_REQUESTER = "unknown_requester"
    REVIEW_ALL = "review_all"
    # no rule fired: the request is accepted
    DEFAULT = "default"

    # -- mail that is no request --
    NOT_A_REQUEST = "not_a_request"
    OVER_BUDGET = "over_budget"
    UNREADABLE = "unreadable"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    BOUNCE_UNPROVEN = "bounce_unproven"

    # -- answers of the parties --
    ANSWER = "answer"
    NO_REFERENCE = "no_reference"
    BAD_TOKEN = "bad_token"
    WRONG_SENDER = "wrong_sender"
    NOT_ASKED = "not_asked"
    ALREADY_ANSWERED = "already_answered"
    INTRO_ENDED = "intro_ended"
    DETAILS_ANSWER = "details_answer"
    FOLLOWUP_ANSWER = "followup_answer"
    # an intro sent to review after a second unclear answer
    UNCLEAR_ANSWER = "unclear_answer"
    # the target named someone else instead of them: the owner decides (and, approving,
    # starts the intro to that person)
    SUGGESTED_TARGET = "suggested_target"

    # -- owner commands --
    OWNER_COMMAND = "owner_command"
    NOT_A_COMMAND = "not_a_command"
    NO_INTRO = "no_intro"
    UNKNOWN_INTRO = "unknown_intro"
    NOT_APPLICABLE = "not_applicable"
    DELEGATE_IS_PARTY = "delegate_is_party"

    # -- the engine and the daemon --
    ALREADY_SEEN = "already_seen"
    INTERNAL_ERROR = "internal_error"


# the rules that refuse a mail for who sent it, before anything in it is read
SENDER_RULES = (RuleName.NOT_FROM_OWNER, RuleName.UNAUTHENTICATED)

# the refusals of an authenticated owner's command, which the owner hears about
REFUSED_COMMAND_RULES = (
    RuleName.NO_INTRO,
    RuleName.UNKNOWN_INTRO,
    RuleName.NOT_APPLICABLE,
    RuleName.DELEGATE_IS_PARTY,
)

# a request still missing something after a round of details goes to the owner
INCOMPLETE_RULES = (
    RuleName.NO_TARGET,
    RuleName.NO_REASON,
    RuleName.AMBIGUOUS_TARGET,
    RuleName.UNKNOWN_TARGET,
)
