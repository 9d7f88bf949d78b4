"""Is a mail from the owner really from the owner? (RFC 8601 Authentication-Results)

A mail counts as the owner's when its ``From`` is exactly one mailbox, that mailbox
is one of the owner's addresses, and our own border MTA vouches for it in an
``Authentication-Results`` header:

- ``dkim=pass`` whose ``header.d`` (or the domain of ``header.i``) is aligned with
  the From domain: equal, or one a subdomain of the other (relaxed alignment);
- ``spf=pass`` whose ``smtp.mailfrom`` (an address or a domain) is aligned the same way;
- ``dmarc=pass``, with ``header.from`` equal to the From domain when it is given.

Which headers are believed. Anybody can write an ``Authentication-Results`` header
into a mail, including one that names our authserv-id, and an MTA that does not remove
such headers (RFC 8601 section 5 says it must; many set-ups don't) hands them on. Our
MTA adds its header on top of what it received, so a sender's header always lies
*below* the one our MTA wrote. Two rules follow:

- only the *contiguous top block* counts: the headers, read top to bottom, up to the
  first one that is not from a trusted authserv-id or cannot be parsed. A header with
  our authserv-id below a header from anybody else was in the mail before it reached us;
- inside that block, only the *topmost header of each trusted authserv-id* counts. Our
  MTA writes one header per mail; a second one claiming the same authserv-id lower
  down was written by the sender, whatever it says (``dkim=pass`` below our
  ``dkim=none``, ``spf=softfail`` or ``none`` adds nothing).

Limits (docs/security.md and docs/providers.md say what to configure): a filter that
writes its header only on some mails (OpenDKIM without ``AlwaysAddARHeader``) leaves
the sender's forged header topmost on the others, and an MTA set-up whose filters
each write their own header under one shared authserv-id only has its top header
counted. Give each filter its own authserv-id, or have the MTA remove foreign headers.

Inside the counted headers we are conservative twice over:

- ``dmarc=fail`` anywhere fails the mail, whatever else is claimed;
- when one header reports a pass for a method (dkim, spf, dmarc) and another counted
  header (another trusted authserv-id) reports only non-passing results for the same
  method, the method does not count.

A malformed header is never trusted and never raises. Setting
``auth.require: false`` is handled by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message

import authres  # type: ignore[import-untyped]

from introd.patterns import LazyPattern
from introd.reading import mailtext

__all__ = ["AuthResult", "check_exchange_online", "check_owner_auth", "is_aligned", "is_tenant_id"]

_METHODS = ("dkim", "spf", "dmarc")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthResult:
    """Whether an owner mail is authenticated, and why (for logs and ``decision.detail``)."""

    ok: bool
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Result:
    method: str
    result: str
    # the identity the result is about: header.d, smtp.mailfrom, header.from
    identity: str


def is_aligned(identity: str, from_domain: str) -> bool:
    """True when a DKIM/SPF domain (or an address) is aligned with the From domain."""
    domain = identity.strip().strip("<>").rsplit("@", 1)[-1].strip().rstrip(".").lower()
    from_domain = from_domain.strip().rstrip(".").lower()
    if not domain or not from_domain or "." not in domain:
        return False
    return (
        domain == from_domain
        or from_domain.endswith("." + domain)
        or domain.endswith("." + from_domain)
    )


def _header_values(msg: Message, name: str) -> list[str]:
    """Every header ``name``, top to bottom, unfolded; unreadable ones as ""."""
    values: list[str] = []
    try:
        raw = msg.get_all(name) or []
    except Exception:
        return []
    for value in raw:
        try:
            values.append(re.sub(r"\s+", " ", str(value)).strip())
        except Exception:
            values.append("")
    return values


# The shape nearly every MTA writes, read without the general parser: an authserv-id
# (optionally version 1), then "; method=result", each with an optional comment and
# "ptype.property=value" pairs (each optionally commented). Comments hold no nested or
# quoted parentheses, values no quotes. Anything else — a reason, a quoted value, a
# method version, "none", a comment elsewhere — goes to authres, whose reading this one
# matches on the shapes it accepts (tests/test_auth.py holds the two equal).
_COMMENT = r"(?: \([\x21-\x27\x2a-\x5b\x5d-\x7e ]*\))?"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_FAST_ID = LazyPattern(r"(" + _ATOM + r"(?:\." + _ATOM + r")*)(?: 1)?")
_FAST_RESINFO = LazyPattern(
    r" ?; ?(?!none)([A-Za-z0-9_-]+)=([A-Za-z]+)"
    + _COMMENT
    + r"((?: (?:smtp|header|body|policy)\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*"
    + r"=(?:@"
    + _ATOM
    + r"(?:\."
    + _ATOM
    + r")*|(?!@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]*)"
    + _COMMENT
    + r")*)",
    re.I,
)
_FAST_PROP = LazyPattern(r" (\w+)\.([\w.-]+)=([^ ]*)" + _COMMENT)


def _identity(method: str, props: dict[tuple[str, str], str]) -> str:
    """Whom a result vouches for: the signing domain (dkim), the envelope sender (spf),
    else the From domain (dmarc)."""
    if method == "dkim":
        return props.get(("header", "d")) or props.get(("header", "i"), "")
    if method == "spf":
        return props.get(("smtp", "mailfrom"), "")
    return props.get(("header", "from"), "")


def _parse_simple(value: str) -> tuple[str, list[_Result]] | None:
    """(authserv-id, results) of a header in the common shape, or None for any other."""
    head = _FAST_ID.match(value)
    if head is None:
        return None
    pos, end = head.end(), len(value)
    results: list[_Result] = []
    while pos < end:
        item = _FAST_RESINFO.match(value, pos)
        if item is None:
            return None
        pos = item.end()
        method = item[1].lower()
        if method not in _METHODS:
            continue
        props = {(t.lower(), n.lower()): v for t, n, v in _FAST_PROP.findall(item[3])}
        results.append(
            _Result(method=method, result=item[2].lower(), identity=_identity(method, props))
        )
    if pos == head.end():  # no result at all
        return None
    return head[1].lower(), results


def _parse(value: str) -> tuple[str, list[_Result]] | None:
    """(authserv-id, results) of one header, or None when it cannot be parsed."""
    if not value:
        return None
    simple = _parse_simple(value)
    if simple is not None:
        return simple
    return _parse_general(value)


def _parse_general(value: str) -> tuple[str, list[_Result]] | None:
    """``_parse`` by authres, which reads the whole grammar of RFC 8601."""
    try:
        header = authres.AuthenticationResultsHeader.parse_value(value)
        authserv_id = str(header.authserv_id or "").strip().lower()
        if not authserv_id:
            return None
        results: list[_Result] = []
        for item in header.results:
            method = str(item.method or "").lower()
            if method not in _METHODS:
                continue
            props = {
                (str(p.type).lower(), str(p.name).lower()): str(p.value or "")
                for p in item.properties
            }
            results.append(
                _Result(
                    method=method,
                    result=str(item.result or "").lower(),
                    identity=_identity(method, props),
                )
            )
        return authserv_id, results
    except Exception:
        return None


def _from_address(msg: Message) -> tuple[str | None, str]:
    """(the one From address, "") or (None, why not)."""
    try:  # counted by name: parsing each one just to count them would be wasted
        count = sum(1 for name in msg.keys() if name.lower() == "from")
    except Exception:
        count = 0
    if count > 1:
        return None, f"{count} From headers"
    people = mailtext.address_list(msg, "From")
    if not people:
        return None, "no From address"
    if len(people) > 1:
        return None, f"From holds {len(people)} addresses"
    email = (people[0].email or "").strip().lower()
    if "@" not in email:
        return None, "no From address"
    return email, ""


def _trusted_block(msg: Message, trusted: set[str]) -> tuple[list[list[_Result]], int]:
    """The results of the headers that count, and how many lower same-id headers were
    ignored: the topmost header of each trusted authserv-id within the contiguous top
    block of trusted headers."""
    block: list[list[_Result]] = []
    seen: set[str] = set()
    ignored = 0
    for value in _header_values(msg, "Authentication-Results"):
        parsed = _parse(value)
        if parsed is None or parsed[0] not in trusted:
            break
        if parsed[0] in seen:  # our MTA wrote the first one; this one came with the mail
            ignored += 1
            continue
        seen.add(parsed[0])
        block.append(parsed[1])
    return block, ignored


def _passes(result: _Result, from_domain: str) -> bool:
    if result.result != "pass":
        return False
    if result.method == "dmarc":
        return not result.identity or result.identity.strip().lower().rstrip(".") == from_domain
    return is_aligned(result.identity, from_domain)


def _describe_failure(result: _Result, from_domain: str) -> str:
    if result.result != "pass":
        return f"{result.method}={result.result or 'unknown'}"
    if result.method == "dkim":
        if not result.identity:
            return "dkim pass without header.d"
        return f"dkim pass for {result.identity} not aligned with From domain"
    if result.method == "spf":
        if not result.identity:
            return "spf pass without smtp.mailfrom"
        return f"spf pass for {result.identity} not aligned with From domain"
    return f"dmarc pass for {result.identity} is not the From domain"


def check_owner_auth(
    msg: Message,
    *,
    owner_addresses: Collection[str],
    trusted_authserv_ids: Collection[str],
) -> AuthResult:
    """Whether ``msg`` is from an owner address and authenticated by a trusted MTA."""
    try:
        return _check(msg, owner_addresses, trusted_authserv_ids)
    except Exception as exc:  # hostile mail never gets through by crashing us
        return AuthResult(ok=False, reason=f"unreadable mail: {type(exc).__name__}")


def _check(
    msg: Message, owner_addresses: Collection[str], trusted_authserv_ids: Collection[str]
) -> AuthResult:
    sender, problem = _from_address(msg)
    if sender is None:
        return AuthResult(ok=False, reason=problem)
    owners = {a.strip().lower() for a in owner_addresses}
    if sender not in owners:
        return AuthResult(ok=False, reason=f"From {sender} is not an owner address")
    from_domain = sender.rsplit("@", 1)[1].rstrip(".")
    trusted = {t.strip().lower() for t in trusted_authserv_ids if t.strip()}
    block, ignored = _trusted_block(msg, trusted)
    if not block:
        return AuthResult(ok=False, reason="no Authentication-Results from a trusted authserv-id")
    results = [r for header in block for r in header]
    if not results:
        reason = "no dkim, spf or dmarc result from a trusted authserv-id"
        if ignored:
            reason += f" ({ignored} lower header(s) claiming a trusted authserv-id ignored)"
        return AuthResult(ok=False, reason=reason)
    dmarc_failed = any(r.method == "dmarc" and r.result == "fail" for r in results)
    failures: list[str] = []
    passed: list[str] = []
    for method in _METHODS:
        reports = [[r for r in header if r.method == method] for header in block]
        reports = [rs for rs in reports if rs]
        passing = [r for rs in reports for r in rs if _passes(r, from_domain)]
        if not passing:
            failures.extend(_describe_failure(r, from_domain) for rs in reports for r in rs)
            continue
        if any(not any(_passes(r, from_domain) for r in rs) for rs in reports):
            failures.append(f"conflicting {method} results from trusted headers")
            continue
        best = passing[0]
        detail = {"dkim": "header.d", "spf": "smtp.mailfrom", "dmarc": "header.from"}[method]
        passed.append(f"{method}=pass" + (f" {detail}={best.identity}" if best.identity else ""))
    if passed and not dmarc_failed:
        return AuthResult(ok=True, reason=passed[0])
    reason = "; ".join(dict.fromkeys(failures)) or "dmarc=fail"
    if ignored:
        reason += f" ({ignored} lower header(s) claiming a trusted authserv-id ignored)"
    return AuthResult(ok=False, reason=reason)


# -- Exchange Online ------------------------------------------------------------------------

_TENANT_ID = LazyPattern(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_EXO_HOST = LazyPattern(r"(?:[a-z0-9-]+\.)+outlook\.com")
# the headers Exchange Online stamps on a mail submitted inside the tenant, and the value
# each must have (None: any value, checked separately)
_EXO_STAMPS: dict[str, str | None] = {
    "x-ms-exchange-organization-authas": "internal",
    "x-ms-exchange-organization-authsource": None,
    "x-ms-exchange-crosstenant-authas": "internal",
    "x-ms-exchange-crosstenant-id": None,
}
# stamped on some internal mail only; when present they must say "internal"
_EXO_OPTIONAL: dict[str, str] = {
    "x-ms-exchange-organization-messagedirectionality": "originating",
    "x-ms-exchange-crosstenant-fromentityheader": "hosted",
}


def is_tenant_id(value: str) -> bool:
    """True for a Microsoft Entra tenant id (a GUID)."""
    return _TENANT_ID.fullmatch(value.strip().lower()) is not None


def _stamps(msg: Message) -> dict[str, list[str]]:
    """Every value of each Exchange header introd reads, top to bottom, unfolded."""
    wanted = set(_EXO_STAMPS) | set(_EXO_OPTIONAL)
    found: dict[str, list[str]] = {name: [] for name in wanted}
    try:
        items = msg.raw_items() if hasattr(msg, "raw_items") else msg.items()
        for key, value in items:
            key = key.strip().lower()
            if key in found:
                found[key].append(" ".join(str(value).split()).lower())
    except Exception:
        return {name: [] for name in wanted}
    return found


def check_exchange_online(
    msg: Message, *, owner_addresses: Collection[str], tenant_id: str
) -> AuthResult:
    """Whether ``msg`` is an owner mail submitted inside the Exchange Online tenant
    ``tenant_id`` (see docs/providers.md, "Microsoft 365").

    Exchange Online writes no authserv-id, but it stamps every mail with headers that an
    outsider cannot bring in: its header firewall removes ``X-MS-Exchange-Organization-*``
    headers from mail that enters the tenant from outside, and stamps its own, and it
    strips the cross-tenant headers of other tenants (``X-MS-Exchange-Transport-
    CrossTenantHeadersStripped``). A mail passes when each stamp is there exactly once:
    ``X-MS-Exchange-Organization-AuthAs: Internal`` (the sender authenticated as a user
    of the organisation), an ``X-MS-Exchange-Organization-AuthSource`` that is an
    Exchange Online server, ``X-MS-Exchange-CrossTenant-AuthAs: Internal`` and
    ``X-MS-Exchange-CrossTenant-Id`` equal to the configured tenant; and the direction
    stamps, where present, say ``Originating`` and ``Hosted``. A second copy of any
    stamp is a forgery that Exchange did not remove: the mail fails.
    """
    try:
        return _check_exchange(msg, owner_addresses, tenant_id)
    except Exception as exc:  # hostile mail never gets through by crashing us
        return AuthResult(ok=False, reason=f"unreadable mail: {type(exc).__name__}")


def _check_exchange(msg: Message, owner_addresses: Collection[str], tenant_id: str) -> AuthResult:
    sender, problem = _from_address(msg)
    if sender is None:
        return AuthResult(ok=False, reason=problem)
    if sender not in {a.strip().lower() for a in owner_addresses}:
        return AuthResult(ok=False, reason=f"From {sender} is not an owner address")
    tenant = tenant_id.strip().lower()
    if not is_tenant_id(tenant):
        return AuthResult(ok=False, reason="no Exchange Online tenant id configured")
    stamps = _stamps(msg)
    for name, expected in _EXO_STAMPS.items():
        values = stamps[name]
        if not values:
            return AuthResult(ok=False, reason=f"no {_pretty(name)} header from Exchange Online")
        if len(values) > 1:
            return AuthResult(
                ok=False,
                reason=f"{len(values)} {_pretty(name)} headers (one is not Exchange Online's)",
            )
        if expected is not None and values[0] != expected:
            return AuthResult(
                ok=False, reason=f"{_pretty(name)} is {values[0]!r}, not {expected!r}"
            )
    source = stamps["x-ms-exchange-organization-authsource"][0]
    if not _EXO_HOST.fullmatch(source):
        return AuthResult(
            ok=False, reason=f"AuthSource {source!r} is not an Exchange Online server"
        )
    if stamps["x-ms-exchange-crosstenant-id"][0] != tenant:
        return AuthResult(ok=False, reason="X-MS-Exchange-CrossTenant-Id is another tenant")
    for name, expected in _EXO_OPTIONAL.items():
        values = stamps[name]
        if len(values) > 1 or values and values[0] != expected:
            return AuthResult(
                ok=False, reason=f"{_pretty(name)} is {', '.join(values)!r}, not {expected!r}"
            )
    return AuthResult(ok=True, reason=f"exchange online: internal to tenant {tenant}")


def _pretty(name: str) -> str:
    return "-".join(
        part.upper() if part in ("x", "ms", "id") else part.capitalize() for part in name.split("-")
    )
