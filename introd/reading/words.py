"""The words of mail that introd reads, one table per concern, in every language it reads.

Greetings ("Hi Lisa,"), sign-offs ("Best regards,"), the footers mail clients add
("Sent from my iPhone"), reply attributions ("On Mon, 3 Mar 2025, Tim <tim@x> wrote:"),
the separators of quoted and forwarded mail ("-----Original Message-----", "Begin
forwarded message:") and the labels of forward header blocks ("From:", "Envoyé :").
The modules that read mail build their patterns from these tables, so a word added
here is known everywhere at once.

Two kinds of table: *fragments* are regular-expression pieces matched without regard
to case (``gr(?:ü|ue)(?:ß|ss)e`` spells "Grüße" and "Gruesse" at once); *words* are
plain text, lower-case. Each table says which it is. Data only; nothing here compiles
a pattern, so importing it costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "ATTRIBUTION_OPENERS",
    "ATTRIBUTION_VERBS",
    "ATTRIBUTION_VERBS_WITH_TAIL",
    "CLIENT_FOOTERS",
    "FORWARD_INTROS",
    "FORWARD_MARKER_STEMS",
    "GREETINGS",
    "HEADER_LABELS",
    "ORIGINAL_MESSAGE_MARKERS",
    "SIGN_OFFS",
    "any_of",
    "any_word",
]


def any_of(fragments: Iterable[str]) -> str:
    """A group matching any of the regular-expression ``fragments``."""
    return "(?:" + "|".join(fragments) + ")"


def any_word(words: Iterable[str]) -> str:
    """A group matching any of the plain ``words`` (a space matches any blank), longest first."""
    escaped = sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True)
    return "(?:" + "|".join(escaped) + ")"


# -- greetings ------------------------------------------------------------------
# fragments: how a message or a reply opens ("Hi Lisa,", "Bonjour Marc,", "Hej Anna!")
GREETINGS: tuple[str, ...] = (
    # English
    "hi",
    "hello",
    "hey",
    "hiya",
    "dear",
    "greetings",
    r"good\s+(?:morning|afternoon|evening)",
    "morning",
    # French
    "bonjour",
    "bonsoir",
    "salut",
    "coucou",
    "chers?",
    "ch[èe]res?",
    "madame",
    "monsieur",
    # German
    "hallo",
    "servus",
    "moin",
    r"guten\s+(?:morgen|tag|abend)",
    "liebe[rs]?",
    r"sehr\s+geehrte[rs]?",
    # Spanish
    "hola",
    r"buen(?:os|as)\s+(?:d[íi]as|tardes|noches)",
    "buenas",
    "estimad[oa]s?",
    "querid[oa]s?",
    # Italian
    "ciao",
    "buongiorno",
    "buonasera",
    "salve",
    "gentile",
    "egregio",
    "car[oa]",
    # Dutch
    "hoi",
    "beste",
    "goedemorgen",
    "goedemiddag",
    # Portuguese
    "ol[áa]",
    "oi",
    r"bom\s+dia",
    r"boa\s+tarde",
    "prezad[oa]s?",
    # Polish
    "cze[śs][ćc]",
    r"dzie[ńn]\s+dobry",
    "witam",
    "szanown[aey]",
    # Swedish
    "hej",
    "hejsan",
    "hall[åa]",
)

# -- sign-offs ------------------------------------------------------------------
# fragments: the closing line above a signature ("Best regards,", "Mit freundlichen
# Grüßen", "Cordialement"); matched at the start of a line, or as the whole line
SIGN_OFFS: tuple[str, ...] = (
    # English
    r"(?:with\s+)?(?:best|kind|kindest|warm|warmest|many)(?:\s+(?:regards|wishes|thanks))?",
    "all the best",
    "regards",
    "sincerely",
    r"yours(?:\s+(?:sincerely|truly))?",
    "respectfully",
    "cheers",
    r"thanks(?:\s+again)?",
    r"thank you(?:\s+again)?",
    "thx",
    "ta",
    "talk soon",
    "take care",
    "warmly",
    "cordially",
    "gratefully",
    "appreciatively",
    # French
    "(?:bien |très )?cordialement",
    "bien [àa] (?:vous|toi)",
    "amicalement",
    "amiti[ée]s",
    "merci(?: beaucoup)?",
    "sinc[èe]res salutations",
    "salutations",
    "bonne journ[ée]e",
    "[àa] bient[ôo]t",
    "bises",
    # German
    r"(?:mit )?(?:freundlich|best|herzlich|viel|lieb|sch(?:ö|oe)n|sonnig)\w*"
    r"\s+gr(?:ü|ue)(?:ß|ss)\w*",
    "gruß",
    "gr(?:ü|ue)(?:ß|ss)e",
    "danke",
    "vielen dank",
    "herzlich",
    "lg",
    "vg",
    "mfg",
    # Spanish
    "saludos(?: cordiales)?",
    "un saludo",
    "atentamente",
    "cordialmente",
    "(?:muchas )?gracias",
    "un abrazo",
    "abrazos",
    "besos",
    # Italian
    "cordiali saluti",
    "distinti saluti",
    "(?:un )?(?:caro |cordiale )?saluto",
    "saluti",
    "grazie(?: mille)?",
    "a presto",
    "buona giornata",
    "un abbraccio",
    # Dutch
    "(?:met )?(?:vriendelijke|hartelijke|beste) groet(?:en)?",
    "groet(?:en|jes)?",
    "alvast bedankt",
    "bedankt",
    "dank (?:je|u)(?: wel)?",
    "mvg",
    # Portuguese
    "(?:com os )?melhores cumprimentos",
    "cumprimentos",
    "atenciosamente",
    "(?:muito )?obrigad[oa]",
    "um abraço",
    "abraços",
    "beijos",
    "saudações",
    "até breve",
    # Polish
    "(?:serdecznie )?pozdrawiam",
    "z poważaniem",
    "pozdrowienia",
    "dziękuję",
    "dzięki",
    "z wyrazami szacunku",
    # Swedish
    "(?:med )?(?:vänliga|bästa) hälsningar",
    "hälsningar",
    "mvh",
    "tack(?: på förhand)?",
    "ha det bra",
    # Japanese
    "よろしくお願い(?:いた)?します",
    "敬具",
    "以上",
)

# -- client footers -------------------------------------------------------------
# fragments: what a mail client adds under the text ("Sent from my iPhone", "Von meinem
# iPhone gesendet", "Get Outlook for iOS"); matched at the start of a line
CLIENT_FOOTERS: tuple[str, ...] = (
    # English
    "sent from my ",
    r"sent from (?:my )?(?:iphone|ipad|android|samsung|galaxy|mobile|phone)\b",
    "sent from (?:mail|outlook|yahoo|proton ?mail|gmail)",
    "sent with proton ?mail",
    r"get outlook for\b",
    # Outlook's own line, in its translations
    r"(?:get |obtenir |t[ée]l[ée]charger |descargar |obtener )?outlook "
    r"(?:for|pour|f(?:ü|ue)r|para) (?:ios|android)\b",
    r"(?:obtenir|t[ée]l[ée]charger|obtener) outlook (?:pour|para)\b",
    "outlook f(?:ü|ue)r ",
    # French
    r"envoy[ée] de (?:mon|ma|l'application|outlook|yahoo)\b",
    r"envoy[ée] depuis\b",
    # German
    "von meinem .{0,60}gesendet",
    r"gesendet von\b",
    # Spanish
    r"enviado desde mi\b",
    r"enviado desde (?:outlook|yahoo|correo)\b",
    # Italian
    r"inviato da(?:l mio)? \w+",
    # Dutch
    r"verzonden (?:vanaf|met) (?:mijn )?\w+",
    # Portuguese
    r"enviado (?:do|a partir do|de) (?:meu |minha )?\w+",
    # Polish
    r"wys[łl]ane z (?:mojego )?\w+",
    # Swedish
    r"skickat fr[åa]n (?:min |mitt )?\w+",
)

# -- attributions ("On Mon, 3 Mar 2025, Tim Walker <tim@x.example> wrote:") ---------
# fragments: the words an attribution line begins with
ATTRIBUTION_OPENERS: tuple[str, ...] = (
    "On",  # English
    "Le",  # French
    "Am",  # German
    "El",  # Spanish
    "Il",  # Italian
    "Op",  # Dutch
    "W dniu",  # Polish
    "Em",  # Portuguese
    "No dia",  # Portuguese
    "Den",  # Swedish, Danish
)
# fragments: the verb an attribution line ends with, before its colon
ATTRIBUTION_VERBS: tuple[str, ...] = (
    "wrote",
    "writes",
    r"a\s+[ée]crit",
    "escribi[óo]",
    r"ha\s+escrito",
    "scrive",
    r"ha\s+scritto",
    "schreef",
    r"napisa[łl]\w*",
    "pisze",
    "schrieb",
    "schreibt",
    "escreveu",
    "skrev",
    "kirjoitti",
)
# fragments: verbs some clients follow with more words ("schrieb Tim Walker:")
ATTRIBUTION_VERBS_WITH_TAIL: tuple[str, ...] = ("skrev", "schrieb", "schreibt")

# -- separators of quoted and forwarded mail --------------------------------------
# fragments: the words between the dashes of "-----Original Message-----" and its kin
ORIGINAL_MESSAGE_MARKERS: tuple[str, ...] = (
    "original message",
    "original e-?mail",
    "reply message",
    "forwarded message",
    "urspr(?:ü|ue)ngliche nachricht",
    "original-nachricht",
    "weitergeleitete nachricht",
    "message d'origine",
    "message original",
    "message transf[ée]r[ée]",
    "message transmis",
    "mensaje original",
    "mensaje transmitido",
    "mensaje reenviado",
    "messaggio originale",
    "messaggio inoltrato",
    "oorspronkelijk bericht",
    "mensagem original",
    "originalmeddelande",
    "wiadomo[śs][ćc] oryginalna",
    "oryginalna wiadomo[śs][ćc]",
)
# fragments: a line that announces a forwarded message, before its colon (Apple Mail)
FORWARD_INTROS: tuple[str, ...] = (
    "begin forwarded message",
    "d[ée]but du message r[ée]exp[ée]di[ée]",
    "anfang der weitergeleiteten nachricht",
    "inicio del mensaje reenviado",
)
# words (case-folded, without accents): found anywhere in a short separator line
# ("Begin forwarded message:", "Début du message réexpédié :", "-----Original
# Message-----"), in the UI languages of mail clients
FORWARD_MARKER_STEMS: tuple[str, ...] = (
    "forward",
    "weitergeleitet",
    "transfere",
    "reexpedi",
    "reenviad",
    "encaminhad",
    "reencaminhad",
    "inoltrat",
    "doorgestuurd",
    "videresend",
    "vidarebefordra",
    "valitetty",
    "tovabbitott",
    "przekazywan",
    "przekazan",
    "preposil",
    "preposlan",
    "proslijeđen",
    "redirectionat",
    "ileti",
    "пересыл",
    "переадрес",
    "пересла",
    "пересил",
    "転送",
    "转发",
    "original message",
    "originalnachricht",
    "message d'origine",
    "ursprungliche nachricht",
    "mensaje original",
    "mensagem original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "originalmeddelande",
    "oprindelig meddelelse",
    "opprinnelig melding",
    "alkuperainen viesti",
)

# -- labels of forward header blocks ------------------------------------------------
# words: the labels of a forward's header block ("From:", "Envoyé :", "Betreff:"), per
# field, in the UI languages of common mail clients
HEADER_LABELS: dict[str, tuple[str, ...]] = {
    "from": (
        "from",
        "de",
        "von",
        "van",
        "da",
        "od",
        "fra",
        "från",
        "frá",
        "lähettäjä",
        "feladó",
        "от",
        "від",
        "від кого",
        "отправитель",
        "kimden",
        "gönderen",
        "mittente",
        "nadawca",
        "šalje",
        "saatja",
        "expeditorul",
        "expeditor",
        "de la",
        "送信元",
        "差出人",
        "发件人",
        "寄件者",
        "afzender",
        "remitente",
        "expéditeur",
        "absender",
        "보낸 사람",
        "avsändare",
        "odesílatel",
        "odosielateľ",
        "pošiljatelj",
        "afsender",
        "avsender",
        "sender",
    ),
    "date": (
        "date",
        "sent",
        "datum",
        "fecha",
        "enviado",
        "enviada",
        "enviado el",
        "enviada em",
        "enviado em",
        "envoyé",
        "envoye",
        "envoyé le",
        "gesendet",
        "data",
        "dátum",
        "дата",
        "dato",
        "päivämäärä",
        "päiväys",
        "tarih",
        "dată",
        "日付",
        "日期",
        "送信日時",
        "verzonden",
        "verstuurd",
        "inviato",
        "skickat",
        "sendt",
        "lähetetty",
        "elküldve",
        "odesláno",
        "wysłano",
        "wyslano",
        "wysłane",
        "wysłany",
        "wysłana",
        "inviata",
        "skickades",
        "отправлено",
        "надіслано",
        "gönderildi",
        "trimis",
        "kuupäev",
        "poslano",
        "saadetud",
        "odoslané",
        "sent at",
    ),
    "to": (
        "to",
        "à",
        "a",
        "an",
        "para",
        "aan",
        "til",
        "till",
        "komu",
        "kime",
        "кому",
        "címzett",
        "vastaanottaja",
        "do",
        "destinatarul",
        "către",
        "prima",
        "送信先",
        "宛先",
        "收件人",
        "pour",
        "adresat",
        "saaja",
        "primatelj",
    ),
    "cc": (
        "cc",
        "kopie",
        "kopia",
        "копия",
        "копія",
        "kopi",
        "kopio",
        "dw",
        "másolat",
        "másolatot kap",
        "bilgi",
        "copie à",
        "cópia",
        "copia",
        "kopie (cc)",
        "cc (kopie)",
        "kópia",
        "bcc",
        "cci",
    ),
    "subject": (
        "subject",
        "objet",
        "sujet",
        "betreff",
        "asunto",
        "assunto",
        "oggetto",
        "onderwerp",
        "emne",
        "ämne",
        "temat",
        "předmět",
        "predmet",
        "тема",
        "tárgy",
        "konu",
        "aihe",
        "subiect",
        "subiectul",
        "naslov",
        "件名",
        "主题",
        "主旨",
        "teema",
    ),
    "reply_to": ("reply-to", "répondre à", "antwort an", "responder a", "rispondi a", "svar til"),
    # lines Outlook adds inside the block; kept so the block is not cut short
    "other": (
        "importance",
        "wichtigkeit",
        "importancia",
        "priorité",
        "priority",
        "sensitivity",
        "attachments",
        "anlagen",
        "pièces jointes",
        "datos adjuntos",
        "adjuntos",
        "anexos",
        "sent by",
        "on behalf of",
    ),
}
