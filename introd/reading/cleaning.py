"""Cleaning a message's text: what mail clients and networks add around a person's words.

Quoted history, forward header blocks, client footers ("Sent from my iPhone"),
disclaimers, external-mail banners, signatures, and the chrome of network
notifications (LinkedIn's "Tim Walker sent you a message"). The greetings, sign-offs,
client footers, attributions, separators and header labels come from
:mod:`introd.reading.words`. Pure functions of text; nothing here raises on odd mail.
"""

from __future__ import annotations

import re
from functools import lru_cache

from introd.patterns import LazyPattern
from .addresses import ADDRESS
from .people import name_tokens
from .words import (
    ATTRIBUTION_OPENERS,
    ATTRIBUTION_VERBS,
    CLIENT_FOOTERS,
    FORWARD_INTROS,
    GREETINGS,
    HEADER_LABELS,
    ORIGINAL_MESSAGE_MARKERS,
    SIGN_OFFS,
    any_of,
    any_word,
)
from ..model import Person


# --- notification senders (LinkedIn and the like) ------------------------------------------

_NOTIFY_LOCAL = LazyPattern(
    r"^(?:no-?reply|do-?not-?reply|notifications?|notify|messages?-noreply|messaging|"
    r"inmail-hit-reply|hit-reply|invitations?|updates?|member|mailer)([-+._].*)?$",
    re.I,
)
_NOTIFY_DOMAINS = ("linkedin.com", "xing.com", "linkedin.example", "xing.example")
_SENT_YOU = LazyPattern(
    r"^\s*(?P<name>[^\n:]{2,60}?)\s+(?:"
    r"(?:has\s+)?sent\s+you\s+(?:a\s+|an\s+)?(?:new\s+)?(?:message|InMail|note)|"
    r"(?:hat\s+Ihnen|hat\s+dir)\s+(?:eine\s+)?(?:neue\s+)?Nachricht\s+(?:gesendet|geschickt)|"
    r"vous\s+a\s+envoy[ée]\s+un\s+(?:nouveau\s+)?message|"
    r"te\s+ha\s+enviado\s+un\s+(?:nuevo\s+)?mensaje|"
    r"le\s+ha\s+enviado\s+un\s+(?:nuevo\s+)?mensaje|"
    r"(?:is\s+)?waiting\s+for\s+your\s+response)",
    re.I | re.M,
)
_MESSAGE_FROM = LazyPattern(
    r"\b(?:new\s+)?(?:message|InMail|Nachricht|mensaje)\s+(?:from|von|de)\s+"
    r"(?P<name>[^\n,:;!?()<>@]{2,60}?)\s*(?=$|[\n,:;!?(]|\s+(?:on|auf|en|sur)\s+\w+\s*$)",
    re.I | re.M,
)
SERVICE_NAME = LazyPattern(
    r"linkedin|xing|notification|no-?reply|messag|mailer|team\b|support", re.I
)
VIA = LazyPattern(r"^(?P<name>.+?)\s*\(?\s*(?:via|über|par|vía)\s+(?:LinkedIn|Xing)\s*\)?$", re.I)


def is_notification_sender(person: Person | None) -> bool:
    """A mail sent by a network's notification service, not by a person."""
    if person is None or not person.email:
        return False
    local, _, domain = person.email.lower().rpartition("@")
    if any(domain == d or domain.endswith("." + d) for d in _NOTIFY_DOMAINS):
        return True
    return bool(_NOTIFY_LOCAL.match(local))


def notification_name(text: str, *, loose: bool = False) -> str | None:
    """The person a notification is about: 'Tim Walker sent you a new message' -> 'Tim Walker'.

    ``loose`` also reads 'New message from Tim Walker' (only for known notification mail).
    """
    found = list(_SENT_YOU.finditer(text or ""))
    if loose:
        found += list(_MESSAGE_FROM.finditer(text or ""))
    for m in found:
        name = m.group("name").strip(" -–:\"'")
        name = re.sub(r"^(?:fwd?|fw|tr|wg|rv|re)\s*:\s*", "", name, flags=re.I)
        if 1 <= len(name.split()) <= 5 and not ADDRESS.search(name):
            return name
    return None


# --- text of a message: history, footers, signatures ---------------------------------------

_LABELS = any_word(label for labels in HEADER_LABELS.values() for label in labels)
_FROM_LABELS = any_word(HEADER_LABELS["from"])
_HEADER_LINE = LazyPattern(rf"^\s*\**{_LABELS}\s*\**\s*[:：]", re.I)
_FROM_LINE = LazyPattern(rf"^\s*\**{_FROM_LABELS}\s*\**\s*[:：]\s*\S", re.I)
_LABEL_ONLY_FROM = LazyPattern(rf"^\s*\**{_FROM_LABELS}\s*\**\s*[:：]\s*$", re.I)
_OPENER = any_of(ATTRIBUTION_OPENERS)
_WROTE = r"\b" + any_of(ATTRIBUTION_VERBS)
_HISTORY = LazyPattern(
    r"^\s*(?:"
    rf"-{{2,}}\s*{any_of(ORIGINAL_MESSAGE_MARKERS)}\s*-{{2,}}|"
    rf"{any_of(FORWARD_INTROS)}\s*:|"
    rf"{_OPENER}\s.{{4,200}}{_WROTE}\s*:"
    r")\s*$",
    re.I,
)
_WROTE_END = LazyPattern(rf"{_WROTE}\s*:\s*$", re.I)
_WROTE_START = LazyPattern(rf"^\s*{_OPENER}\s", re.I)
_RULE = LazyPattern(r"^\s*_{8,}\s*$")
FOOTER = LazyPattern(
    r"^\s*(?:"
    r"(?:Reply|Antworten|Répondre|Responder|View message|Nachricht anzeigen)\s*:?\s*https?://|"
    r"This (?:e-?mail|message) was (?:intended|sent) for\b|"
    r"Learn why we included this|You (?:are|'re) receiving\b|"
    r"Unsubscribe\b|To unsubscribe\b|Se désabonner|Abmelden\b|Darse de baja|"
    r"©\s*\d{4}|.*\bLinkedIn Corporation\b|.*\bXING SE\b|" + any_of(CLIENT_FOOTERS) + "|"
    r"\[?(?:CONFIDENTIALITY|DISCLAIMER|CONFIDENTIAL|LEGAL NOTICE)\b.*|"
    r"This (?:e-?mail|message|communication)(?: and any (?:attachments?|files)[^.]{0,40})?"
    r"[^.]{0,40}(?:confidential|intended solely|intended only|privileged).*|"
    r"(?:Ce message|Ce courriel|Ce mail).{0,120}(?:confidentiel|destiné).*|"
    r"Diese (?:E-Mail|Nachricht).{0,120}(?:vertraulich|Informationen).*|"
    r"Este (?:mensaje|correo).{0,120}(?:confidencial|destinado).*|"
    r"(?:Dit|Deze) (?:e-?mail(?:bericht)?|bericht).{0,120}(?:uitsluitend|vertrouwelijk|bestemd).*|"
    r"(?:Questo|Il presente) (?:messaggio|e-?mail).{0,120}(?:riservat|destinat|confidenzial).*|"
    r"Le informazioni contenute.{0,120}(?:riservat|destinat|confidenzial).*|"
    r"(?:Esta|Este) (?:mensagem|e-?mail|correio).{0,120}(?:confidencia|destinad|sigilos).*|"
    r"(?:Detta|Det här) (?:e-?post(?:meddelande)?|meddelande|mejl).{0,120}"
    r"(?:konfidentiell|avsett|endast).*|"
    r"(?:Ta|Niniejsza) wiadomość.{0,120}(?:poufn|przeznaczon).*|"
    r"(?:De informatie|Le informazioni|As informa[çc][õo]es|A informa[çc][ãa]o|Informationen|"
    r"The information|La información|Les informations|Informationen i|Informacje).{0,120}"
    r"\b(?:vertrouwelijk|riservat[ae]|confidencia(?:l|is)|konfidentiell|vertraulich|"
    r"confidential|confidentielles?|poufne)\b.*|"
    r"(?:Ce message|Ce courriel|Ce mail|Cet e-?mail).{0,120}(?:confidentiel|destiné).*|"
    r"-{10,}\s*$|={10,}\s*$|_{10,}\s*$"
    r")",
    re.I,
)
SIG_DASHES = LazyPattern(r"^--\s*$")
GREETING = LazyPattern(r"^\s*" + any_of(GREETINGS) + r"\b", re.I)
NAME_GREETING = LazyPattern(r"^\s*[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’-]+)?\s*[,:!]\s*$")
# a sign-off starts the line; a Japanese one needs no word boundary after it
_SIGN_OFF = LazyPattern(
    r"^\s*[¡¿]?"
    + any_of(w for w in SIGN_OFFS if w.isascii() or max(w) < "\u3040")
    + r"\b|^\s*"
    + any_of(w for w in SIGN_OFFS if not w.isascii() and max(w) >= "\u3040"),
    re.I,
)
_QUOTE = LazyPattern(r"^\s*>")


def split_lines(text: str) -> list[str]:
    """The lines of a text, whatever its line ends (CR LF, CR or LF)."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _unquote(lines: list[str]) -> list[str]:
    """A message that is quoted as a whole (Proton's forward) with one '>' level removed."""
    filled = [ln for ln in lines if ln.strip()]
    if filled and sum(1 for ln in filled if _QUOTE.match(ln)) >= 0.8 * len(filled):
        return [re.sub(r"^\s*> ?", "", ln) if _QUOTE.match(ln) else ln for ln in lines]
    return lines


def _history_at(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _HISTORY.match(line):
        return True
    if _WROTE_START.match(line) and len(line) < 200:
        # "On Mon, 3 Mar 2025, Tim Walker <tim@x" / "> wrote:" wrapped over two lines
        for j in (i + 1, i + 2):
            if j < len(lines) and _WROTE_END.search(lines[j]) and len(lines[j]) < 120:
                return True
    if _LABEL_ONLY_FROM.match(line):
        # Outlook's header table read as text: "From:" / name / "Sent:" / date ...
        following = [ln for ln in lines[i + 1 : i + 6] if ln.strip()]
        return sum(1 for ln in following[:4] if _HEADER_LINE.match(ln)) >= 1
    if _RULE.match(line) or _FROM_LINE.match(line):
        following = [ln for ln in lines[i + 1 : i + 6] if ln.strip()]
        if _RULE.match(line):
            return bool(following) and bool(_HEADER_LINE.match(following[0]))
        return sum(1 for ln in following[:4] if _HEADER_LINE.match(ln)) >= 1
    return False


def cut_history(lines: list[str]) -> list[str]:
    """The lines above the first mark of quoted or forwarded history."""
    for i in range(len(lines)):
        if _history_at(lines, i):
            return lines[:i]
    return lines


def cut_footer(lines: list[str]) -> list[str]:
    """The lines above the first footer (client, network, disclaimer) or "-- " line."""
    for i, line in enumerate(lines):
        if i > 0 and (FOOTER.match(line) or SIG_DASHES.match(line)):
            return lines[:i]
    return lines


def _strip_header_block(lines: list[str]) -> list[str]:
    """Forward header lines left at the top ("From: ...", "Subject: ...")."""
    i = 0
    while i < len(lines) and (
        not lines[i].strip()
        or _HEADER_LINE.match(lines[i])
        or _HISTORY.match(lines[i])
        or _RULE.match(lines[i])
    ):
        i += 1
    return lines[i:] if any(_HEADER_LINE.match(ln) for ln in lines[:i]) else lines


# A company's imprint line under a signature: long, but no part of the message.
_IMPRINT = LazyPattern(
    r"(?:\s[·•|]\s.*){2,}|\b(?:Amtsgericht|Registergericht|HRB|Gesch[äa]ftsf[üu]hr\w*|USt-IdNr|"
    r"SIRET|RCS|Capital social|CIF|NIF|Registered (?:office|in)|Company (?:No|number)|"
    r"KvK|BTW|P\.\s?IVA|Partita IVA|C\.F\.|Codice Fiscale|REA|NIPC|NIF|KRS|NIP|REGON|"
    r"Org\.?\s?nr|Organisationsnummer|VAT(?: No| number)?)\b",
    re.I,
)


_NOT_IN_A_NAME = LazyPattern(r"[\d@|/]|https?:|www\.")
_BLANK_LINES = LazyPattern(r"\n{3,}")


def _is_short(line: str) -> bool:
    if len(line.strip()) <= 200 and _IMPRINT.search(line):
        return True
    return len(line.strip()) <= 80 and len(line.split()) <= 10


def _looks_like_name(line: str) -> bool:
    s = line.strip()
    return 0 < len(s.split()) <= 4 and not _NOT_IN_A_NAME.search(s) and s[0].isupper()


def is_sign_off(line: str) -> bool:
    """Whether a line is a short sign-off ("Best regards,", "Mit freundlichen Grüßen")."""
    s = line.strip()
    if not s or not _SIGN_OFF.match(s):
        return False
    words = len(s.split())
    if s.endswith(","):
        return words <= 8
    return words <= 6 and not s.endswith("?")


def sign_off_at(lines: list[str]) -> int | None:
    """The last sign-off line followed only by a short block (name, title, phone...)."""
    found = None
    for i, line in enumerate(lines):
        if not is_sign_off(line):
            continue
        rest = [ln for ln in lines[i + 1 :] if ln.strip()]
        if len(rest) <= 7 and all(_is_short(ln) for ln in rest):
            found = i
    return found


def _cut_signature(lines: list[str]) -> list[str]:
    """Keep the sign-off line and the name under it; drop titles, phones and links below."""
    at = sign_off_at(lines)
    if at is None:
        return lines
    kept = lines[: at + 1]
    rest = lines[at + 1 :]
    if "," in lines[at].strip().rstrip(",") and _looks_like_name(
        lines[at].strip().rstrip(",").rsplit(",", 1)[1]
    ):
        return kept  # "Best, Tim": the name is on the sign-off line
    for j, line in enumerate(rest):
        if line.strip():
            if _looks_like_name(line):
                kept += rest[: j + 1]
            break
    return kept


def tidy(lines: list[str]) -> str:
    """Lines joined, trailing blanks gone, runs of blank lines cut to one."""
    text = "\n".join(ln.rstrip() for ln in lines).strip("\n")
    return _BLANK_LINES.sub("\n\n", text).strip()


def _start_at_greeting(lines: list[str], limit: int = 10) -> list[str]:
    seen = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if GREETING.match(line):
            return lines[i:]
        seen += 1
        if seen >= limit:
            break
    return lines


_BANNER = LazyPattern(
    r"^\s*(?:\[?\s*(?:EXTERNAL|EXT|EXTERNE|EXTERN|EXTERNO)\s*(?:E-?MAIL|SENDER)?\s*\]"
    r"(?:\s*.{0,200}(?:outside|extern|extérieur|externo|organi[sz]ation).*)?|"
    r"(?:CAUTION|WARNING|ATTENTION|ACHTUNG|PRECAUCIÓN)\s*:.{0,200}(?:outside|extern|extérieur|"
    r"externo|organi[sz]ation).*|"
    r"(?:This|Cet?) (?:e-?mail|message|courriel) (?:originated|was sent|provient) .{0,80}"
    r"(?:outside|extérieur|extern).*)\s*$",
    re.I,
)


def _drop_banners(lines: list[str]) -> list[str]:
    """'[EXTERNAL]' and 'CAUTION: this e-mail originated outside...' lines at the top."""
    filled = [i for i, ln in enumerate(lines) if ln.strip()][:3]
    drop = {i for i in filled if _BANNER.match(lines[i])}
    return [ln for i, ln in enumerate(lines) if i not in drop]


def message_lines(text: str) -> list[str]:
    """A message's own lines: unquoted, without history, footers and forward headers."""
    return list(_message_lines(text))


# a request's reader asks for the lines of the same forwarded text twice (its cleaned
# blurb, and the whole of it): the last few are kept
@lru_cache(maxsize=8)
def _message_lines(text: str) -> tuple[str, ...]:
    lines = _drop_banners(_unquote(split_lines(text)))
    lines = _strip_header_block(lines)
    lines = cut_history(lines)
    lines = [ln for ln in lines if not _QUOTE.match(ln)]
    return tuple(cut_footer(lines))


_CONTACT_LINE = LazyPattern(r"@|https?://|www\.|\||\+?\d[\d ().-]{6,}\d")


def _cut_name_block(lines: list[str], signer: str | None) -> list[str]:
    """A closing block with no sign-off above it: keep its name line, drop title and phone."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and lines[start - 1].strip():
        start -= 1
    block = lines[start:end]
    if len(block) < 2 or len(block) > 7 or start == 0 or not all(_is_short(ln) for ln in block):
        return lines
    if not _looks_like_name(block[0]):
        return lines
    signer_words = set(name_tokens(signer or ""))
    if (signer_words & set(name_tokens(block[0]))) or any(
        _CONTACT_LINE.search(ln) for ln in block[1:]
    ):
        return lines[: start + 1]
    return lines


def clean_message(text: str, *, notification: bool = False, signer: str | None = None) -> str:
    """The requester's own message: greeting to sign-off, without what mail clients add."""
    lines = message_lines(text)
    if notification:
        lines = [ln for ln in lines if not _SENT_YOU.match(ln)]
        lines = _start_at_greeting(lines)
    if sign_off_at(lines) is not None:
        lines = _cut_signature(lines)
    else:
        lines = _cut_name_block(lines, signer)
    return tidy(lines)
