"""Reading a party's answer and an owner's command from the new text of a reply.

``new_text`` cuts a reply down to what its author wrote: quoted history (">" lines,
"On ... wrote:" attributions, Outlook's "From: ... Sent: ..." blocks, "-----Original
Message-----", lines of underscores) and signatures ("-- ", "Sent from my iPhone",
a closing such as "Best regards," followed by a few short lines) are removed, in
every language of :mod:`introd.reading.words`, whose tables these patterns are built from.

``classify_answer`` reads the first sentence of that text (after a greeting such
as "Hi Lisa," and a bare "Thanks!") and says ``yes``, ``no`` or ``unclear``. It is
conservative: a yes needs a yes-word and nothing that hedges it in the same
sentence; a no-word wins over a hedge that follows it ("Not now, sorry - perhaps
after the summer"), except a "but later" kind of hedge ("not right now but
later"); anything else is unclear. Never a false yes.

Everything here is pure and never raises on the text of a mail.
"""

from __future__ import annotations

import re

from introd.patterns import LazyPattern
from introd.reading.addresses import ADDRESS
from introd.reading.cleaning import SIG_DASHES
from introd.reading.words import (
    ATTRIBUTION_OPENERS,
    ATTRIBUTION_VERBS,
    ATTRIBUTION_VERBS_WITH_TAIL,
    CLIENT_FOOTERS,
    FORWARD_INTROS,
    GREETINGS,
    HEADER_LABELS,
    ORIGINAL_MESSAGE_MARKERS,
    SIGN_OFFS,
    THANKS,
    any_of,
    any_word,
)
from introd.model import AnswerWord

__all__ = ["classify_answer", "new_text", "read_owner_command", "thanks_in"]

# -- new text -----------------------------------------------------------------

_MAX_ATTRIBUTION = 300

# an attribution line ends with one of these ("... X <x@y> wrote:")
_ATTRIBUTION_END = LazyPattern(
    r"(?:\b"
    + any_of(ATTRIBUTION_VERBS)
    + r"|\b"
    + any_of(ATTRIBUTION_VERBS_WITH_TAIL)
    + r"\s.{1,200})\s*:\s*$",
    re.IGNORECASE,
)
# an attribution line begins with one of these ("On Mon, 3 Mar 2025 ...")
_ATTRIBUTION_START = LazyPattern(r"^" + any_of(ATTRIBUTION_OPENERS) + r"\s", re.IGNORECASE)

_SEPARATORS = [
    # Outlook desktop, Proton, Thunderbird (old) and their translations
    LazyPattern(
        r"^\s*-{2,}\s*" + any_of(ORIGINAL_MESSAGE_MARKERS) + r"\s*-{2,}\s*$", re.IGNORECASE
    ),
    # a line of underscores (Outlook mobile/web) or of dashes (HTML <hr> as text)
    LazyPattern(r"^\s*_{10,}\s*$"),
    LazyPattern(r"^\s*-{10,}\s*$"),
    LazyPattern(r"^\s*" + any_of(FORWARD_INTROS) + r"\s*:\s*$", re.IGNORECASE),
]

# "From: ..." block of Outlook: a From-like label, then within a few lines another label
_FROM_LABEL = LazyPattern(
    r"^\s*+(?:[*]{1,2}\s*)?" + any_word(HEADER_LABELS["from"]) + r"(?:\s*[*]{1,2})?\s*[:：]",
    re.IGNORECASE,
)
_SENT_LABEL = LazyPattern(
    r"^\s*+(?:[*]{1,2}\s*)?"
    + any_word(label for field in ("date", "to", "cc", "subject") for label in HEADER_LABELS[field])
    + r"(?:\s*[*]{1,2})?\s*[:：]",
    re.IGNORECASE,
)

_MOBILE_SIGNATURE = LazyPattern(r"^\s*" + any_of(CLIENT_FOOTERS), re.IGNORECASE)
_CLOSING = LazyPattern(r"^\s*" + any_of(SIGN_OFFS) + r"\s*[,.!]?\s*$", re.IGNORECASE)
_MAX_SIGNATURE_LINES = 7


def _is_attribution(line: str, following: str) -> bool:
    """True when ``line`` (maybe wrapped onto ``following``) is "On ... wrote:"."""
    text = line.strip()
    if not text or len(text) > _MAX_ATTRIBUTION:
        return False
    if _ATTRIBUTION_END.search(text):
        return bool(
            _ATTRIBUTION_START.match(text)
            or "@" in text
            or re.search(r"\d", text)
            or len(text.split()) <= 6
        )
    joined = f"{text} {following.strip()}"
    if _ATTRIBUTION_START.match(text) and len(joined) <= _MAX_ATTRIBUTION:
        return bool(_ATTRIBUTION_END.search(joined))
    return False


def _is_header_block(lines: list[str], index: int) -> bool:
    """True when an Outlook-style "From: ... / Sent: ..." block starts at ``index``."""
    if not _FROM_LABEL.match(lines[index]):
        return False
    following = [ln for ln in lines[index + 1 : index + 6] if ln.strip()][:3]
    return any(_SENT_LABEL.match(ln) for ln in following)


def _cut_quoted(lines: list[str]) -> list[str]:
    """Lines up to the first mark of quoted history, without ">" lines."""
    kept: list[str] = []
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            _is_attribution(line, following)
            or any(p.match(line) for p in _SEPARATORS)
            or _is_header_block(lines, i)
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return kept


def _cut_signature(lines: list[str]) -> list[str]:
    """Lines up to a signature: "-- ", a mobile footer, or a closing and a few short lines."""
    for i, line in enumerate(lines):
        if SIG_DASHES.match(line) or _MOBILE_SIGNATURE.match(line):
            return lines[:i]
    seen_text = False
    for i, line in enumerate(lines):
        if _CLOSING.match(line) and seen_text:
            rest = [ln for ln in lines[i + 1 :] if ln.strip()]
            if len(rest) <= _MAX_SIGNATURE_LINES and all(len(ln) <= 80 for ln in rest):
                return lines[:i]
        if line.strip():
            seen_text = True
    return lines


def new_text(body: str) -> str:
    """The new text of a reply: quoted history and signatures removed."""
    try:
        text = (body or "").replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
        lines = [ln.rstrip() for ln in text.split("\n")]
        lines = _cut_signature(_cut_quoted(lines))
        out = "\n".join(lines)
        out = re.sub(r"\n{3,}", "\n\n", out)
        return out.strip()
    except Exception:
        return ""


# -- classifying an answer -------------------------------------------------------


def _is_cjk(word: str) -> bool:
    """Whether a word holds Japanese kana or Chinese characters (written without spaces)."""
    return any(
        "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u4dbf" or "\u4e00" <= ch <= "\u9fff"
        for ch in word
    )


# Answers from phones: emoji that say yes or no (any skin tone, with or without the
# emoji presentation selector); any other emoji says nothing. Both kinds together are unclear.
_EMOJI_YES = LazyPattern(
    "(?:\U0001f44d|\U0001f44c|\u2705|\u2714|\u2611|\U0001f197)[\U0001f3fb-\U0001f3ff\ufe0f]*"
)
_EMOJI_NO = LazyPattern(
    "(?:\U0001f44e|\u274c|\u2716|\U0001f6ab|\u26d4|\u274e|\U0001f645)"
    "[\U0001f3fb-\U0001f3ff\ufe0f\u200d\u2640\u2642]*"
)


def _emoji_words(line: str) -> str:
    """A line with its yes and no emoji written as words: '👍' is 'yes', '👎' is 'no thanks'."""
    yes, no = _EMOJI_YES.search(line), _EMOJI_NO.search(line)
    if yes and no:
        return _EMOJI_NO.sub(" maybe ", _EMOJI_YES.sub(" maybe ", line))
    if yes:
        return _EMOJI_YES.sub(" yes ", line)
    if no:
        return _EMOJI_NO.sub(" no thanks ", line)
    return line


def _phrases(*words: str) -> LazyPattern:
    """A pattern matching any of ``words`` as whole words (spaces match any blank)."""
    spaced = [w for w in words if not _is_cjk(w)]
    alternatives = sorted(
        (re.escape(w).replace(r"\ ", r"\s+") for w in spaced), key=len, reverse=True
    )
    pattern = r"(?<![\w'])(?:" + "|".join(alternatives) + r")(?![\w'])"
    # Chinese and Japanese words have no spaces around them: no word boundaries there
    unspaced = sorted((re.escape(w) for w in words if _is_cjk(w)), key=len, reverse=True)
    if unspaced:
        pattern += "|(?:" + "|".join(unspaced) + ")"
    return LazyPattern(pattern, re.IGNORECASE)


# phrases that contain a no-word but are not a refusal: removed before looking
_NEUTRAL = _phrases(
    "no problem",
    "no problems",
    "no worries",
    "not a problem",
    "no trouble",
    "why not",
    "no doubt",
    "not at all a problem",
    "no hay problema",
    "ningún problema",
    "sin problema",
    "por qué no",
    "porque no",
    "pas de problème",
    "pas de probleme",
    "pas de souci",
    "aucun problème",
    "aucun souci",
    "pourquoi pas",
    "kein problem",
    "keine sorge",
    "warum nicht",
    "no te preocupes",
    "no se preocupe",
    "don't mind",
    "do not mind",
    "wouldn't mind",
    "would not mind",
    "can't wait",
    "cannot wait",
    "make sure",
    "making sure",
    "be sure",
    "sure that",
    "sure if",
    "sure whether",
    "nessun problema",
    "non c'è problema",
    "non c'e problema",
    "geen probleem",
    "geen punt",
    "sem problema",
    "não há problema",
    "não tem problema",
    "nie ma problemu",
    "nie ma sprawy",
    "inga problem",
    "inget problem",
    "問題ありません",
    "問題ない",
)
# phrases that are unclear on their own and neither yes nor no
_UNSURE = _phrases(
    "not sure",
    "not certain",
    "unsure",
    "i don't know",
    "i do not know",
    "dunno",
    "pas sûr",
    "pas sûre",
    "pas sur",
    "pas certain",
    "pas certaine",
    "je ne sais pas",
    "je sais pas",
    "nicht sicher",
    "weiß nicht",
    "weiss nicht",
    "keine ahnung",
    "no estoy seguro",
    "no estoy segura",
    "no sé",
    "no se si",
    "not yet",
    "pas encore",
    "noch nicht",
    "todavía no",
    "aún no",
    "not right now but",
    "not now but",
    "non so",
    "non lo so",
    "non sono sicur",
    "non ancora",
    "weet niet",
    "weet het niet",
    "niet zeker",
    "nog niet",
    "não sei",
    "não tenho certeza",
    "ainda não",
    "nie wiem",
    "nie jestem pewien",
    "nie jestem pewna",
    "jeszcze nie",
    "vet inte",
    "inte säker",
    "inte än",
    "わかりません",
    "分かりません",
)
_NO = _phrases(
    # English
    "no thanks",
    "no thank you",
    "no, thanks",
    "no, thank you",
    "not now",
    "not right now",
    "not at the moment",
    "not at this time",
    "not this time",
    "not for me",
    "not interested",
    "no interest",
    "not really",
    "i'll pass",
    "i will pass",
    "i'd pass",
    "i have to pass",
    "i must pass",
    "i'm going to pass",
    "pass on this",
    "pass on that",
    "i'd rather not",
    "i would rather not",
    "rather not",
    "i'd prefer not",
    "i would prefer not",
    "i prefer not",
    "but no",
    "decline",
    "i must decline",
    "i have to decline",
    "i'm declining",
    "unfortunately not",
    "unfortunately no",
    "sorry, no",
    "i'm afraid not",
    "afraid not",
    "i don't think so",
    "no way",
    "nope",
    "nah",
    "absolutely not",
    "certainly not",
    "definitely not",
    "of course not",
    "sure not",
    "surely not",
    "never",
    "not a good time",
    "not the right time",
    "not able",
    "unable",
    "not possible",
    "not available",
    "not in a position",
    "i don't want",
    "i do not want",
    "don't want to",
    "please don't",
    "please do not",
    "i can't help",
    "i cannot help",
    "can't take this on",
    "cannot take this on",
    "not the right person",
    "not ok",
    "not okay",
    "no longer",
    "no need anymore",
    "don't need",
    "not needed",
    "say no",
    "saying no",
    "have to say no",
    "must say no",
    "i can't right now",
    "i cannot right now",
    "i can't at the moment",
    "i can't do it",
    "i can't this time",
    "i'm not able",
    "i am not able",
    "won't be able",
    "will not be able",
    "can't make it",
    "not going to work",
    "won't work for me",
    "doesn't work for me",
    # French
    "non merci",
    "non, merci",
    "pas maintenant",
    "pas pour le moment",
    "pas pour l'instant",
    "pas en ce moment",
    "pas intéressé",
    "pas intéressée",
    "pas interesse",
    "pas intéressés",
    "ne m'intéresse pas",
    "ça ne m'intéresse pas",
    "je préfère pas",
    "je préfère ne pas",
    "je préférerais ne pas",
    "je passe mon tour",
    "je décline",
    "je dois décliner",
    "malheureusement non",
    "malheureusement pas",
    "hélas non",
    "je ne souhaite pas",
    "je ne peux pas",
    "certainement pas",
    "sûrement pas",
    "pas question",
    "bien sûr que non",
    "surtout pas",
    "jamais",
    "mais non",
    "pas disponible",
    "décliner",
    "plus besoin",
    # German
    "nein",
    "nee",
    "leider nicht",
    "leider nein",
    "kein interesse",
    "keine zeit",
    "lieber nicht",
    "nicht interessiert",
    "ich verzichte",
    "ich möchte nicht",
    "jetzt nicht",
    "gerade nicht",
    "momentan nicht",
    "derzeit nicht",
    "im moment nicht",
    "zurzeit nicht",
    "aktuell nicht",
    "nicht jetzt",
    "auf keinen fall",
    "keinesfalls",
    "eher nicht",
    "besser nicht",
    "absagen",
    "ablehnen",
    "natürlich nicht",
    "sicher nicht",
    "danke nein",
    "nein danke",
    "niemals",
    "aber nein",
    "nicht verfügbar",
    "keine kapazität",
    "nicht mehr nötig",
    "kein bedarf",
    # Spanish
    "no gracias",
    "no, gracias",
    "ahora no",
    "ahora mismo no",
    "por ahora no",
    "de momento no",
    "en este momento no",
    "no me interesa",
    "no estoy interesado",
    "no estoy interesada",
    "prefiero no",
    "mejor no",
    "no puedo",
    "lamentablemente no",
    "desgraciadamente no",
    "por desgracia no",
    "me temo que no",
    "claro que no",
    "por supuesto que no",
    "de ninguna manera",
    "no es posible",
    "no quiero",
    "declino",
    "yo paso",
    "nunca",
    "pero no",
    "no tengo tiempo",
    "no estoy disponible",
    "prefiero que no",
    "preferiría que no",
    "preferiria que no",
    "mejor que no",
    "ya no es necesario",
    # Italian
    "no grazie",
    "no, grazie",
    "non ora",
    "non adesso",
    "non al momento",
    "preferisco di no",
    "preferirei di no",
    "preferisco non",
    "non mi interessa",
    "non sono interessato",
    "non sono interessata",
    "purtroppo no",
    "purtroppo non",
    "non posso",
    "non è possibile",
    "meglio di no",
    "non fa per me",
    "non questa volta",
    "declino",
    "non ho tempo",
    # Dutch
    "nee",
    "nee dank je",
    "nee, dank je",
    "nee bedankt",
    "nee, bedankt",
    "liever niet",
    "geen interesse",
    "niet geïnteresseerd",
    "helaas niet",
    "helaas nee",
    "nu niet",
    "niet nu",
    "op dit moment niet",
    "ik pas",
    "geen tijd",
    "dat lukt niet",
    "lukt me niet",
    # Portuguese
    "não obrigado",
    "não, obrigado",
    "não obrigada",
    "não, obrigada",
    "agora não",
    "de momento não",
    "neste momento não",
    "prefiro não",
    "não me interessa",
    "não tenho interesse",
    "infelizmente não",
    "não posso",
    "não é possível",
    "nem pensar",
    "não tenho tempo",
    # Polish
    "nie dziękuję",
    "nie, dziękuję",
    "niestety nie",
    "nie teraz",
    "nie jestem zainteresowany",
    "nie jestem zainteresowana",
    "wolałbym nie",
    "wolałabym nie",
    "nie mogę",
    "raczej nie",
    # Swedish
    "nej",
    "nej tack",
    "tyvärr inte",
    "tyvärr nej",
    "inte nu",
    "inte just nu",
    "inte intresserad",
    "helst inte",
    "jag avstår",
    "det passar inte",
    # Japanese
    "いいえ",
    "遠慮させて",
    "遠慮します",
    "遠慮いたします",
    "お断り",
    "辞退",
    "結構です",
    "見送らせて",
    "難しいです",
)
# a bare "no"/"non" counts only at the start of the sentence
_LEADING_NO = LazyPattern(r"^\W*(?:no|non|nö|nee|nej|não|nao|nie)(?![\w'-])", re.IGNORECASE)
_YES = _phrases(
    # English
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "certainly",
    "happy to",
    "glad to",
    "of course",
    "absolutely",
    "sounds good",
    "sounds great",
    "sounds fine",
    "please do",
    "go ahead",
    "please go ahead",
    "i'd be happy",
    "i would be happy",
    "i'd be glad",
    "i would be glad",
    "i'd love to",
    "i would love to",
    "would love to",
    "love to",
    "delighted",
    "with pleasure",
    "definitely",
    "gladly",
    "by all means",
    "ok",
    "okay",
    "fine by me",
    "that works",
    "works for me",
    "count me in",
    "i'm in",
    "don't mind",
    "do not mind",
    "wouldn't mind",
    "would not mind",
    "yes please",
    "please connect us",
    "happy to help",
    "i'd be delighted",
    "love that",
    "i'd like that",
    "i would like that",
    "would be great",
    "that'd be great",
    "would be nice",
    "would be lovely",
    "still interested",
    "i'm interested",
    "i am interested",
    "very interested",
    "sure thing",
    "feel free",
    "go for it",
    "fine with me",
    "fine by me",
    "that's fine",
    "that is fine",
    "all good",
    "please proceed",
    "happy to chat",
    "happy to talk",
    "happy to connect",
    "glad to help",
    "i'm happy",
    "i am happy",
    # French
    "oui",
    "avec plaisir",
    "volontiers",
    "d'accord",
    "bien sûr",
    "bien sur",
    "certainement",
    "absolument",
    "je veux bien",
    "ça marche",
    "ca marche",
    "parfait",
    "allez-y",
    "bien entendu",
    "avec joie",
    "pas de souci",
    "pas de problème",
    "avec grand plaisir",
    "ce serait un plaisir",
    "je suis partant",
    "je suis partante",
    "ça me ferait plaisir",
    # German
    "ja",
    "gerne",
    "gern",
    "sehr gerne",
    "klar",
    "natürlich",
    "selbstverständlich",
    "einverstanden",
    "auf jeden fall",
    "sicher",
    "sicherlich",
    "mit vergnügen",
    "kein problem",
    "passt gut",
    "sehr gut",
    "prima",
    "in ordnung",
    "geht klar",
    "ich bin dabei",
    "gerne doch",
    # Spanish
    "sí",
    "claro",
    "con gusto",
    "encantado",
    "encantada",
    "por supuesto",
    "desde luego",
    "vale",
    "de acuerdo",
    "adelante",
    "perfecto",
    "me encantaría",
    "con mucho gusto",
    "cómo no",
    "como no",
    "me parece bien",
    "me parece perfecto",
    "sin problema",
    # Italian
    "sì",
    "certo",
    "certamente",
    "volentieri",
    "ben volentieri",
    "molto volentieri",
    "con piacere",
    "va bene",
    "d'accordo",
    "assolutamente",
    "perfetto",
    "senz'altro",
    "procedi pure",
    "vai pure",
    "con molto piacere",
    # Dutch
    "graag",
    "ja graag",
    "zeker",
    "natuurlijk",
    "akkoord",
    "met plezier",
    "uiteraard",
    "ga je gang",
    "ga uw gang",
    "doe maar",
    "is goed",
    "klinkt goed",
    "prima hoor",
    # Portuguese
    "sim",
    "com prazer",
    "com todo o gosto",
    "com muito gosto",
    "com certeza",
    "pode ser",
    "combinado",
    "perfeito",
    "está bem",
    "tá bem",
    "ótimo",
    "pode avançar",
    "podes avançar",
    # Polish
    "chętnie",
    "bardzo chętnie",
    "oczywiście",
    "jasne",
    "z przyjemnością",
    "pewnie",
    "zgoda",
    "śmiało",
    # Swedish
    "gärna",
    "jättegärna",
    "självklart",
    "visst",
    "javisst",
    "absolut",
    "med glädje",
    "det går bra",
    "okej",
    # Japanese
    "はい",
    "喜んで",
    "ぜひ",
    "是非",
    "承知しました",
    "かしこまりました",
    "了解です",
    "お願いします",
)
# yes-words inside phrases that are not consent ("más adelante" is "later")
_NOT_YES = _phrases(
    "más adelante",
    "mas adelante",
    "en adelante",
    "de acuerdo con",
    "d'accord avec",
    "klar ist",
    "ja nicht",
)
_LEADING_SI = LazyPattern(r"^\W*si(?:\s*[,!.]|\s*$)", re.IGNORECASE)
# hedges: a yes with one of these in the same sentence is unclear
_HEDGE = _phrases(
    "maybe",
    "perhaps",
    "possibly",
    "might",
    "not sure",
    "unsure",
    "let me think",
    "think about it",
    "think it over",
    "let me check",
    "get back to you",
    "later",
    "next week",
    "next month",
    "next year",
    "not before",
    "not until",
    "after the",
    "depends",
    "depending",
    "if",
    "unless",
    "but",
    "however",
    "although",
    "though",
    "only if",
    "as long as",
    "provided",
    "not yet",
    "in a few",
    "sometime",
    "some time",
    "at some point",
    "once",
    "when",
    "as soon as",
    "after",
    "until",
    "till",
    "back from",
    "in january",
    "in february",
    "in march",
    "in april",
    "in may",
    "in june",
    "in july",
    "in august",
    "in september",
    "in october",
    "in november",
    "in december",
    "in the new year",
    "in spring",
    "in summer",
    "in the summer",
    "in autumn",
    "in the fall",
    "in winter",
    "quand",
    "lorsque",
    "dès que",
    "une fois",
    "à mon retour",
    "en janvier",
    "en février",
    "en mars",
    "en avril",
    "en mai",
    "en juin",
    "en juillet",
    "en septembre",
    "en octobre",
    "en novembre",
    "en décembre",
    "à la rentrée",
    "cet été",
    "cet automne",
    "peut-être",
    "peut etre",
    "peut-etre",
    "je ne sais pas",
    "réfléchir",
    "plus tard",
    "mais",
    "sauf",
    "dépend",
    "pas avant",
    "pas encore",
    "éventuellement",
    "le mois prochain",
    "la semaine prochaine",
    "après",
    "vielleicht",
    "eventuell",
    "evtl",
    "mal sehen",
    "überlegen",
    "später",
    "aber",
    "wenn",
    "falls",
    "kommt darauf an",
    "nicht vor",
    "nächste woche",
    "nächsten monat",
    "noch nicht",
    "erst",
    "jedoch",
    "nach",
    "sobald",
    "im januar",
    "im februar",
    "im märz",
    "im april",
    "im mai",
    "im juni",
    "im juli",
    "im august",
    "im september",
    "im oktober",
    "im november",
    "im dezember",
    "im sommer",
    "im herbst",
    "im frühjahr",
    "ostern",
    "nach ostern",
    "nach dem urlaub",
    "quizás",
    "quizá",
    "quizas",
    "tal vez",
    "a lo mejor",
    "pensarlo",
    "lo pienso",
    "más tarde",
    "más adelante",
    "pero",
    "depende",
    "aunque",
    "el mes que viene",
    "el próximo mes",
    "la semana que viene",
    "la próxima semana",
    "todavía",
    "sin embargo",
    "después",
    "cuando",
    "en cuanto",
    "una vez",
    "a la vuelta",
    "en enero",
    "en febrero",
    "en marzo",
    "en abril",
    "en mayo",
    "en junio",
    "en julio",
    "en agosto",
    "en septiembre",
    "en octubre",
    "en noviembre",
    "en diciembre",
    "tras",
    "forse",
    "magari",
    "più avanti",
    "più tardi",
    "dopo",
    "ma",
    "però",
    "quando",
    "la prossima settimana",
    "il prossimo mese",
    "vediamo",
    "ci penso",
    "ci devo pensare",
    "tra qualche",
    "fra qualche",
    "dopo l'estate",
    "a settembre",
    "appena",
    "misschien",
    "wellicht",
    "later",
    "maar",
    "wanneer",
    "volgende week",
    "volgende maand",
    "eventueel",
    "even nadenken",
    "na de zomer",
    "zodra",
    "talvez",
    "mais tarde",
    "depois",
    "mas",
    "porém",
    "quando",
    "próxima semana",
    "próximo mês",
    "vou pensar",
    "deixa-me pensar",
    "a seguir",
    "może",
    "później",
    "ale",
    "jeśli",
    "jeżeli",
    "kiedy",
    "gdy",
    "w przyszłym tygodniu",
    "w przyszłym miesiącu",
    "zastanowię",
    "po wakacjach",
    "kanske",
    "senare",
    "men",
    "när",
    "nästa vecka",
    "nästa månad",
    "efter",
    "fundera",
    "eventuellt",
    "efter sommaren",
    "ただ",
    "しかし",
    "でも",
    "けど",
    "けれど",
    "来月",
    "来週",
    "以降",
    "後で",
    "検討",
    "考えさせて",
    "かもしれ",
    "多分",
    "たぶん",
    "もし",
    "ちょっと",
)
# a refusal turned into "later": "not right now but later", "non, mais peut-être en mai"
_LATER = _phrases(
    "but later",
    "but maybe",
    "but perhaps",
    "but possibly",
    "but ask me",
    "but try again",
    "but get back",
    "but check back",
    "but in a few",
    "but next",
    "but after",
    "but happy",
    "but glad",
    "but would",
    "but i'd",
    "but i would",
    "but could",
    "but can",
    "mais plus tard",
    "mais peut-être",
    "mais peut-etre",
    "mais après",
    "mais volontiers",
    "aber später",
    "aber vielleicht",
    "aber gerne",
    "aber gern",
    "aber nach",
    "pero más tarde",
    "pero quizás",
    "pero quizá",
    "pero tal vez",
    "pero más adelante",
    "pero después",
    "pero con gusto",
    "ma più avanti",
    "ma forse",
    "maar later",
    "maar misschien",
    "mas talvez",
    "mas mais tarde",
    "ale może",
    "ale później",
    "men kanske",
    "men senare",
)
# a first sentence that only thanks or greets is skipped
_THANKS_ONLY = LazyPattern(r"^\W*" + any_word(THANKS) + r"\b[^.!?]*[.!?]?\s*$", re.IGNORECASE)
_GREETING = LazyPattern(r"^\W*" + any_of(GREETINGS) + r"(?![\w'])", re.IGNORECASE)
_NAME_ONLY = LazyPattern(r"^\s*[A-ZÀ-Þ][\w'-]*(?:\s+[A-ZÀ-Þ][\w'-]*)?\s*[,!]\s*$")
_NAME_SENTENCE = LazyPattern(r"^[A-ZÀ-Þ][\w'.-]*(?:\s+[A-ZÀ-Þ][\w'.-]*){0,2}\s*[,!:—–-]?$")
_MAX_READ = 4000
_SENTENCE_END = LazyPattern(
    r"(?<!\b[MD]r)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\.\.)(?:[!?;]+|\.(?!\.)|…(?!\S))(?=\s|$)"
    r"|[。！？]+"
)
_CONTRAST_START = LazyPattern(
    r"^\W*(?:but|however|though|although|just|only|unless|except|i'll need|i need|"
    r"let me (?:think|check|see|get back|ask|look|confirm)|"
    r"i mean|mais|cependant|toutefois|seulement|sauf|aber|jedoch|allerdings|nur|außer|"
    r"pero|sin embargo|aunque|solo|sólo|excepto|maybe|perhaps|peut-être|vielleicht|"
    r"quizás|tal vez)(?![\w'])",
    re.IGNORECASE,
)
# a negation beside a yes-word turns it into no consent ("I wouldn't be happy to")
_NEGATION = LazyPattern(
    r"(?<![\w'])(?:not|never|cannot|can't|won't|wouldn't|don't|doesn't|didn't|isn't|aren't|"
    r"wasn't|shouldn't|couldn't|no|ne|n'|pas|jamais|nicht|kein|keine|keinen|nie|"
    r"nunca|tampoco|ni|non|niet|geen|não|nao|nem|nie|inte|ej)(?![\w])",
    re.IGNORECASE,
)


def _normalise(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u00b4", "'")
    return re.sub(r"[ \t]+", " ", _emoji_words(text)).strip(" ") if text.strip() else text


def _strip_greeting(line: str) -> str:
    """The line without a leading greeting ("Hi Lisa, yes" -> "yes"); "" when only that."""
    if _NAME_ONLY.match(line) and not _words_of_interest(line):
        return ""
    if not _GREETING.match(line) or _NO.match(line.lstrip(" \t-*")):
        return line  # "Lieber nicht." is a refusal, not "Lieber Jonas,"
    punct = re.search(r"[,!:;—–]|\s-\s", line)
    if punct and punct.start() <= 60:
        return line[punct.end() :].strip()
    if len(line.split()) <= 4:
        return ""
    return line


def _words_of_interest(text: str) -> bool:
    return bool(
        _YES.search(text)
        or _NO.search(text)
        or _HEDGE.search(text)
        or _LEADING_NO.match(text)
        or _LEADING_SI.match(text)
    )


def _sentences(text: str) -> list[str]:
    """The sentences of the text, after a greeting; paragraphs are joined line by line."""
    lines = [_normalise(ln).strip() for ln in text.split("\n")]
    start = 0
    while start < len(lines) and not lines[start]:
        start += 1
    if start < len(lines):
        lines[start] = _strip_greeting(lines[start])
    sentences: list[str] = []
    paragraph: list[str] = []
    for line in lines[start:] + [""]:
        if line:
            paragraph.append(line)
            continue
        if paragraph:
            joined = " ".join(paragraph)
            pos = 0
            for match in _SENTENCE_END.finditer(joined):
                sentences.append(joined[pos : match.end()].strip())
                pos = match.end()
            if joined[pos:].strip():
                sentences.append(joined[pos:].strip())
            paragraph = []
    return [s for s in sentences if re.search(r"\w", s)]


def _judge(sentence: str) -> AnswerWord:
    text = _NEUTRAL.sub(" ", sentence)
    unsure = bool(_UNSURE.search(text))
    text = _UNSURE.sub(" ", text)
    no = bool(_NO.search(text) or _LEADING_NO.match(text))
    # "sure not", "of course not": the yes-word inside a refusal is not a yes
    rest = _NOT_YES.sub(" ", _NO.sub(" ", text))
    yes = bool(_YES.search(rest) or _LEADING_SI.match(rest))
    if no:
        if yes or unsure or _LATER.search(sentence):
            return "unclear"
        return "no"
    if (
        yes
        and not unsure
        and not _HEDGE.search(text)
        and "?" not in text
        and not _NEGATION.search(rest)
    ):
        return "yes"
    return "unclear"


def classify_answer(text: str) -> AnswerWord:
    """``yes``, ``no`` or ``unclear`` for the new text of a reply: its first sentence decides."""
    try:
        # the first sentence is near the top: a huge text costs no more than its start
        sentences = _sentences((text or "").lstrip()[:_MAX_READ])
    except Exception:
        return "unclear"
    # a sentence that only says thanks ("Thanks for thinking of me!") or names the
    # reader ("Ruth -") is not the answer
    skipped = 0
    while (
        sentences
        and skipped < 2
        and (_THANKS_ONLY.match(sentences[0]) or _NAME_SENTENCE.match(sentences[0]))
        and not _words_of_interest(sentences[0])
    ):
        sentences = sentences[1:]
        skipped += 1
    if not sentences:
        return "unclear"
    first = sentences[0]
    # "Yes. But not before March." keeps the hedge with its yes
    if len(sentences) > 1 and _CONTRAST_START.match(sentences[1]):
        first = f"{first} {sentences[1]}"
    try:
        return _judge(first)
    except Exception:
        return "unclear"


# -- owner commands ------------------------------------------------------------

# (?a:): under IGNORECASE, Unicode matching would take the Kelvin sign for K and the long s for s
_ID = r"(?a:([A-Za-z0-9]{6}))"
# the owner's verbs in the other languages, by the English verb they stand for
_VERBS = {
    "approuver": "approve",
    "approuve": "approve",
    "accepter": "approve",
    "refuser": "decline",
    "décliner": "decline",
    "decliner": "decline",
    "annuler": "cancel",
    "genehmigen": "approve",
    "freigeben": "approve",
    "ablehnen": "decline",
    "abbrechen": "cancel",
    "stornieren": "cancel",
    "aprobar": "approve",
    "apruebo": "approve",
    "rechazar": "decline",
    "cancelar": "cancel",
    "approva": "approve",
    "approvo": "approve",
    "approvare": "approve",
    "rifiuta": "decline",
    "rifiuto": "decline",
    "rifiutare": "decline",
    "annulla": "cancel",
    "annullare": "cancel",
    "goedkeuren": "approve",
    "afwijzen": "decline",
    "annuleren": "cancel",
    "aprovar": "approve",
    "aprovo": "approve",
    "recusar": "decline",
    "recuso": "decline",
    "rejeitar": "decline",
    "anular": "cancel",
}
_VERB_LINE = LazyPattern(
    r"^\W{0,3}("
    + any_word(("approve", "decline", "cancel", "status", *_VERBS))
    + r")(?![\w'-])(?:[\s:#,.-]*(?:\[?intro\s+)?"
    + _ID
    + r"(?![\w-]))?",
    re.IGNORECASE,
)
_PICK_LINE = LazyPattern(r"^\s*#?(\d{1,3})(?:\s*[.)]?)(?:\s+.*)?$")
_ADDRESS_LINE = LazyPattern(
    r"^\s*(?:(?:intro|target|to|cible|ziel|destinatario)\s*:\s*)?(?:[^<>@\n]{0,80}<)?\s*"
    r"(?:mailto:)?(" + ADDRESS.pattern + r")\s*>?\s*[.]?\s*$",
    re.IGNORECASE,
)


def _looks_like_id(token: str) -> bool:
    """An intro id: six letters/digits, with a digit or typed in capitals (not "please")."""
    return any(c.isdigit() for c in token) or token.isupper()


def read_owner_command(text: str) -> tuple[str, str | None, str | None] | None:
    """(verb, intro_id, argument) from the first meaningful line of the owner's new text.

    Verbs: ``approve``/``decline``/``cancel``/``status`` (with an optional id), ``pick``
    (a candidate's number as argument) and ``target`` (an address as argument).
    None when the first line is none of these.
    """
    try:
        lines = [_normalise(ln).strip()[:_MAX_READ] for ln in (text or "").split("\n")[:200]]
        lines = [ln for ln in lines if ln]
        if not lines:
            return None
        first = lines[0]
        if _GREETING.match(first) and len(lines) > 1:
            rest = _strip_greeting(first)
            first = rest if rest else lines[1]
        match = _VERB_LINE.match(first)
        if match:
            verb = _VERBS.get(match.group(1).lower(), match.group(1).lower())
            token = match.group(2)
            intro_id = token.upper() if token and _looks_like_id(token) else None
            return (verb, intro_id, None)
        match = _PICK_LINE.match(first)
        if match and int(match.group(1)) > 0:
            return ("pick", None, str(int(match.group(1))))
        match = _ADDRESS_LINE.match(first)
        if match:
            return ("target", None, match.group(1))
        return None
    except Exception:
        return None


# -- thanks ----------------------------------------------------------------------

_THANKS = _phrases(*THANKS)


def thanks_in(text: str) -> bool:
    """Whether the new text of a reply thanks its reader ("Yes, we met — thank you!")."""
    try:
        return bool(_THANKS.search(_normalise((text or "")[:_MAX_READ])))
    except Exception:
        return False
