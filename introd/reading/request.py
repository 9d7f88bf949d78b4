"""Reading what a forwarded request asks for: who asks, whom, why, and the note to pass on.

The owner's note, the people in it and their resolution against the contacts live
here; cleaning a message's text is in :mod:`introd.reading.cleaning`, asking phrases and
stated purposes in :mod:`introd.reading.asks`. Pure functions of text: nothing here
touches the network, the disk or the clock, and nothing raises on odd mail; the
worst a strange message gets is an empty reading.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

from .addresses import ADDRESS, BRACKETED_ADDRESS
from introd.patterns import LazyPattern
from .people import Contact, ContactBook, Mention, compact, company_key, distinct, fold, name_tokens
from .asks import ANY_CUE, PASS_ON, Named, find_ask, find_reason, leading_name
from .cleaning import (
    FOOTER,
    GREETING,
    NAME_GREETING,
    SERVICE_NAME,
    SIG_DASHES,
    VIA,
    clean_message,
    cut_footer,
    cut_history,
    is_notification_sender,
    message_lines,
    notification_name,
    sign_off_at,
    split_lines,
    tidy,
)
from .forward import nested_forward
from ..model import Candidate, Forward, IntroRequest, Person


# --- the owner and the intro address -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Own:
    """The owner's addresses and the intro address; never a requester or a target."""

    addresses: frozenset[str]

    @classmethod
    def of(cls, owner_addresses: Iterable[str], intro_address: str | None) -> _Own:
        """The addresses of the owner and of introd itself, lower-cased, without +tags."""
        found = {_bare(a) for a in owner_addresses if a}
        if intro_address:
            found.add(_bare(intro_address))
        return cls(frozenset(found))

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and _bare(address) in self.addresses


def _bare(address: str) -> str:
    """An address lowered and without its +tag: intros+K7F3@x -> intros@x."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


# --- the owner's note ----------------------------------------------------------------------

_NOTE_LABEL = LazyPattern(
    r"^\s*(?:intro|introduce|introduction|target|for|pour|für|para|cible|ziel|an|à)\s*:\s*(?P<spec>.+)$",
    re.I,
)
# "For Priya", "Pour Mme Dubois": a short line naming whom the forward is for
_NOTE_FOR = LazyPattern(
    r"^\s*(?i:for|pour|für|para)\s+(?P<spec>(?:[A-ZÀ-Ý][\w'’.-]*\s*){1,4})[.!]?\s*$"
)
_ARROW = LazyPattern(r"\s*(?:→|->|=>|⇒|➔|➜|➡|-->|—>|>>)\s*")
_SPEC = LazyPattern(
    r"^\s*(?P<name>[^<>\[\]()\n]*?)\s*[<\[(]\s*(?:mailto:)?(?P<addr>"
    + BRACKETED_ADDRESS.pattern
    + r")\s*[>\])]\s*[.,;]?\s*$"
)
_EMBEDDED_SPEC = LazyPattern(
    r"(?P<name>(?:[^\W\d_][\w'’.-]*[ \t]+){0,4}?)[<\[(](?:mailto:)?"
    r"(?P<addr>" + BRACKETED_ADDRESS.pattern + r")[>\])]"
)
_PHONE = LazyPattern(r"^[\s+()\d./-]{7,}$|(?:tel|phone|mobile|fax|cell)\b", re.I)


_Spec = tuple[str | None, str | None, str | None]  # name, address, company


def _person_spec(text: str) -> _Spec | None:
    """'Name <addr>', 'addr', 'Name, Company' or 'Name' -> (name, address, company)."""
    s = text.strip().strip(".,;:")
    if not s:
        return None
    m = _SPEC.match(s)
    if m:
        name = m.group("name").strip(" \"'“”,:") or None
        return name, m.group("addr").strip(".,;"), None
    found = ADDRESS.search(s)
    if found:
        return None, found.group(), None
    words = s.split()
    if 1 <= len(words) <= 8 and s[0].isupper() and not s.endswith("?"):
        lead = leading_name(s)
        if lead is not None:
            return lead[0], None, lead[1]
        if len(words) <= 4:
            return s, None, None
    return None


def note_lines(note: str, own: _Own, owner_name: str | None) -> list[str]:
    """The owner's own words: without her signature, address, phone or client footers."""
    lines = split_lines(note)
    for i, line in enumerate(lines):
        if SIG_DASHES.match(line) or FOOTER.match(line):
            lines = lines[:i]
            break
    at = sign_off_at(lines)
    if at is not None:
        lines = lines[:at]
    owner = fold(owner_name or "").strip()
    owner_words = [w for w in name_tokens(owner_name or "") if len(w) >= 3]
    kept = []
    in_signature = False
    for line in lines:
        s = line.strip()
        if not s:
            in_signature = False
            kept.append(line)
            continue
        if in_signature:
            continue
        addresses = ADDRESS.findall(s)
        if (
            addresses
            and not _ARROW.search(s)
            and all(
                a in own or any(w in a.split("@")[0].lower() for w in owner_words)
                for a in addresses
            )
        ):
            continue
        if owner and fold(s).startswith(owner) and len(s) <= len(owner) + 30:
            in_signature = True  # her name, then title, company, address, phone
            continue
        if _PHONE.search(s) and not ADDRESS.search(s):
            continue
        kept.append(line)
    return kept


def _note_specs(lines: list[str]) -> list[_Spec]:
    """Person specs the owner wrote on lines of their own: 'intro: X', '→ X', a bare address.

    On a line with an arrow only what the arrow points to counts.
    """
    specs: list[_Spec] = []
    loose: list[_Spec] = []
    for line in lines:
        s = line.strip()
        if not s:
            continue
        for em in _EMBEDDED_SPEC.finditer(s):
            # "Please loop in Liz Harrow <liz@harrowcap.example> on this one."
            words = (em.group("name") or "").split()
            while words and not words[0][:1].isupper():
                words.pop(0)
            loose.append((" ".join(words) or None, em.group("addr").strip(".,;"), None))
        label = _NOTE_LABEL.match(s) or _NOTE_FOR.match(s)
        if label:
            s = label.group("spec")
        if _ARROW.search(s):
            for part in _ARROW.split(s)[1:]:
                spec = _person_spec(part) if part.strip() else None
                if spec:
                    specs.append(spec)
            continue
        if label:
            spec = _person_spec(s)
            if spec:
                specs.append(spec)
            continue
        m = _SPEC.match(s)
        if m or ADDRESS.fullmatch(s.strip("<>[]() .,;")):
            spec = _person_spec(s)
            if spec:
                specs.append(spec)
    return specs + [spec for spec in loose if spec not in specs]


# --- resolving a person against the contacts ----------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Resolved:
    person: Person | None
    candidates: tuple[Candidate, ...] = ()


def _candidate(c: Contact) -> Candidate:
    return Candidate(name=c.name, email=c.email, company=c.company)


def _narrow_by_text(found: list[Contact], hint: str) -> list[Contact]:
    """Contacts whose company the surrounding text names; all of them when none or all do."""
    flat = compact(hint)
    named = [c for c in found if company_key(c.company) and company_key(c.company) in flat]
    return named if named else found


def _from_contacts(written: str, found: list[Contact], hint: str) -> _Resolved:
    people = distinct(found)
    if len(people) > 1:
        people = _narrow_by_text(people, hint)
    if len(people) == 1:
        c = people[0]
        return _Resolved(person=Person(name=c.name, email=c.email))
    if len(people) > 1:
        return _Resolved(
            person=Person(name=_clean_name(written), email=None),
            candidates=tuple(_candidate(c) for c in people),
        )
    return _Resolved(person=Person(name=_clean_name(written), email=None))


def _clean_name(name: str) -> str:
    return " ".join(name.replace("\n", " ").split()).strip(" ,;:\"'“”")


def resolve(
    name: str | None,
    address: str | None,
    *,
    contacts: ContactBook,
    own: _Own,
    company: str | None = None,
    hint: str = "",
) -> _Resolved:
    """A written person made a Person, looked up by address first, then by name."""
    if address:
        if address in own:
            return _Resolved(person=None)
        contact = contacts.by_email(address)
        shown = _clean_name(name) if name else None
        if shown and (ADDRESS.fullmatch(shown) or shown.lower() == address.lower()):
            shown = None
        return _Resolved(
            person=Person(name=shown or (contact.name if contact else None), email=address)
        )
    if not name:
        return _Resolved(person=None)
    found = contacts.match(name, company)
    if not found and hint and len(name.split()) == 1:
        # "intro: Bob" when the forwarded text says "Bob Jones" (or his company)
        flat = compact(hint)
        found = [
            c
            for c in contacts.by_word(name)
            if compact(c.name) in flat
            or (company_key(c.company) and company_key(c.company) in flat)
        ]
    if not found and len(name.split()) == 1:
        # "For Priya": the one contact of that first name
        only = contacts.by_first_name(name)
        found = only if len(only) == 1 else []
    return _from_contacts(name, found, hint)


def _from_named(named: Named, *, contacts: ContactBook, own: _Own, hint: str) -> _Resolved:
    if named.mention is not None:
        return _from_contacts(named.name, list(named.mention.contacts), hint)
    return resolve(named.name, None, contacts=contacts, own=own, company=named.company, hint=hint)


# --- the requester -------------------------------------------------------------------------


def find_requester(
    forward: Forward, subject: str, *, contacts: ContactBook, own: _Own
) -> tuple[Person | None, bool]:
    """The original sender (and whether the forward was a network notification)."""
    sender = forward.sender
    notification = is_notification_sender(sender)
    if sender is not None and sender.email and not notification:
        if sender.email in own:
            return None, False
        contact = contacts.by_email(sender.email)
        name = sender.name if sender.name and not ADDRESS.search(sender.name) else None
        name = name or (contact.name if contact else None)
        return Person(name=name, email=sender.email), False
    name = None
    if sender is not None and sender.name:
        via = VIA.match(sender.name)
        if via:
            name = via.group("name").strip(" \"'")
            notification = True
    name = (
        name
        or notification_name(forward.body)
        or notification_name(forward.subject)
        or notification_name(subject)
    )
    if not name and notification:
        name = notification_name(forward.subject, loose=True) or notification_name(
            forward.body, loose=True
        )
    if name:
        notification = True
    elif sender is not None and sender.name and not SERVICE_NAME.search(sender.name):
        name = sender.name
    if not name:
        return None, notification
    found = distinct(contacts.match(name))
    if len(found) == 1:
        return Person(name=found[0].name, email=found[0].email), notification
    return Person(name=_clean_name(name), email=None), notification


# --- the whole request ---------------------------------------------------------------------


def _without_greeting_and_sign_off(lines: list[str]) -> list[str]:
    lines = list(lines)
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    if (
        filled
        and (GREETING.match(lines[filled[0]]) or NAME_GREETING.match(lines[filled[0]]))
        and len(lines[filled[0]].split()) <= 4
    ):
        lines = lines[filled[0] + 1 :]
    at = sign_off_at(lines)
    if at is not None:
        lines = lines[:at]
    return lines


def _emails_of(*people: Person | None) -> set[str]:
    return {p.email.lower() for p in people if p is not None and p.email}


def _note_target(
    lines: list[str],
    *,
    contacts: ContactBook,
    own: _Own,
    requester: Person | None,
    hint: str,
    passers: tuple[Person, ...] = (),
) -> _Resolved | None:
    """The target the owner names above the forward, if she names one."""
    skip = _emails_of(requester, *passers)
    for name, address, company in _note_specs(lines):
        if address and (address in own or address.lower() in skip):
            continue
        found = resolve(name, address, contacts=contacts, own=own, company=company, hint=hint)
        if found.person is not None:
            return found
    text = "\n".join(lines)
    ask = find_ask(text, contacts, skip=skip)
    if ask.named is not None:
        return _from_named(ask.named, contacts=contacts, own=own, hint=text + "\n" + hint)
    for mention in contacts.mentions(text):
        if any(c.email and (c.email in own or c.email.lower() in skip) for c in mention.contacts):
            continue
        if requester and requester.name and fold(mention.text) == fold(requester.name):
            continue
        return _from_contacts(mention.text, list(mention.contacts), hint)
    return None


def _text_target(
    texts: list[str],
    *,
    contacts: ContactBook,
    own: _Own,
    requester: Person | None,
    passers: tuple[Person, ...] = (),
) -> tuple[_Resolved | None, tuple[int, int] | None]:
    """The target the requester names in their own words (then the subject), if any."""
    skip = _emails_of(requester, *passers)
    blanket = blanket_ask = False
    for text in texts:
        ask = find_ask(text, contacts, skip=skip)
        if ask.named is not None:
            found = _from_named(ask.named, contacts=contacts, own=own, hint="\n".join(texts))
            if found.person is not None and not (
                found.person.email and found.person.email.lower() in skip
            ):
                return found, ask.cue_span if text is texts[0] else None
        blanket = blanket or ask.blanket or (ask.unnamed and text is texts[0])
        blanket_ask = blanket_ask or ask.blanket_ask or (ask.unnamed and text is texts[0])
    if blanket_ask:
        return None, None
    # no asking phrase: a single contact named in the message is whom it is about
    found_people: list[Mention] = []
    for mention in contacts.mentions(texts[0]) if texts else []:
        if any(c.email and (c.email in own or c.email.lower() in skip) for c in mention.contacts):
            continue
        if requester and requester.name and fold(mention.text) == fold(requester.name):
            continue
        if all(set(m.contacts) != set(mention.contacts) for m in found_people):
            found_people.append(mention)
    if len(found_people) == 1:
        # one contact named, and "someone who ..." elsewhere is not what is asked for
        m = found_people[0]
        return _from_contacts(m.text, list(m.contacts), texts[0]), None
    return None, None


def _chain(forward: Forward, own: _Own) -> list[Forward]:
    """The forwarded message and the forwards inside it, outermost first (owner's mail ends it)."""
    chain = [forward]
    for _ in range(MAX_NESTED):
        inner = nested_forward(chain[-1])
        if inner is None or inner.sender is None or (inner.sender.email or "") in own:
            break
        chain.append(inner)
    return chain


def _asks(words: str, contacts: ContactBook) -> tuple[frozenset[str], bool]:
    """Whom a level's own words ask for (contacts' addresses or the name) and whether they ask."""
    ask = find_ask(words, contacts)
    if ask.named is None:
        return frozenset(), bool(ask.blanket_ask or ask.unnamed or ANY_CUE.search(words))
    if ask.named.mention is not None:
        who = frozenset(c.email or fold(c.name) for c in ask.named.mention.contacts)
    else:
        who = frozenset({fold(ask.named.name)})
    return who, True


def _innermost_request(
    forward: Forward, *, contacts: ContactBook, own: _Own
) -> tuple[Forward, tuple[Person, ...]]:
    """The message of the person who asks, and the people who only passed it on.

    A colleague who passes a request on ("Isaac asked me to pass this on - see below",
    "this is Ines, she is terrific - could you help her?") is not the requester, through
    any depth of forwarding: the requester is the innermost sender whose own words ask
    for somebody, when everyone above only passed it on (said nothing that asks, named
    the same person, or said they pass it on).
    """
    chain = _chain(forward, own)
    if len(chain) == 1:
        return forward, ()
    words = [clean_message(level.body) for level in chain]
    asks = [_asks(w, contacts) for w in words]
    chosen = 0
    for k in range(len(chain) - 1, 0, -1):
        who, asking = asks[k]
        if not asking:
            continue
        if all(_only_passes(words[j], asks[j], who) for j in range(k)):
            chosen = k
            break
    if chosen == 0:
        return forward, ()
    asker = chain[chosen].sender
    passers: list[Person] = []
    for level in chain[:chosen]:
        p = level.sender
        if p is None or not p.email or p.email in own:
            continue
        if asker is not None and asker.email and p.email.lower() == asker.email.lower():
            continue
        if all(q.email != p.email for q in passers):
            passers.append(p)
    return replace(chain[chosen], note=forward.note), tuple(passers)


def _only_passes(words: str, ask: tuple[frozenset[str], bool], inner_who: frozenset[str]) -> bool:
    """Whether a level's own words only pass the request below on."""
    who, asking = ask
    if PASS_ON.search(words):
        return True
    if not asking:
        return True
    return bool(who) and bool(inner_who) and bool(who & inner_who)


MAX_NESTED = 5
# characters of a mail's text the reader looks at (a long request is 5,000)
MAX_TEXT = 20_000


def _read_forward(
    forward: Forward,
    subject: str,
    *,
    own: _Own,
    owner_name: str | None,
    contacts: ContactBook,
) -> IntroRequest:
    forward, passers = _innermost_request(forward, contacts=contacts, own=own)
    requester, notification = find_requester(forward, subject, contacts=contacts, own=own)
    blurb = clean_message(
        forward.body, notification=notification, signer=requester.name if requester else None
    )
    whole = "\n".join(message_lines(forward.body))
    note = note_lines(forward.note, own, owner_name)
    hint = "\n".join((blurb, forward.subject, subject))
    resolved = _note_target(
        note, contacts=contacts, own=own, requester=requester, hint=hint, passers=passers
    )
    texts = [blurb, whole, forward.subject or subject]
    # read even when the note names the target: the ask's place helps find the reason
    found, ask_span = _text_target(
        texts, contacts=contacts, own=own, requester=requester, passers=passers
    )
    if resolved is None:
        resolved = found
    reason_text = "\n".join(_without_greeting_and_sign_off(split_lines(blurb)))
    if ask_span is not None:
        cue = blurb[ask_span[0] : ask_span[1]]
        at = reason_text.find(cue)
        ask_span = (at, at + len(cue)) if at >= 0 else None
    reason = find_reason(reason_text, ask_span=ask_span, min_words=1)
    target = resolved.person if resolved else None
    return IntroRequest(
        requester=requester,
        target=target,
        reason=reason,
        blurb=blurb,
        subject=forward.subject or subject,
        candidates=resolved.candidates if resolved else (),
        owner_note=tidy(split_lines(forward.note)),
        forwarded_by=tuple(
            p for p in passers if (p.email or "").lower() not in _emails_of(requester, target)
        ),
    )


_TWO_PEOPLE = LazyPattern(
    r"\b(?:introduce|connect|intro|présenter|presentar|vorstellen|bekannt machen|verbinden)\s+"
    r"(?P<a>.+?)\s+(?:to|with|and|à|a|avec|con|mit|und|y|et)\s+(?P<b>.+?)(?:[.?!;\n]|$)",
    re.I,
)


_LEAD_WORDS = frozenset(
    """
    please pls kindly introduce intro connect meet hi hello dear and to with cc bitte merci
    presenter presentar vorstellen also from for et und y avec con mit a
    """.split()
)


# "Name <addr>", "Name (addr)", "[mailto:addr]" in running text
_NAMED_ADDRESS = LazyPattern(
    r"(?:(?P<name>[^\W\d_][\w'’.-]*(?:[ \t]+[^\W\d_][\w'’.-]*){0,4})[ \t]*)?"
    r"[<\[(](?:mailto:)?(?P<addr>" + ADDRESS.pattern + r")[>\])]"
)
_Found = tuple[int, int, _Resolved]  # start, end, whom


def _capitalised_tail(name: str) -> str | None:
    """Only the capitalised words at the end: "introduce Omar Farouk" -> "Omar Farouk"."""
    tail: list[str] = []
    for word in reversed(name.split()):
        if not word[:1].isupper() or fold(word).strip(".,:") in _LEAD_WORDS:
            break
        tail.insert(0, word)
    return " ".join(tail) or None


def _taken(found: list[_Found], start: int, end: int) -> bool:
    return any(not (end <= s or start >= e) for s, e, _ in found)


def _two_people_named(
    text: str, found: list[_Found], *, contacts: ContactBook, own: _Own
) -> list[_Found]:
    """The two people of "X and Y should meet" that nothing found before names."""
    m = _TWO_PEOPLE.search(text)
    if not m:
        return []
    more: list[_Found] = []
    for group in ("a", "b"):
        start, end = m.span(group)
        if _taken(found, start, end):
            continue
        lead = leading_name(m.group(group))
        if lead:
            r = resolve(lead[0], None, contacts=contacts, own=own, company=lead[1], hint=text)
            if r.person is not None:
                more.append((start, end, r))
    return more


def _same_person(p: Person, q: Person | None) -> bool:
    """Two people found in a note are one when their addresses or folded names agree."""
    if q is None:
        return False
    if p.email and q.email and p.email.lower() == q.email.lower():
        return True
    return bool(p.name and q.name and fold(p.name) == fold(q.name))


def _note_people(text: str, *, contacts: ContactBook, own: _Own) -> list[tuple[int, _Resolved]]:
    """People named in an owner's note, in order: addresses, 'Name <addr>', contact names."""
    found: list[_Found] = []
    for m in _NAMED_ADDRESS.finditer(text):
        name = _capitalised_tail(m.group("name")) if m.group("name") else None
        r = resolve(name, m.group("addr"), contacts=contacts, own=own)
        if r.person is not None:
            found.append((m.start("addr") - (len(name) + 2 if name else 0), m.end(), r))
    for m in ADDRESS.finditer(text):
        if not _taken(found, m.start(), m.end()):
            r = resolve(None, m.group(), contacts=contacts, own=own)
            if r.person is not None:
                found.append((m.start(), m.end(), r))
    for mention in contacts.mentions(text):
        if _taken(found, *mention.span):
            continue
        r = _from_contacts(mention.text, list(mention.contacts), text)
        if r.person is not None and not (r.person.email and r.person.email in own):
            found.append((mention.span[0], mention.span[1], r))
    found += _two_people_named(text, found, contacts=contacts, own=own)
    found.sort(key=lambda f: f[0])
    out: list[tuple[int, _Resolved]] = []
    for start, _end, r in found:
        p = r.person
        assert p is not None
        if not any(_same_person(p, q.person) for _, q in out):
            out.append((start, r))
    return out


def _read_note(
    body: str,
    subject: str,
    *,
    own: _Own,
    owner_name: str | None,
    contacts: ContactBook,
) -> IntroRequest:
    """The owner's own note naming two people: requester first, then target."""
    lines = cut_footer(cut_history(split_lines(body)))
    for i, line in enumerate(lines):
        if SIG_DASHES.match(line):
            lines = lines[:i]
            break
    own_words = _without_greeting_and_sign_off(lines)
    text = "\n".join(ln for ln in own_words)
    people = _note_people(text, contacts=contacts, own=own)
    requester = people[0][1].person if people else None
    target = people[1][1] if len(people) > 1 else None
    if target is None and requester is not None:
        # "please introduce Tim Walker to Mr. Jones at BigChem": the ask names the target
        ask = find_ask(text, contacts, skip=_emails_of(requester))
        if ask.named is not None:
            target = _from_named(ask.named, contacts=contacts, own=own, hint=text)
            if target.person == requester:
                target = None
    blurb = tidy(note_lines("\n".join(own_words), own, owner_name))
    # the lines naming the people are not the why; the owner's other words may be
    words = "\n".join(ln for ln in own_words if not ADDRESS.search(ln) and not _ARROW.search(ln))
    reason = _fuller(
        find_reason(text, min_words=1), find_reason(words, min_words=1, third_person=True)
    )
    return IntroRequest(
        requester=requester,
        target=target.person if target else None,
        reason=reason,
        blurb=blurb,
        subject=subject,
        candidates=target.candidates if target else (),
        owner_note=tidy(lines),
    )


# a stated purpose this long is taken as it is; a shorter one only when nothing fuller is said
FULL_REASON_WORDS = 5


def _fuller(first: str | None, second: str | None) -> str | None:
    """The first reason if it is full, else the second if that is, else whichever exists."""
    for reason in (first, second):
        if reason and len(reason.split()) >= FULL_REASON_WORDS:
            return reason
    return first or second


def read_request(
    *,
    body: str,
    forward: Forward | None,
    subject: str,
    owner_addresses: Collection[str],
    intro_address: str | None,
    owner_name: str | None,
    contacts: ContactBook,
) -> IntroRequest:
    """What an owner's mail asks for: requester, target, reason and the blurb to pass on.

    The reason is reported however short it is: whether it is enough is the ``no_reason``
    policy's call, not the reader's."""
    own = _Own.of(owner_addresses, intro_address)
    # a request is a few paragraphs: reading the start of a huge mail is enough, and
    # keeps every mail within the same time however much text it carries
    body = (body or "")[:MAX_TEXT]
    if forward is not None and (len(forward.body) > MAX_TEXT or len(forward.note) > MAX_TEXT):
        forward = replace(forward, body=forward.body[:MAX_TEXT], note=forward.note[:MAX_TEXT])
    try:
        if forward is not None:
            return _read_forward(
                forward,
                subject or "",
                own=own,
                owner_name=owner_name,
                contacts=contacts,
            )
        return _read_note(
            body or "",
            subject or "",
            own=own,
            owner_name=owner_name,
            contacts=contacts,
        )
    except (ValueError, IndexError, AttributeError, TypeError, RecursionError):
        # never raise on mail: a reading with nobody in it goes to the owner's policies
        return IntroRequest(
            requester=None,
            target=None,
            reason=None,
            blurb=(forward.body if forward else body or "").strip(),
            subject=subject or "",
        )
