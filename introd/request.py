"""Reading what a forwarded request asks for: who asks, whom, why, and the note to pass on.

Pure functions of text: nothing here touches the network, the disk or the clock,
and nothing raises on odd mail; the worst a strange message gets is an empty reading.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

from .contacts import TITLES, Contact, ContactBook, Mention, compact, company_key, fold, name_tokens
from .forward import nested_forward
from .model import Candidate, Forward, IntroRequest, Person

ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)

# --- the owner and the intro address -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Own:
    """The owner's addresses and the intro address; never a requester or a target."""

    addresses: frozenset[str]

    @classmethod
    def of(cls, owner_addresses: Iterable[str], intro_address: str | None) -> _Own:
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


# --- notification senders (LinkedIn and the like) ------------------------------------------

_NOTIFY_LOCAL = re.compile(
    r"^(?:no-?reply|do-?not-?reply|notifications?|notify|messages?-noreply|messaging|"
    r"inmail-hit-reply|hit-reply|invitations?|updates?|member|mailer)([-+._].*)?$",
    re.I,
)
_NOTIFY_DOMAINS = ("linkedin.com", "xing.com", "linkedin.example", "xing.example")
_SENT_YOU = re.compile(
    r"^\s*(?P<name>[^\n:]{2,60}?)\s+(?:"
    r"(?:has\s+)?sent\s+you\s+(?:a\s+|an\s+)?(?:new\s+)?(?:message|InMail|note)|"
    r"(?:hat\s+Ihnen|hat\s+dir)\s+(?:eine\s+)?(?:neue\s+)?Nachricht\s+(?:gesendet|geschickt)|"
    r"vous\s+a\s+envoy[ée]\s+un\s+(?:nouveau\s+)?message|"
    r"te\s+ha\s+enviado\s+un\s+(?:nuevo\s+)?mensaje|"
    r"le\s+ha\s+enviado\s+un\s+(?:nuevo\s+)?mensaje|"
    r"(?:is\s+)?waiting\s+for\s+your\s+response)",
    re.I | re.M,
)
_MESSAGE_FROM = re.compile(
    r"\b(?:new\s+)?(?:message|InMail|Nachricht|mensaje)\s+(?:from|von|de)\s+"
    r"(?P<name>[^\n,:;!?()<>@]{2,60}?)\s*(?=$|[\n,:;!?(]|\s+(?:on|auf|en|sur)\s+\w+\s*$)",
    re.I | re.M,
)
_SERVICE_NAME = re.compile(
    r"linkedin|xing|notification|no-?reply|messag|mailer|team\b|support", re.I
)
_VIA = re.compile(r"^(?P<name>.+?)\s*\(?\s*(?:via|über|par|vía)\s+(?:LinkedIn|Xing)\s*\)?$", re.I)


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

_HEADER_LABELS = (
    r"(?:From|Sent|Date|To|Cc|Subject|De|Envoy[ée]|Date|À|A|Cc|Objet|Sujet|Von|"
    r"Gesendet|Datum|An|Betreff|Enviado|Fecha|Para|Asunto|Da|Inviato|Oggetto)"
)
_HEADER_LINE = re.compile(rf"^\s*\**{_HEADER_LABELS}\s*\**\s*:", re.I)
_FROM_LINE = re.compile(r"^\s*\**(?:From|De|Von|Da|Van)\s*\**\s*:\s*\S", re.I)
_HISTORY = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:Original Message|Message d'origine|Ursprüngliche Nachricht|Mensaje original|"
    r"Forwarded message|Forwarded Message|Message transféré|Weitergeleitete Nachricht|"
    r"Mensaje reenviado|Messaggio inoltrato|Original-Nachricht)\s*-{2,}|"
    r"Begin forwarded message:|Début du message réexpédié\s*:|"
    r"Anfang der weitergeleiteten Nachricht:|Inicio del mensaje reenviado:|"
    r"(?:On|Le|Am|El|Il|Op)\s.{4,200}(?:wrote|a écrit|schrieb|escribió|ha scritto|schreef)\s*:"
    r")\s*$",
    re.I,
)
_WROTE_END = re.compile(r"(?:wrote|a écrit|schrieb|escribió|ha scritto|schreef)\s*:\s*$", re.I)
_WROTE_START = re.compile(r"^\s*(?:On|Le|Am|El|Il|Op)\s", re.I)
_RULE = re.compile(r"^\s*_{8,}\s*$")
_FOOTER = re.compile(
    r"^\s*(?:"
    r"(?:Reply|Antworten|Répondre|Responder|View message|Nachricht anzeigen)\s*:?\s*https?://|"
    r"This (?:e-?mail|message) was (?:intended|sent) for\b|"
    r"Learn why we included this|You (?:are|'re) receiving\b|"
    r"Unsubscribe\b|To unsubscribe\b|Se désabonner|Abmelden\b|Darse de baja|"
    r"©\s*\d{4}|.*\bLinkedIn Corporation\b|.*\bXING SE\b|"
    r"Sent from my \w+|Sent from (?:Outlook|Mail|Yahoo Mail)|Get Outlook for\b|"
    r"Envoyé de mon\b|Envoyé depuis\b|Von meinem .{1,40} gesendet|Enviado desde mi\b|"
    r"Sent with Proton Mail|"
    r"\[?(?:CONFIDENTIALITY|DISCLAIMER|CONFIDENTIAL|LEGAL NOTICE)\b.*|"
    r"This (?:e-?mail|message|communication)(?: and any (?:attachments?|files)[^.]{0,40})?"
    r"[^.]{0,40}(?:confidential|intended solely|intended only|privileged).*|"
    r"(?:Ce message|Ce courriel|Ce mail).{0,120}(?:confidentiel|destiné).*|"
    r"Diese (?:E-Mail|Nachricht).{0,120}(?:vertraulich|Informationen).*|"
    r"Este (?:mensaje|correo).{0,120}(?:confidencial|destinado).*|"
    r"-{10,}\s*$|={10,}\s*$|_{10,}\s*$"
    r")",
    re.I,
)
_SIG_DASHES = re.compile(r"^--\s*$")
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|greetings|"
    r"bonjour|bonsoir|salut|cher|chère|chers|hallo|liebe|lieber|sehr geehrte[rs]?|"
    r"guten (?:tag|morgen|abend)|moin|servus|hola|estimad[oa]s?|querid[oa]s?|"
    r"buenos días|buenas)\b",
    re.I,
)
_NAME_GREETING = re.compile(r"^\s*[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’-]+)?\s*[,:!]\s*$")
_SIGN_OFF = re.compile(
    r"^\s*[¡¿]?(?:(?:with\s+)?(?:best|kind|kindest|warm|warmest|many|all the best|regards|"
    r"best regards|kind regards|warm regards|sincerely|yours|respectfully|cheers|thanks|"
    r"thank you|thx|ta|talk soon|take care|cordially|gratefully|appreciatively)|"
    r"(?:bien )?cordialement|bien à (?:vous|toi)|amicalement|amitiés|merci|"
    r"sincères salutations|salutations|bonne journée|très cordialement|"
    r"(?:mit )?(?:freundlich|best|herzlich|viel|lieb|schön|sonnig)\w*\s+gr(?:ü|ue)(?:ß|ss)\w*|"
    r"gruß|grüße|danke|vielen dank|herzlich|lg|mfg|"
    r"saludos|un saludo|atentamente|cordialmente|gracias|muchas gracias|un abrazo|"
    r"abrazos|besos)\b",
    re.I,
)
_QUOTE = re.compile(r"^\s*>")


def _lines(text: str) -> list[str]:
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
    if _RULE.match(line) or _FROM_LINE.match(line):
        following = [ln for ln in lines[i + 1 : i + 6] if ln.strip()]
        if _RULE.match(line):
            return bool(following) and bool(_HEADER_LINE.match(following[0]))
        return sum(1 for ln in following[:4] if _HEADER_LINE.match(ln)) >= 1
    return False


def _cut_history(lines: list[str]) -> list[str]:
    for i in range(len(lines)):
        if _history_at(lines, i):
            return lines[:i]
    return lines


def _cut_footer(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if i > 0 and (_FOOTER.match(line) or _SIG_DASHES.match(line)):
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


def _is_short(line: str) -> bool:
    return len(line.strip()) <= 80 and len(line.split()) <= 10


def _looks_like_name(line: str) -> bool:
    s = line.strip()
    return 0 < len(s.split()) <= 4 and not re.search(r"[\d@|/]|https?:|www\.", s) and s[0].isupper()


def _is_sign_off(line: str) -> bool:
    s = line.strip()
    if not s or not _SIGN_OFF.match(s):
        return False
    words = len(s.split())
    if s.endswith(","):
        return words <= 8
    return words <= 6 and not s.endswith("?")


def _sign_off_at(lines: list[str]) -> int | None:
    """The last sign-off line followed only by a short block (name, title, phone...)."""
    found = None
    for i, line in enumerate(lines):
        if not _is_sign_off(line):
            continue
        rest = [ln for ln in lines[i + 1 :] if ln.strip()]
        if len(rest) <= 7 and all(_is_short(ln) for ln in rest):
            found = i
    return found


def _cut_signature(lines: list[str]) -> list[str]:
    """Keep the sign-off line and the name under it; drop titles, phones and links below."""
    at = _sign_off_at(lines)
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


def _tidy(lines: list[str]) -> str:
    text = "\n".join(ln.rstrip() for ln in lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _start_at_greeting(lines: list[str], limit: int = 10) -> list[str]:
    seen = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if _GREETING.match(line):
            return lines[i:]
        seen += 1
        if seen >= limit:
            break
    return lines


_BANNER = re.compile(
    r"^\s*(?:\[?\s*(?:EXTERNAL|EXT|EXTERNE|EXTERN|EXTERNO)\s*(?:E-?MAIL|SENDER)?\s*\]|"
    r"(?:CAUTION|WARNING|ATTENTION|ACHTUNG|PRECAUCIÓN)\s*:.{0,200}(?:outside|extern|extérieur|"
    r"externo|organi[sz]ation).*)\s*$",
    re.I,
)


def _drop_banners(lines: list[str]) -> list[str]:
    """'[EXTERNAL]' and 'CAUTION: this e-mail originated outside...' lines at the top."""
    filled = [i for i, ln in enumerate(lines) if ln.strip()][:3]
    drop = {i for i in filled if _BANNER.match(lines[i])}
    return [ln for i, ln in enumerate(lines) if i not in drop]


def message_lines(text: str) -> list[str]:
    """A message's own lines: unquoted, without history, footers and forward headers."""
    lines = _drop_banners(_unquote(_lines(text)))
    lines = _strip_header_block(lines)
    lines = _cut_history(lines)
    lines = [ln for ln in lines if not _QUOTE.match(ln)]
    return _cut_footer(lines)


_CONTACT_LINE = re.compile(r"@|https?://|www\.|\||\+?\d[\d ().-]{6,}\d")


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
    if _sign_off_at(lines) is not None:
        lines = _cut_signature(lines)
    else:
        lines = _cut_name_block(lines, signer)
    return _tidy(lines)


# --- sentences -----------------------------------------------------------------------------

_ABBREV = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Sr|Sra|Jr|Inc|Ltd|Co|Corp|No|Nr|vs|etc|approx|Dept|Univ|"
    r"Mme|Mlle|M|Hr|Fr|bzw|ca|z\.B|u\.a|e\.g|i\.e|Ph\.D|PhD|[A-Z])\.)$"
)
# after "Inc." or "etc." these words start a new sentence
_SENTENCE_STARTERS = re.compile(
    r"\s+(?:I|We|He|She|They|It|My|Our|His|Her|Their|This|That|Would|Could|Can|Do|Please|"
    r"Thanks|Thank|Also|As|If|So|But|And|Je|Nous|Il|Elle|Ich|Wir|Er|Sie|Yo|Nosotros|Él|Ella)\b"
)
_COMPANY_ABBREV = re.compile(r"\b(?:Inc|Ltd|Co|Corp|etc|approx|PhD|Ph\.D)\.$")


def sentences(text: str) -> list[tuple[int, str]]:
    """Sentences with their paragraph number; wrapped lines joined, abbreviations kept."""
    out: list[tuple[int, str]] = []
    paragraphs = re.split(r"\n\s*\n", text or "")
    for p_index, para in enumerate(paragraphs):
        flat = " ".join(ln.strip() for ln in para.split("\n") if ln.strip())
        start = 0
        for m in re.finditer(r"[.!?…]+[\"'”’)]*(?=\s+|$)", flat):
            end = m.end()
            piece = flat[start:end]
            if (
                m.group().startswith(".")
                and _ABBREV.search(flat[: m.start() + 1])
                and not (
                    _COMPANY_ABBREV.search(flat[: m.start() + 1])
                    and _SENTENCE_STARTERS.match(flat, end)
                )
            ):
                continue
            if piece.strip():
                out.append((p_index, piece.strip()))
            start = end
        tail = flat[start:].strip()
        if tail:
            out.append((p_index, tail))
    return out


# --- what the requester asks for -----------------------------------------------------------

_CUES = [
    re.compile(p, re.I)
    for p in (
        # English
        r"\b(?:refer(?:ring)?|introduc(?:e|ing)|intro|recommend(?:ing)?|present(?:ing)?|"
        r"mention(?:ing)?)\s+(?:me|us|myself|ourselves|him|her|them)\s+to\b",
        r"\b(?:introduction|intro|referral|introductions)\s+(?:to|with)\b",
        r"\b(?:put(?:ting)?|get(?:ting)?)\s+(?:me|us|him|her|them)\s+in\s+(?:touch|contact)\s+with\b",
        r"\b(?:connect(?:ing)?|link(?:ing)?)\s+(?:me|us|him|her|them)\s+(?:up\s+)?(?:with|to)\b",
        r"(?<!look )(?<!looks )(?<!looking )(?<!Look )(?<!Looking )\bforward(?:ing)?\b"
        r"[^.?!\n]{0,60}?\bto\b",
        r"\bpass(?:ing)?\b[^.?!\n]{0,60}?\b(?:along|on)\s+to\b",
        r"\bget\s+in\s+front\s+of\b",
        r"\bintroduce\s+(?:me|us)\s+and\b",
        r"\bintroduction\s+between\s+(?:me|us)\s+and\b",
        r"\b(?:be|get|being|getting)\s+introduced\s+to\b",
        # "Is Dr. Helen Achebe someone you could introduce me to?": the name comes first
        r"\b(?:is|would|could|might)\s+(?=(?-i:(?:(?:Dr|Prof|Mr|Mrs|Ms)\.?\s+)?[A-ZÀ-Ý][\w'’-]+"
        r"(?:\s+[A-ZÀ-Ý][\w'’-]+){0,3})\s+(?:be\s+)?(?:someone|somebody|a\s+person|"
        r"the\s+(?:right\s+)?person)\s+(?:that\s+|whom\s+)?you\b)",
        r"\b[êe]tre\s+pr[ée]sent[ée]e?s?\s+(?:à|a|au)\b",
        r"\bser\s+presentad[oa]s?\s+(?:a|al)\b",
        # French
        r"\b(?:me|nous)\s+pr[ée]senter(?:\s+(?:à|a|au|aux)\b|(?=\s+[A-ZÀ-Ý]))",
        r"\b(?:mettre|faire\s+entrer)\s+en\s+(?:relation|contact)\s+avec\b",
        r"\b(?:introduction|recommandation|pr[ée]sentation)\s+auprès\s+d[eu]\b",
        r"\bmise\s+en\s+(?:relation|contact)\s+avec\b",
        r"\bpr[ée]sentation\s+(?:à|avec)\b",
        r"\bme\s+recommander\s+(?:à|auprès\s+de)\b",
        r"\btransmettre\b[^.?!\n]{0,60}?\b(?:à|a)\b",
        # German
        r"\bmich\s+(?:bitte\s+|gern\s+|einmal\s+)?mit\b",
        r"\b(?:mich|mir|uns)\s+(?:bitte\s+)?(?:an\s+|bei\s+)?(?=(?:Herrn?|Frau|Dr\.?|Prof\.?)\s)",
        r"\buns\s+(?:bitte\s+)?mit\b",
        r"\bKontakt\s+(?:zu|mit)\b",
        r"\bVorstellung\s+bei\b",
        r"\bweiterleiten\s+an\b|\ban\b(?=[^.?!\n]{0,60}\bweiterleiten\b)",
        # Spanish
        r"\bpresentar(?:me|nos)?\s+(?:a|al|con|ante)\b",
        r"\bponer(?:me|nos)?\s+en\s+contacto\s+con\b",
        r"\b(?:contactarme|conectarme|comunicarme)\s+con\b",
        r"\bpresentaci[óo]n\s+(?:a|con)\b",
        r"\brecomendarme\s+(?:a|con|ante)\b",
        r"\breenviar\b[^.?!\n]{0,60}?\ba\b",
    )
]

# Weaker phrases, tried only when none of the above names anybody.
_WEAK_CUES = [
    re.compile(p, re.I)
    for p in (
        r"\b(?:meet(?:ing)?|speak(?:ing)?\s+(?:with|to)|talk(?:ing)?\s+(?:with|to)|"
        r"chat(?:ting)?\s+with|connect(?:ing)?\s+with|get\s+in\s+touch\s+with|"
        r"reach(?:ing)?\s+out\s+to|contact(?:ing)?|(?:do|would|did)\s+you\s+(?:happen\s+to\s+)?know)\b",
        r"\b(?:connaissez-vous|connais-tu|conna[iî]triez-vous|conna[iî]trais-tu|rencontrer|contacter|[ée]changer\s+avec|parler\s+(?:à|a|avec)|"
        r"entrer\s+en\s+(?:contact|relation)\s+avec)\b",
        r"\b(?:kennen\s+Sie|kennst\s+du|sprechen\s+mit|Kontakt\s+aufnehmen\s+mit|kennenlernen:?)\b",
        r"\b(?:conoces\s+a|conocerías\s+a|conoce\s+usted\s+a|conocer\s+a|hablar\s+con|contactar\s+(?:a|con)|conversar\s+con)\b",
    )
]

_BLANKET = re.compile(
    r"^[\s,:]*(?:(?:any|some|a\s+few|several|all|one|few|many|two|three)\b|"
    r"(?:anyone|anybody|someone|somebody|people|whoever|whomever|everyone|others|folks)\b|"
    r"(?:the\s+(?:right|best|relevant|appropriate)\s+(?:person|people|contact))|"
    r"(?:your|their|his|her)\s+(?:\d+\s+)?(?:contacts|network|connections|colleagues|friends|"
    r"linkedin|hiring|team|people)|"
    r"(?:quelqu|des\s+personnes|des\s+contacts|vos\s+contacts|tes\s+contacts|certains|certaines|"
    r"plusieurs|votre\s+réseau|ton\s+réseau|n'importe)|"
    r"(?:jemand|jemandem|einigen|ihren\s+kontakten|deinen\s+kontakten|ihrem\s+netzwerk|"
    r"deinem\s+netzwerk|leuten|personen)|"
    r"(?:alguien|algunos|algunas|alguno|alguna|tus\s+contactos|sus\s+contactos|cualquier|"
    r"personas|gente|tu\s+red|su\s+red))",
    re.I,
)
_BLANKET_ANYWHERE = re.compile(
    r"\b(?:any of your|anyone (?:you know|in|at|from|who)|someone (?:in|at|from|who)|"
    r"whoever you|your (?:\d+ )?(?:linkedin )?(?:contacts|network|connections)|"
    r"quelqu'un|vos contacts|jemanden|Ihren Kontakten|alguien|algunos de tus contactos|"
    r"tus contactos|cualquier contacto)\b",
    re.I,
)

_CONNECTORS = frozenset(
    """
    at from of with in chez de du des von vom der bei en del la le the @ für para pour who qui
    """.split()
)
_PARTICLES = frozenset(
    """
    van von de der da di del le la du ten ter bin al el dos das y
    """.split()
)
_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*|[&@]|[^\w\s]")
_NOT_NAMES = frozenset(
    """
    i we you he she they it my your his her their our ich sie wir ihr ihre ihrem ihren je
    nous vous yo usted el ella the a an this that these those mr mrs ms dr
    """.split()
)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Named:
    """A person named in a text: as written, with the company written near them."""

    name: str
    company: str | None = None
    mention: Mention | None = None


_ARTICLES = frozenset("le la l the el der die den dem lo".split())


def _strip_possessive(word: str) -> str:
    return re.sub(r"['’]s$", "", word)


def leading_name(text: str) -> tuple[str, str | None] | None:
    """A person's name (and company) at the start of text: 'Dr. Rachel Okafor at Novalis'."""
    tokens = [m.group() for m in _TOKEN.finditer(text[:200])]
    i = 0
    # skip a pronoun-free article or a possessive before a title: "your colleague Dr. X" is rare
    words: list[str] = []
    titled = False
    if (
        len(tokens) > 1
        and fold(tokens[0]) in _ARTICLES
        and (tokens[1][:1].isupper() or fold(tokens[1]).rstrip(".") in TITLES)
    ):
        i = 1  # "le Dr Patrice Lemaire", "the Dr. Quintero", "al Sr. Torres"
    while i < len(tokens) and fold(tokens[i]).rstrip(".") in TITLES and tokens[i][0].isupper():
        words.append(tokens[i])
        titled = True
        i += 1
    capitals = 0
    while i < len(tokens):
        tok = tokens[i]
        bare = tok.rstrip(".")
        low = fold(bare)
        if bare and bare[0].isupper() and low not in _NOT_NAMES and not tok.endswith(("'s", "’s")):
            words.append(tok)
            capitals += 1
            i += 1
            if tok.endswith(".") and len(bare) > 1:
                break
            continue
        if tok == "&" or (tok.endswith(("'s", "’s")) and bare[:1].isupper()):
            return None  # "Meridian's BD team", "Pfizer Global R&D": a company, not a person
        if low in _PARTICLES and capitals and i + 1 < len(tokens) and tokens[i + 1][:1].isupper():
            words.append(tok)
            i += 1
            continue
        break
    if capitals == 0:
        return None
    name = " ".join(words).strip(" .,")
    # a company after a connector: "at Novalis Therapeutics", ", associé chez Midwest BioVentures"
    company = None
    j, skipped = i, 0
    if i < len(tokens) and tokens[i] in (",", "(", "-", "–", "—", "|", "/"):
        after: list[str] = []
        k = i + 1
        while k < len(tokens) and (tokens[k][:1].isupper() or tokens[k] == "&"):
            after.append(tokens[k])
            k += 1
        if after and fold(after[0]).rstrip(".") not in TITLES:
            words_after = name_tokens(" ".join(after))
            if words_after and not (set(words_after) & {"i", "we", "she", "he", "they"}):
                company = " ".join(after).rstrip(".,")
    while company is None and j < len(tokens) and skipped < 6:
        tok = tokens[j]
        if tok in "?!;()" or (tok == "." and j > i):
            break
        if fold(tok) in _CONNECTORS and j + 1 < len(tokens):
            k = j + 1
            while k < len(tokens) and fold(tokens[k]) in _CONNECTORS:
                k += 1
            parts: list[str] = []
            while k < len(tokens) and (
                tokens[k][:1].isupper()
                or tokens[k] == "&"
                or (parts and fold(tokens[k]) in ("of", "de", "and"))
            ):
                parts.append(tokens[k])
                k += 1
            while parts and fold(parts[-1]) in ("of", "de", "and", "&"):
                parts.pop()
            if parts:
                company = " ".join(parts).rstrip(".,")
                break
        j += 1
        skipped += 1
    if capitals < 2 and not titled and company is None:
        return None  # one capitalised word alone is not enough to name a person
    return name, company


def _sentence_end(text: str, start: int) -> int:
    m = re.compile(r"[?!;\n]|\.(?:\s|$)").search(text, start)
    end = m.start() if m else len(text)
    # a title's dot is not the end: "Mr. Jones"
    while (
        m
        and m.group().startswith(".")
        and _ABBREV.search(text[max(0, m.start() - 6) : m.start() + 1])
    ):
        m = re.compile(r"[?!;\n]|\.(?:\s|$)").search(text, m.end())
        end = m.start() if m else len(text)
    return end


@dataclass(frozen=True, slots=True, kw_only=True)
class _Ask:
    """What a text asks for: a named person, a blanket 'anyone', or nothing."""

    named: _Named | None = None
    blanket: bool = False
    cue_span: tuple[int, int] | None = None
    # an asking phrase was found whose object is neither a name nor a pronoun
    # ("introduce me to a hiring manager there")
    unnamed: bool = False
    # the asking phrase itself points at nobody in particular ("introduce me to anyone in ..."),
    # not just a blanket word somewhere else in the text
    blanket_ask: bool = False


def find_ask(text: str, contacts: ContactBook, skip: Collection[str] = ()) -> _Ask:
    """The person the writer asks to meet ('introduce me to Dr. Anja Becker'), or a blanket ask."""
    blanket = False
    mentions = [
        m
        for m in contacts.mentions(text)
        if not any(c.email and c.email.lower() in skip for c in m.contacts)
    ]
    strong = sorted(
        ((m.start(), m.end()) for cue in _CUES for m in cue.finditer(text)),
        key=lambda h: (h[0], -h[1]),
    )
    weak = sorted(
        ((m.start(), m.end()) for cue in _WEAK_CUES for m in cue.finditer(text)),
        key=lambda h: (h[0], -h[1]),
    )
    unnamed = False
    for start, end in strong + weak:
        stop = _sentence_end(text, end)
        rest = text[end:stop]
        if _BLANKET.match(rest):
            blanket = True
            continue
        strong_hit = (start, end) in strong
        mention = next(
            (
                m
                for m in mentions
                if end <= m.span[0] <= end + 40 and _only_filler(text[end : m.span[0]])
            ),
            None,
        )
        if mention is None:
            # "presentar al CTO de Kitsune Robotics, William Tanaka": a role, then the name
            mention = next(
                (
                    m
                    for m in mentions
                    if end <= m.span[0] <= min(stop, end + 90)
                    and _appositive(text[end : m.span[0]], m)
                ),
                None,
            )
        if mention is not None:
            return _Ask(
                named=_Named(
                    name=mention.text,
                    company=mention.company,
                    mention=mention,
                ),
                cue_span=(start, stop),
            )
        lead = leading_name(rest)
        if lead is not None and _is_company(lead[0], contacts):
            blanket = True  # "introduce me to Meridian Pharma": a company, nobody in it
            continue
        if lead is not None:
            return _Ask(named=_Named(name=lead[0], company=lead[1]), cue_span=(start, stop))
        if strong_hit and rest.strip() and not _PRONOUN.match(rest):
            unnamed = True
    return _Ask(
        blanket=blanket or bool(_BLANKET_ANYWHERE.search(text)),
        unnamed=unnamed,
        blanket_ask=blanket,
    )


_PRONOUN = re.compile(
    r"^[\s,:]*(?:her|him|them|she|he|it|this|these|lui|elle|eux|leur|ihr|ihm|ihnen|sie|él|"
    r"ella|ellos|le|la|les)\b",
    re.I,
)


_ORG_WORDS = frozenset(
    """
    inc llc ltd gmbh ag sa sas corp corporation company co group pharma pharmaceuticals
    biotech biosciences therapeutics labs laboratories laboratoires university universite
    universitat universidad institute institut instituto partners capital ventures
    consulting solutions systems technologies industries holdings foundation team department
    hospital clinic school college center centre bank global international worldwide
    division unit office meeting conference congress summit forum
    """.split()
)


def _is_company(name: str, contacts: ContactBook) -> bool:
    words = name_tokens(name)
    return bool(set(words) & _ORG_WORDS) or contacts.knows_company(name)


_ROLE = re.compile(
    r"\b(?:ceo|cto|cfo|coo|cso|cmo|founder|co-?founder|head|director|directeur|directrice|"
    r"directora|leiter|leiterin|chef|cheffe|jefe|jefa|partner|vp|president|présidente?|"
    r"presidenta?|manager|gerente|responsable|fondateur|fondatrice|fundador|fundadora|"
    r"gründer|gründerin|geschäftsführer|geschäftsführerin)\b",
    re.I,
)


def _appositive(between: str, mention: Mention) -> bool:
    """Words naming the person's role or company, then a comma, before the name."""
    if not between.rstrip().endswith(",") or len(between) > 90:
        return False
    flat = compact(between)
    return bool(_ROLE.search(between)) or any(
        company_key(c.company) and company_key(c.company) in flat for c in mention.contacts
    )


def _only_filler(between: str) -> bool:
    """Words between a cue and a name that do not change whom it names."""
    words = re.findall(r"[^\W\d_]+", fold(between))
    filler = {
        "please",
        "bitte",
        "the",
        "your",
        "friend",
        "colleague",
        "contact",
        "connection",
        "kindly",
        "gern",
        "gerne",
        "einmal",
        "mit",
        "a",
        "votre",
        "ton",
        "tu",
        "su",
        "el",
        "la",
        "le",
        "der",
        "die",
        "dem",
        "ihrem",
        "ihrer",
        "mr",
        "ms",
        "dr",
        "s",
    }
    return len(words) <= 3 and all(w in filler for w in words)


# --- the owner's note ----------------------------------------------------------------------

_NOTE_LABEL = re.compile(
    r"^\s*(?:intro|introduce|introduction|target|for|pour|für|para|cible|ziel|an|à)\s*:\s*(?P<spec>.+)$",
    re.I,
)
_ARROW = re.compile(r"\s*(?:→|->|=>|⇒|➔|➜|➡|-->|—>|>>)\s*")
_SPEC = re.compile(
    r"^\s*(?P<name>[^<>\[\]()\n]*?)\s*[<\[(]\s*(?:mailto:)?(?P<addr>[^<>\[\]()\s]+@[^<>\[\]()\s]+)"
    r"\s*[>\])]\s*[.,;]?\s*$"
)
_EMBEDDED_SPEC = re.compile(
    r"(?P<name>(?:[^\W\d_][\w'’.-]*[ \t]+){0,4}?)[<\[(](?:mailto:)?"
    r"(?P<addr>[^<>\[\]()\s@]+@[^<>\[\]()\s]+)[>\])]"
)
_PHONE = re.compile(r"^[\s+()\d./-]{7,}$|(?:tel|phone|mobile|fax|cell)\b", re.I)


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
    lines = _lines(note)
    for i, line in enumerate(lines):
        if _SIG_DASHES.match(line) or _FOOTER.match(line):
            lines = lines[:i]
            break
    at = _sign_off_at(lines)
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
        for m in _EMBEDDED_SPEC.finditer(s):
            # "Please loop in Liz Harrow <liz@harrowcap.example> on this one."
            words = (m.group("name") or "").split()
            while words and not words[0][:1].isupper():
                words.pop(0)
            loose.append((" ".join(words) or None, m.group("addr").strip(".,;"), None))
        label = _NOTE_LABEL.match(s)
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
    people = _distinct(found)
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


def _distinct(found: Iterable[Contact]) -> list[Contact]:
    out: list[Contact] = []
    for c in found:
        if c not in out:
            out.append(c)
    return out


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
    return _from_contacts(name, found, hint)


def _from_named(named: _Named, *, contacts: ContactBook, own: _Own, hint: str) -> _Resolved:
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
        via = _VIA.match(sender.name)
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
    elif sender is not None and sender.name and not _SERVICE_NAME.search(sender.name):
        name = sender.name
    if not name:
        return None, notification
    found = _distinct(contacts.match(name))
    if len(found) == 1:
        return Person(name=found[0].name, email=found[0].email), notification
    return Person(name=_clean_name(name), email=None), notification


# --- the reason ----------------------------------------------------------------------------

_REASON_CUES = re.compile(
    r"\b(?:because|since|so that|in order to|to learn|to ask|to understand|to discuss|"
    r"to explore|to hear|to get (?:her|his|their|your) (?:advice|perspective|view)|"
    r"to follow up|to talk|to find out|to compare|to see whether|to see if|"
    r"I would like|I'd like|we would like|we'd like|I would love|I'd love|we would love|"
    r"I would value|I'd value|I would appreciate (?:his|her|their)|I want to|we want to|"
    r"wants? to|would like to|hoping to|I hope to|we hope to|keen to|eager to|"
    r"I am looking for|I'm looking for|we are looking for|we're looking for|looking to|"
    r"I am trying to|I'm trying to|we are trying to|applied|applying|apply for|"
    r"interested in|interest in|curious|advice|insights?|guidance|feedback|the reason|"
    r"my goal|our goal|my aim|our aim|the goal|purpose|I need|we need|need to|"
    r"mon objectif|notre objectif|dans le but|je cherche|nous cherchons|conseils?|"
    r"mein Ziel|unser Ziel|ich suche|wir suchen|Rat\b|planen|plane|Kooperation|Zusammenarbeit|"
    r"I want|we want|opinion|thoughts on|"
    r"mi objetivo|nuestro objetivo|busco|buscamos|estoy buscando|quiero|queremos|consejo|"
    r"evaluating|exploring|considering|planning to|we plan|I plan|"
    r"afin de|pour (?:lui|leur|en|mieux|comprendre|discuter|parler|savoir|conna[iî]tre|"
    r"apprendre|échanger|demander)|parce que|car |j'aimerais|je souhaite|je souhaiterais|"
    r"je voudrais|nous voudrions|nous souhaitons|j'aimerai|intéress\w+|comprendre|"
    r"um\s[^.?!]{1,80}\szu\s\w+|weil|da ich|da wir|ich möchte|wir möchten|ich würde gern|"
    r"würde gerne?|würden gerne?|interessiert|Interesse|beworben|bewerbe|erfahren|"
    r"para (?:\w+(?:ar|er|ir)(?:le|la|les|me|nos|lo)?)\b|porque|me gustaría|nos gustaría|"
    r"me encantaría|quisiera|quisiéramos|me interesa|nos interesa|interesad\w+|"
    r"aprender|conversar|colaborar|interview\w*|entrevista\w*|Vorstellungsgespräch\w*|"
    r"entretien)\b",
    re.I,
)
_STRONG_CUES = re.compile(
    r"\b(?:because|since|so that|in order to|to learn|to ask|to understand|to discuss|"
    r"to explore|afin de|parce que|pour (?:lui|comprendre|discuter|apprendre)|"
    r"um\s[^.?!]{1,80}\szu\s\w+|weil|porque|para (?:\w+(?:ar|er|ir))\b)",
    re.I,
)
_THANKS = re.compile(
    r"^\s*[¡¿]?(?:thanks|thank you|thx|many thanks|merci|danke|vielen dank|gracias|muchas "
    r"gracias|cheers|best|regards)\b",
    re.I,
)


_GREETING_PREFIX = re.compile(
    r"^(?:hi|hello|hey|dear|bonjour|hallo|hola|liebe|lieber|cher|chère)\s+[^\W\d_][\w'’-]*"
    r"\s*[,:!\-–—]\s*(?=\w)",
    re.I,
)


def find_reason(
    text: str,
    *,
    ask_span: tuple[int, int] | None = None,
    min_words: int = 5,
    third_person: bool = False,
) -> str | None:
    """The writer's stated purpose: one or two sentences of text; None when none is given.

    Phrases that announce a purpose come first; failing them, a plain statement of what the
    writer does or plans ("We are sourcing cathode precursors ...") is the why. An owner's
    note speaks of the requester in the third person: ``third_person`` lets it count.
    """
    parts = sentences(text)
    if not parts:
        return None
    ask_text = text[ask_span[0] : ask_span[1]] if ask_span else ""
    ask_at = None
    if ask_text:
        key = compact(ask_text)[:40]
        for i, (_, s) in enumerate(parts):
            if key and key in compact(s):
                ask_at = i
                break
    scored: list[tuple[int, int]] = []  # (priority, index)
    for i, (_, s) in enumerate(parts):
        if _GREETING.match(s) and len(s.split()) <= 6:
            continue
        if _THANKS.match(s) and not _STRONG_CUES.search(s):
            continue
        if _is_sign_off(s) or len(s.split()) < 3:
            continue
        if i == ask_at or any(c.search(s) for c in _CUES):
            tail = s
            for c in _CUES:
                m = c.search(s)
                if m:
                    tail = s[m.end() :]
                    break
            if not _STRONG_CUES.search(tail):
                continue
            scored.append((1, i))
            continue
        if not _REASON_CUES.search(s):
            continue
        if ask_at is not None and i > ask_at:
            scored.append((0, i))
        else:
            scored.append((2, i))
    if not scored:
        follow = _following_sentence(parts, ask_at)
        if follow is None:
            follow = _statement(parts, ask_at, third_person=third_person)
        if follow is None:
            return None
        scored.append((3, follow))
    scored.sort()
    chosen = [scored[0][1]]
    if len(scored) > 1:
        total = len(parts[scored[0][1]][1].split()) + len(parts[scored[1][1]][1].split())
        if total <= 70:
            chosen.append(scored[1][1])
    reason = " ".join(_GREETING_PREFIX.sub("", parts[i][1]) for i in sorted(chosen))
    if len(reason.split()) < max(min_words, 1):
        return None
    return reason


_PLEASANTRY = re.compile(
    r"\b(?:appreciate|grateful|let me know|happy to|thank|thanks|favou?r|if (?:that|this|it) "
    r"works|no worries|no pressure|no rush|whenever|convenience|looking forward|hear from you|"
    r"have a (?:great|nice|good)|hope|cv|resume|résumé|attached|merci|danke|gracias|"
    r"n'hésitez|gerne|encantad)",
    re.I,
)
_FIRST_PERSON = re.compile(
    r"\b(?:I|I'm|I've|we|we're|we've|my|our|his|her|their|je|j'|nous|notre|mon|ma|ich|wir|"
    r"mein|meine|unser|unsere|yo|nosotros|mi|mis|nuestro|nuestra|su|sus)\b",
    re.I,
)


# How the writer knows the owner's contact, or small talk: context, not a reason.
_ACQUAINTANCE = re.compile(
    r"\b(?:you (?:know|knew|are connected|'re connected|worked|met|mentioned)|connected (?:with|to)|"
    r"we met|I met|(?:saw|see|noticed|notice) (?:that )?you|on linkedin|hope (?:you|this|all)|"
    r"how are you|long time|vous connaissez|tu connais|du kennst|Sie kennen|conoces|conoce usted)\b",
    re.I,
)
_SOMEONE_ACTS = re.compile(
    r"\b(?:us|uns|nos|nous|nosotros|nosotras|estamos|somos|tenemos|queremos|buscamos|trabajamos)\b",
    re.I,
)


def _statement(parts: list[tuple[int, str]], ask_at: int | None, *,
               third_person: bool = False) -> int | None:
    """A sentence stating what the writer does or plans, when no purpose phrase gives the why."""
    for i, (_, s) in enumerate(parts):
        if i == ask_at or s.rstrip().endswith("?") or len(s.split()) < 8:
            continue
        if _GREETING.match(s) or _THANKS.match(s) or _is_sign_off(s):
            continue
        if _PLEASANTRY.search(s) or _ACQUAINTANCE.search(s) or any(c.search(s) for c in _CUES):
            continue
        if third_person or _FIRST_PERSON.search(s) or _SOMEONE_ACTS.search(s):
            return i
    return None


def _following_sentence(parts: list[tuple[int, str]], ask_at: int | None) -> int | None:
    """The sentence right after the ask, when it reads as the why ("His group is hiring...")."""
    if ask_at is None:
        ask_at = next(
            (i for i, (_, s) in enumerate(parts) if any(c.search(s) for c in _CUES)), None
        )
    if ask_at is None or ask_at + 1 >= len(parts):
        return None
    paragraph, sentence = parts[ask_at + 1]
    if paragraph != parts[ask_at][0] or sentence.rstrip().endswith("?"):
        return None
    if len(sentence.split()) < 7 or _PLEASANTRY.search(sentence) or _is_sign_off(sentence):
        return None
    return ask_at + 1 if _FIRST_PERSON.search(sentence) else None


# --- the whole request ---------------------------------------------------------------------


def _without_greeting_and_sign_off(lines: list[str]) -> list[str]:
    lines = list(lines)
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    if (
        filled
        and (_GREETING.match(lines[filled[0]]) or _NAME_GREETING.match(lines[filled[0]]))
        and len(lines[filled[0]].split()) <= 4
    ):
        lines = lines[filled[0] + 1 :]
    at = _sign_off_at(lines)
    if at is not None:
        lines = lines[:at]
    return lines


def _emails_of(*people: Person | None) -> set[str]:
    return {p.email.lower() for p in people if p is not None and p.email}


def _note_target(
    lines: list[str], *, contacts: ContactBook, own: _Own, requester: Person | None, hint: str
) -> _Resolved | None:
    """The target the owner names above the forward, if she names one."""
    skip = _emails_of(requester)
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
    texts: list[str], *, contacts: ContactBook, own: _Own, requester: Person | None
) -> tuple[_Resolved | None, tuple[int, int] | None]:
    """The target the requester names in their own words (then the subject), if any."""
    skip = _emails_of(requester)
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


def _innermost_request(forward: Forward, *, contacts: ContactBook, own: _Own) -> Forward:
    """Go down a forward of a forward when only the message below it asks for somebody.

    A colleague who passes a request on ("this is Ines, she is terrific - could you help
    her?") is not the requester; the person whose own message names a target is.
    """
    for _ in range(MAX_NESTED):
        inner = nested_forward(forward)
        if inner is None or inner.sender is None or (inner.sender.email or "") in own:
            break
        outer_words = clean_message(inner.note)
        if find_ask(outer_words, contacts).named is not None:
            break
        if find_ask(clean_message(inner.body), contacts).named is None:
            break
        forward = replace(inner, note=forward.note)
    return forward


MAX_NESTED = 5


def _read_forward(
    forward: Forward,
    subject: str,
    *,
    own: _Own,
    owner_name: str | None,
    contacts: ContactBook,
    min_reason_words: int,
) -> IntroRequest:
    forward = _innermost_request(forward, contacts=contacts, own=own)
    requester, notification = find_requester(forward, subject, contacts=contacts, own=own)
    blurb = clean_message(
        forward.body, notification=notification, signer=requester.name if requester else None
    )
    whole = "\n".join(message_lines(forward.body))
    note = note_lines(forward.note, own, owner_name)
    hint = "\n".join((blurb, forward.subject, subject))
    resolved = _note_target(note, contacts=contacts, own=own, requester=requester, hint=hint)
    texts = [blurb, whole, forward.subject or subject]
    # read even when the note names the target: the ask's place helps find the reason
    found, ask_span = _text_target(texts, contacts=contacts, own=own, requester=requester)
    if resolved is None:
        resolved = found
    reason_text = "\n".join(_without_greeting_and_sign_off(_lines(blurb)))
    if ask_span is not None:
        cue = blurb[ask_span[0] : ask_span[1]]
        at = reason_text.find(cue)
        ask_span = (at, at + len(cue)) if at >= 0 else None
    reason = find_reason(reason_text, ask_span=ask_span, min_words=min_reason_words)
    return IntroRequest(
        requester=requester,
        target=resolved.person if resolved else None,
        reason=reason,
        blurb=blurb,
        subject=forward.subject or subject,
        candidates=resolved.candidates if resolved else (),
        owner_note=_tidy(_lines(forward.note)),
    )


_TWO_PEOPLE = re.compile(
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


def _note_people(text: str, *, contacts: ContactBook, own: _Own) -> list[tuple[int, _Resolved]]:
    """People named in an owner's note, in order: addresses, 'Name <addr>', contact names."""
    found: list[tuple[int, int, _Resolved]] = []

    def taken(start: int, end: int) -> bool:
        return any(not (end <= s or start >= e) for s, e, _ in found)

    spec_re = re.compile(
        r"(?:(?P<name>[^\W\d_][\w'’.-]*(?:[ \t]+[^\W\d_][\w'’.-]*){0,4})[ \t]*)?"
        r"[<\[(](?:mailto:)?(?P<addr>" + ADDRESS.pattern + r")[>\])]"
    )
    for m in spec_re.finditer(text):
        name = m.group("name")
        if name:
            # keep only the capitalised tail: "introduce Omar Farouk" -> "Omar Farouk"
            words = name.split()
            tail: list[str] = []
            for word in reversed(words):
                if not word[:1].isupper() or fold(word).strip(".,:") in _LEAD_WORDS:
                    break
                tail.insert(0, word)
            name = " ".join(tail) or None
        r = resolve(name, m.group("addr"), contacts=contacts, own=own)
        if r.person is not None:
            found.append((m.start("addr") - (len(name) + 2 if name else 0), m.end(), r))
    for m in ADDRESS.finditer(text):
        if not taken(m.start(), m.end()):
            r = resolve(None, m.group(), contacts=contacts, own=own)
            if r.person is not None:
                found.append((m.start(), m.end(), r))
    for mention in contacts.mentions(text):
        if taken(*mention.span):
            continue
        r = _from_contacts(mention.text, list(mention.contacts), text)
        if r.person is not None and not (r.person.email and r.person.email in own):
            found.append((mention.span[0], mention.span[1], r))
    m2 = _TWO_PEOPLE.search(text)
    if m2:
        for group in ("a", "b"):
            start, end = m2.span(group)
            if taken(start, end):
                continue
            lead = leading_name(m2.group(group))
            if lead:
                r = resolve(lead[0], None, contacts=contacts, own=own, company=lead[1], hint=text)
                if r.person is not None:
                    found.append((start, end, r))
    found.sort(key=lambda f: f[0])
    out: list[tuple[int, _Resolved]] = []
    for start, _end, r in found:
        p = r.person
        assert p is not None
        if any(
            (
                q.person
                and (
                    (p.email and q.person.email and p.email.lower() == q.person.email.lower())
                    or (p.name and q.person.name and fold(p.name) == fold(q.person.name))
                )
            )
            for _, q in out
        ):
            continue
        out.append((start, r))
    return out


def _read_note(
    body: str,
    subject: str,
    *,
    own: _Own,
    owner_name: str | None,
    contacts: ContactBook,
    min_reason_words: int,
) -> IntroRequest:
    """The owner's own note naming two people: requester first, then target."""
    lines = _cut_footer(_cut_history(_lines(body)))
    for i, line in enumerate(lines):
        if _SIG_DASHES.match(line):
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
    blurb = _tidy(note_lines("\n".join(own_words), own, owner_name))
    # the lines naming the people are not the why; the owner's other words may be
    words = "\n".join(ln for ln in own_words if not ADDRESS.search(ln) and not _ARROW.search(ln))
    reason = find_reason(text, min_words=min_reason_words) or find_reason(
        words, min_words=min_reason_words, third_person=True
    )
    return IntroRequest(
        requester=requester,
        target=target.person if target else None,
        reason=reason,
        blurb=blurb,
        subject=subject,
        candidates=target.candidates if target else (),
        owner_note=_tidy(lines),
    )


def read_request(
    *,
    body: str,
    forward: Forward | None,
    subject: str,
    owner_addresses: Collection[str],
    intro_address: str | None,
    owner_name: str | None,
    contacts: ContactBook,
    min_reason_words: int = 5,
) -> IntroRequest:
    """What an owner's mail asks for: requester, target, reason and the blurb to pass on."""
    own = _Own.of(owner_addresses, intro_address)
    try:
        if forward is not None:
            return _read_forward(
                forward,
                subject or "",
                own=own,
                owner_name=owner_name,
                contacts=contacts,
                min_reason_words=min_reason_words,
            )
        return _read_note(
            body or "",
            subject or "",
            own=own,
            owner_name=owner_name,
            contacts=contacts,
            min_reason_words=min_reason_words,
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
