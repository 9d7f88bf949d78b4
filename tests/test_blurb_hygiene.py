"""What a target reads is the requester's own message, measured over every request we hold.

The detectors here are written apart from the reader's own tables: a forward header
block or header-table row, quoted history, a phone or address line of a signature, a
company imprint or a disclaimer, in any language the reader reads, is found by
looking at the blurb line by line. The blurb's lines all come from the readable body,
the owner's note never reaches it, and the reason is a purpose, not small talk.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from introd.wiring import contact_paths
from introd.config import load_config
from introd.reading.people import ContactBook
from introd.contacts import load_contacts
from introd.reading.forward import find_forward
from introd.reading.mailtext import body_text, parse_bytes
from introd.reading import Context, read_mail

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "corpus"

_HEADER_ROW = re.compile(
    r"^\W{0,3}(?:from|sent|to|cc|subject|date|de|envoy[ée]|à|objet|von|gesendet|an|betreff|"
    r"fecha|enviado|para|asunto|da|inviato|a|oggetto|van|verzonden|aan|onderwerp|assunto|"
    r"från|skickat|till|ämne|od|wysłane|wysłano|do|temat|差出人|送信日時|宛先|件名)\W{0,3}[:：]",
    re.I,
)
# an Outlook header-table value on its own line: "Monday, April 14, 2025 11:20 AM"
_DATE_ROW = re.compile(
    r"^\W*(?:mon|tue|wed|thu|fri|sat|sun|lun|mar|mer|jeu|ven|sam|dim|mo|di|mi|do|fr|sa|so|"
    r"lunedì|martedì|maandag|dinsdag|segunda|terça|måndag|tisdag|poniedziałek|wtorek)\w*[.,]?"
    r"\s+.{0,30}\b(?:19|20)\d\d\b.{0,12}\d{1,2}[:.]\d\d",
    re.I,
)
_MARKER = re.compile(
    r"forwarded message|original message|begin forwarded|message transféré|weitergeleitete|"
    r"mensaje reenviado|messaggio inoltrato|doorgestuurd bericht|mensagem encaminhada|"
    r"oorspronkelijk bericht|ursprüngliche nachricht|message d'origine|début du message|"
    r"inizio messaggio|begin doorgestuurd|przekazana wiadomość|vidarebefordrat meddelande",
    re.I,
)
_QUOTED = re.compile(
    r"^\s*>|(?:wrote|a écrit|schrieb|escribió|ha scritto|schreef|escreveu)\s*:\s*$", re.I
)
_PHONE = re.compile(
    r"(?:^|\s)(?:\+|00)\d[\d ()./-]{7,}\d|(?:tel|phone|mobile|fax)\.?\s*:?\s*\+?\d", re.I
)
_WEB = re.compile(r"https?://|\bwww\.", re.I)
_IMPRINT = re.compile(
    r"\b(?:HRB|Amtsgericht|KvK|BTW|P\.\s?IVA|Partita IVA|Codice Fiscale|SIRET|RCS|NIPC|KRS|REGON|"
    r"Org\.?\s?nr|Registered office|Company No)\b",
)
_DISCLAIMER = re.compile(
    r"confidential|vertraulich|riservat|vertrouwelijk|uitsluitend bestemd|confidencial|"
    r"konfidentiell|poufn|intended (?:only|solely) for|destinati esclusivamente|"
    r"destinado exclusivamente|nur für den vorgesehenen",
    re.I,
)
_SMALL_TALK = re.compile(
    r"pleasure (?:talking|meeting|to meet)|hope you|was great (?:to meet|meeting|seeing)|"
    r"great to (?:see|meet) you|writing to ask (?:you )?(?:a|for a) favou?r|pedirle un favor|"
    r"prazer conversar|piacere|plezier|trevligt|miło było|ravie de|schön, dich|un placer",
    re.I,
)


def _detects(line: str) -> str | None:
    for name, pattern in (
        ("header row", _HEADER_ROW),
        ("header-table date", _DATE_ROW),
        ("forward marker", _MARKER),
        ("quoted history", _QUOTED),
        ("signature phone", _PHONE),
        ("signature link", _WEB),
        ("company imprint", _IMPRINT),
        ("disclaimer", _DISCLAIMER),
    ):
        if pattern.search(line):
            return name
    return None


def _flat(text: str) -> str:
    return " ".join(text.replace(">", " ").split()).lower()


@cache
def _context(folder: Path) -> Context:
    cfg = load_config(folder / "config.yaml", need_servers=False)
    contacts: ContactBook = load_contacts(contact_paths(cfg))
    return Context(config=cfg, contacts=contacts)


def _requests() -> list[tuple[Path, str]]:
    """Every request mail of the corpus (by its expected reading)."""
    entries = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
    return [
        (CORPUS / e["file"], e["file"])
        for e in entries
        if e.get("kind") == "request" or "request" in (e.get("kind_any_of") or [])
    ]


REQUESTS = _requests()


@cache
def _read(path: Path) -> tuple[str, str, str | None, str]:
    """(blurb, readable body, reason, owner's note) of one request mail."""
    raw = path.read_bytes()
    reading = read_mail(raw, _context(path.parent))
    req = reading.request
    msg = parse_bytes(raw)
    fwd = find_forward(msg)
    note = fwd.note if fwd is not None else ""
    body = body_text(msg)
    for part in msg.walk():  # attached messages are readable text too
        if part.get_content_type() == "message/rfc822":
            for inner in part.get_payload() or []:
                body += "\n" + body_text(inner)
                for sub in inner.walk():
                    if sub.get_content_type() == "message/rfc822":
                        body += "\n" + "\n".join(body_text(m) for m in sub.get_payload() or [])
    if req is None:
        return "", body, None, note
    return req.blurb, body, req.reason, note


class TestBlurbHygiene:
    def test_the_corpus_has_many_requests(self) -> None:
        """The properties below are measured over a real number of requests."""
        assert len(REQUESTS) >= 100

    @pytest.mark.parametrize(("path", "name"), REQUESTS, ids=[n for _, n in REQUESTS])
    def test_no_header_signature_quote_or_disclaimer_line(self, path: Path, name: str) -> None:
        """No blurb line is a header row, marker, quote, phone, link, imprint or disclaimer."""
        blurb, *_ = _read(path)
        found = [(line, _detects(line)) for line in blurb.splitlines() if _detects(line)]
        assert not found, found

    @pytest.mark.parametrize(("path", "name"), REQUESTS, ids=[n for _, n in REQUESTS])
    def test_blurb_lines_come_from_the_readable_body(self, path: Path, name: str) -> None:
        """Every line of the blurb is text of the mail itself, nothing made up or joined."""
        blurb, body, _, _ = _read(path)
        flat_body = _flat(body)
        for line in blurb.splitlines():
            if line.strip():
                assert _flat(line) in flat_body, line

    @pytest.mark.parametrize(("path", "name"), REQUESTS, ids=[n for _, n in REQUESTS])
    def test_owner_note_stays_out(self, path: Path, name: str) -> None:
        """No sentence of the owner's own note above the forward is passed on to the target."""
        blurb, _, _, note = _read(path)
        flat_blurb = _flat(blurb)
        for line in note.splitlines():
            if len(line.split()) >= 4 and not line.lstrip().startswith(">"):
                assert _flat(line) not in flat_blurb, line

    @pytest.mark.parametrize(("path", "name"), REQUESTS, ids=[n for _, n in REQUESTS])
    def test_reason_is_a_purpose_from_the_blurb(self, path: Path, name: str) -> None:
        """The reason is words of the blurb (or the owner's note), never small talk."""
        blurb, body, reason, _ = _read(path)
        if not reason:
            return
        assert not _SMALL_TALK.search(reason), reason
        for sentence in re.split(r"(?<=[.!?。])\s+", reason):
            assert _flat(sentence)[:60] in _flat(body), sentence


class TestDetectors:
    """The detectors above find what they are meant to find (else the properties prove nothing)."""

    @pytest.mark.parametrize(
        "line",
        [
            "Sent: Monday, April 14, 2025 11:20 AM",
            "Monday, April 14, 2025 11:20 AM",
            "To:",
            "Subject: wafer metrology",
            "Inviato: martedì 4 marzo 2025 11:20",
            "Verzonden: dinsdag 4 maart 2025 11:20",
            "Skickat: den 4 mars 2025 10:22",
            "差出人: 山田 花子",
            "---------- Doorgestuurd bericht ---------",
            "> yes, happy to",
            "+46 40 555 12 34",
            "KvK 12345678 | BTW NL123456789B01",
            "P.IVA 01234567890",
            "Dit e-mailbericht is uitsluitend bestemd voor de geadresseerde(n).",
            "This email may contain confidential information.",
        ],
    )
    def test_junk_lines_are_detected(self, line: str) -> None:
        """Each kind of junk line is caught by a detector."""
        assert _detects(line) is not None

    @pytest.mark.parametrize(
        "line",
        [
            "Could you introduce me to Robert Lindqvist at Northwind Energy?",
            "Vorrei capire come il suo team gestisce il firmware dei motori.",
            "Zou je mij in contact kunnen brengen met mevr. Bakker van Utrecht Zorgdata?",
            "Best regards,",
            "Wei Zhang",
        ],
    )
    def test_a_requesters_words_are_not_junk(self, line: str) -> None:
        """Ordinary sentences, a sign-off and a name pass the detectors."""
        assert _detects(line) is None
