"""Hostile mail: every shape known to make a mail reader do more than linear work, each
scalable to the size an MTA lets through (a header section under 100 kB, a body of a
few megabytes).

Each shape is a family: ``SHAPES[name](n)`` gives the mail with ``n`` repetitions of
the hostile unit, sent as an authenticated owner forward (the longest path through
introd's reading) unless the shape is about a stranger's mail. ``hostile_mails()``
yields every shape at the size the MTA limit allows; tests and bench/hostile.py use it.

The families:
- CPython's header parser (email._header_value_parser) is quadratic or worse in
  comments, nested comments, obsolete dots and phrases, encoded words, quoted strings,
  quoted pairs, obsolete routes, domain literals, groups and long address lists; every
  address header it reads (From, To, Cc, Reply-To, Sender, and those of an attached
  message) and the unstructured ones with encoded words (Subject) are attack surfaces;
  so are the MIME parameters (RFC 2231 continuations) and sheer header counts.
- introd's own reading: a request that is one huge paragraph, a note with thousands
  of addresses or names, forward markers repeated, quoting thousands deep, long lines
  without spaces, huge text and HTML parts.
- structure: HTML nested hundreds of thousands deep, MIME multiparts nested deep,
  tens of thousands of parts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

OWNER = "lisa@example.test"
INTROS = "intros@example.test"
TRUSTED = "mx.example.test"
AUTH_OK = (
    f"Authentication-Results: {TRUSTED}; dkim=pass header.d=example.test; "
    f"spf=pass smtp.mailfrom={OWNER}"
)
HEADER_LIMIT = 100_000  # what the MTA lets through (Postfix header_size_limit: 102400)

REQUEST = (
    "Dear Lisa,\n\nCould you please introduce me to Bob Jones at BigChem? I applied "
    "for the Technology Transfer Manager position and would like to learn about the "
    "team before my interviews.\n\nThank you,\nTim Walker\n"
)


def _fold(value: str, width: int = 900) -> str:
    """Fold a long header value so that no line passes ``width`` (RFC 5322 allows 998):
    at a space where there is one, else anywhere (CRLF + space adds white space, which
    the shapes here tolerate)."""
    lines: list[str] = []
    rest = value
    while len(rest) > width:
        cut = rest.rfind(" ", width // 2, width)
        if cut <= 0:
            lines.append(rest[:width])
            rest = " " + rest[width:]
        else:
            lines.append(rest[:cut])
            rest = rest[cut:]
    lines.append(rest)
    return "\r\n".join(lines)


def mail(
    *,
    headers: dict[str, str] | None = None,
    body: str = REQUEST,
    content_type: str = 'text/plain; charset="utf-8"',
    owner: bool = True,
    forward: bool = True,
    raw_body: bytes | None = None,
) -> bytes:
    """One mail: the given headers (folded) over an owner's forward of ``body``."""
    h: dict[str, str] = {}
    if owner:
        h["Authentication-Results"] = AUTH_OK.partition(": ")[2]
    h.update(
        {
            "From": f"Lisa Balbes <{OWNER}>" if owner else "Mallory <m@evil.example>",
            "To": INTROS,
            "Subject": "Fwd: Introduction request",
            "Date": "Tue, 08 Dec 2026 10:00:00 +0000",
            "Message-ID": "<hostile@mail.example.test>",
            "MIME-Version": "1.0",
            "Content-Type": content_type,
        }
    )
    for name, value in (headers or {}).items():
        h[name] = value
    head = "\r\n".join(f"{name}: {_fold(value)}" for name, value in h.items())
    if raw_body is None:
        text = body
        if forward:
            text = (
                "intro: Bob Jones <bob@bigchem.example>\n\n"
                "---------- Forwarded message ---------\n"
                "From: Tim Walker <tim@walker.example>\n"
                "Date: Mon, Dec 7, 2026 at 9:12 PM\n"
                f"Subject: Introduction\nTo: Lisa Balbes <{OWNER}>\n\n\n{body}\n"
            )
        raw_body = text.replace("\n", "\r\n").encode("utf-8")
    return head.encode("utf-8") + b"\r\n\r\n" + raw_body


def as_stranger(raw: bytes, n: int) -> bytes:
    """The same mail from a stranger, with a Message-ID of its own (the n-th)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.startswith(b"Authentication-Results:")]
    head = b"\r\n".join(lines).replace(f"<{OWNER}>".encode(), b"<stranger@elsewhere.example>")
    head = head.replace(b"<hostile@mail.example.test>", f"<hostile.{n}@elsewhere.example>".encode())
    return head + b"\r\n\r\n" + body


def attached(inner_headers: dict[str, str], *, inner_body: str = REQUEST) -> bytes:
    """An owner's forward with the request attached as message/rfc822, whose own headers
    carry the hostile shape."""
    inner = {
        "From": "Tim Walker <tim@walker.example>",
        "To": OWNER,
        "Subject": "Introduction",
        "Date": "Mon, 07 Dec 2026 21:12:00 +0000",
    }
    inner.update(inner_headers)
    inner_raw = "\r\n".join(f"{k}: {_fold(v)}" for k, v in inner.items())
    body = (
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "intro: Bob Jones <bob@bigchem.example>\r\n\r\n"
        "--b1\r\nContent-Type: message/rfc822\r\n\r\n"
        f"{inner_raw}\r\n\r\n{inner_body}\r\n--b1--\r\n".replace("\n", "\r\n").replace(
            "\r\r\n", "\r\n"
        )
    )
    return mail(content_type='multipart/mixed; boundary="b1"', raw_body=body.encode("utf-8"))


def _address(n: int, unit: str, tail: str = "Tim <tim@walker.example>") -> str:
    return unit * n + tail


# -- the families -----------------------------------------------------------------
# each takes n (the number of hostile units) and returns the mail's bytes


def from_comments(n: int) -> bytes:
    return mail(headers={"From": _address(n, "(c) ", f"Lisa <{OWNER}>")})


def from_nested_comment(n: int) -> bytes:
    return mail(headers={"From": "(" * n + "c" + ")" * n + f" Lisa <{OWNER}>"})


def all_address_comments(n: int) -> bytes:
    return mail(
        headers={
            "From": _address(n, "(c) ", f"Lisa <{OWNER}>"),
            "To": _address(n, "(c) ", INTROS),
            "Cc": _address(n, "(c) "),
        }
    )


def cc_obs_dots(n: int) -> bytes:
    return mail(headers={"Cc": "." * n + " <tim@walker.example>"})


def to_obs_phrase(n: int) -> bytes:
    return mail(headers={"To": "a. " * n + f"<{INTROS}>"})


def local_part_dots(n: int) -> bytes:
    return mail(headers={"Cc": "a" + "." * n + "b@walker.example"})


def subject_encoded_words(n: int) -> bytes:
    return mail(headers={"Subject": " ".join(["=?utf-8?q?a?="] * n)})


def subject_encoded_words_b64(n: int) -> bytes:
    return mail(headers={"Subject": " ".join(["=?utf-8?b?w6k=?="] * n)})


def from_encoded_words(n: int) -> bytes:
    return mail(headers={"From": " ".join(["=?utf-8?q?L?="] * n) + f" <{OWNER}>"})


def from_quoted_strings(n: int) -> bytes:
    return mail(headers={"From": '"a" ' * n + f"<{OWNER}>"})


def from_quoted_pairs(n: int) -> bytes:
    return mail(headers={"From": '"' + "\\a" * n + f'" <{OWNER}>'})


def cc_many_addresses(n: int) -> bytes:
    return mail(headers={"Cc": ", ".join(f"p{i}@x.example" for i in range(n))})


def cc_empty_list_items(n: int) -> bytes:
    return mail(headers={"Cc": "," * n + " tim@walker.example"})


def cc_groups(n: int) -> bytes:
    return mail(headers={"Cc": "g: ; " * n + "tim@walker.example"})


def cc_obs_route(n: int) -> bytes:
    return mail(headers={"Cc": "<" + "@a.example," * n + "@b.example:tim@walker.example>"})


def cc_domain_literal(n: int) -> bytes:
    return mail(headers={"Cc": "tim@[" + "1." * n + "1]"})


def cc_angle_brackets(n: int) -> bytes:
    return mail(headers={"Cc": "<" * n + "tim@walker.example" + ">" * n})


def message_id_comments(n: int) -> bytes:
    return mail(headers={"Message-ID": "(c)" * n + "<x@y.example>"})


def references_many(n: int) -> bytes:
    return mail(
        headers={
            "References": " ".join(f"<r{i}@x.example>" for i in range(n)),
            "In-Reply-To": "<r0@x.example>",
        }
    )


def date_comments(n: int) -> bytes:
    return mail(headers={"Date": "Tue, 08 Dec 2026 10:00:00 +0000 " + "(c)" * n})


def content_type_params(n: int) -> bytes:
    params = "".join(f'; x{i}*{i}*="a"' for i in range(n))
    return mail(content_type=f'text/plain; charset="utf-8"{params}')


def content_type_quoted_semicolons(n: int) -> bytes:
    return mail(content_type='text/plain; charset="utf-8"; x="' + ";" * n + '"')


def many_headers(n: int) -> bytes:
    extra = "".join(f"X-H{i}: v\r\n" for i in range(n))
    raw = mail()
    return extra.encode() + raw


def many_cc_headers(n: int) -> bytes:
    extra = "".join(f"Cc: p{i}@x.example\r\n" for i in range(n))
    return extra.encode() + mail()


def many_auth_results(n: int) -> bytes:
    extra = "".join(
        f"Authentication-Results: {TRUSTED}; dkim=pass header.d=example.test\r\n" for _ in range(n)
    )
    return extra.encode() + mail()


def attached_from_comments(n: int) -> bytes:
    return attached({"From": _address(n, "(c) ")})


def attached_subject_encoded_words(n: int) -> bytes:
    return attached({"Subject": " ".join(["=?utf-8?q?a?="] * n)})


def stranger_from_comments(n: int) -> bytes:
    return mail(headers={"From": _address(n, "(c) ", "Mallory <m@evil.example>")}, owner=False)


def subject_many_words(n: int) -> bytes:
    return mail(headers={"Subject": "Fwd: introduce me to Bob Jones " * n})


def inline_from_comments(n: int) -> bytes:
    """An inline forward block whose From line is all comments."""
    body = (
        "---------- Forwarded message ---------\n"
        f"From: {'(c) ' * n}Tim <tim@walker.example>\nSubject: x\n\n{REQUEST}"
    )
    return mail(body=body, forward=False)


def inline_cc_many(n: int) -> bytes:
    body = (
        "---------- Forwarded message ---------\nFrom: Tim <tim@walker.example>\n"
        f"Cc: {', '.join(f'p{i}@x.example' for i in range(n))}\nSubject: x\n\n{REQUEST}"
    )
    return mail(body=body, forward=False)


def one_paragraph(n: int) -> bytes:
    """A request that is one paragraph of ``n`` words, no line breaks."""
    words = (
        "please introduce me to Bob Jones at BigChem because I would like to learn about the team "
    ).split()
    return mail(body=" ".join(words[i % len(words)] for i in range(n)))


def one_long_word(n: int) -> bytes:
    return mail(body="a" * n)


def many_sentences_one_line(n: int) -> bytes:
    return mail(body="Could you introduce me to Bob Jones. " * n)


def many_capitalised_names(n: int) -> bytes:
    return mail(body=" ".join(f"Mr Jones{i % 50} Smith" for i in range(n)))


def note_many_addresses(n: int) -> bytes:
    body = "\n".join(f"intro: P{i} <p{i}@x.example>" for i in range(n))
    return mail(body=body, forward=False)


def note_many_arrows(n: int) -> bytes:
    return mail(body=" → ".join(f"P{i} <p{i}@x.example>" for i in range(n)), forward=False)


def forward_markers(n: int) -> bytes:
    block = "---------- Forwarded message ---------\nFrom: Tim <tim@walker.example>\nSubject: x\n\n"
    return mail(body=block * n + REQUEST, forward=False)


def forward_header_lines(n: int) -> bytes:
    body = (
        "---------- Forwarded message ---------\n"
        + "From: Tim <tim@walker.example>\n" * n
        + "\n"
        + REQUEST
    )
    return mail(body=body, forward=False)


def deep_quoting(n: int) -> bytes:
    return mail(body="\n".join(">" * i + " hello" for i in range(n)) + "\n" + REQUEST)


def quote_prefix_one_line(n: int) -> bytes:
    return mail(body="> " * n + "hello\n" + REQUEST)


def many_lines(n: int) -> bytes:
    return mail(body="x\n" * n + REQUEST)


def many_blank_lines(n: int) -> bytes:
    return mail(body="\n" * n + REQUEST)


def huge_text_part(n: int) -> bytes:
    return mail(body=(REQUEST + "\n") * n)


def _html(html: str) -> bytes:
    return mail(
        content_type='text/html; charset="utf-8"', forward=False, raw_body=html.encode("utf-8")
    )


def nested_divs(n: int) -> bytes:
    return _html("<div>" * n + "Please introduce me to Bob Jones." + "</div>" * n)


def nested_blockquotes(n: int) -> bytes:
    return _html("<blockquote>" * n + "hello" + "</blockquote>" * n)


def nested_lists(n: int) -> bytes:
    return _html("<ul><li>" * n + "hello" + "</li></ul>" * n)


def unclosed_tags(n: int) -> bytes:
    return _html("<b><i><span>" * n + "hello")


def many_mailto_links(n: int) -> bytes:
    return _html("".join(f'<a href="mailto:p{i}@x.example">P {i}</a> ' for i in range(n)))


def unclosed_anchor(n: int) -> bytes:
    return _html('<a href="mailto:a@b.example">' * n + "x")


def html_comments_open(n: int) -> bytes:
    return _html("<!--" * n + "hello")


def huge_html(n: int) -> bytes:
    return _html("<p>Please introduce me to Bob Jones at BigChem.</p>" * n)


def html_many_tables(n: int) -> bytes:
    return _html("<table><tr><td>" * n + "x" + "</td></tr></table>" * n)


def nested_multipart(n: int) -> bytes:
    body = ""
    for i in range(n):
        body += f'--b{i}\r\nContent-Type: multipart/mixed; boundary="b{i + 1}"\r\n\r\n'
    body += f"--b{n}\r\nContent-Type: text/plain\r\n\r\n{REQUEST}\r\n"
    for i in range(n, -1, -1):
        body += f"--b{i}--\r\n"
    return mail(content_type='multipart/mixed; boundary="b0"', raw_body=body.encode())


def nested_rfc822(n: int) -> bytes:
    inner = f"From: Tim <tim@walker.example>\r\nSubject: x\r\n\r\n{REQUEST}"
    for _ in range(n):
        inner = f"Content-Type: message/rfc822\r\n\r\n{inner}"
    return mail(content_type="message/rfc822", raw_body=inner.partition("\r\n\r\n")[2].encode())


def many_parts(n: int) -> bytes:
    part = "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return mail(
        content_type='multipart/mixed; boundary="b"', raw_body=(part * n + "--b--\r\n").encode()
    )


def many_alternatives(n: int) -> bytes:
    part = "--b\r\nContent-Type: text/html\r\n\r\n<p></p>\r\n"
    return mail(
        content_type='multipart/alternative; boundary="b"',
        raw_body=(part * n + "--b--\r\n").encode(),
    )


def base64_text(n: int) -> bytes:
    import base64

    data = base64.encodebytes(((REQUEST + "\n") * n).encode()).replace(b"\n", b"\r\n")
    return mail(
        content_type='text/plain; charset="utf-8"',
        headers={"Content-Transfer-Encoding": "base64"},
        raw_body=data,
    )


def part_header_comments(n: int) -> bytes:
    body = (
        "--b\r\nContent-Type: text/plain\r\n"
        + _fold("Content-Disposition: inline" + " (c)" * n)
        + "\r\n\r\n"
        + REQUEST
        + "\r\n--b--\r\n"
    )
    return mail(content_type='multipart/mixed; boundary="b"', raw_body=body.encode())


Shape = Callable[[int], bytes]

# name: (family, n at the size the MTA lets through or a body of ~2-5 MB)
SHAPES: dict[str, tuple[Shape, int]] = {
    # the header parser
    "from_comments": (from_comments, 20_000),
    "from_nested_comment": (from_nested_comment, 40_000),
    "all_address_comments": (all_address_comments, 8_000),
    "cc_obs_dots": (cc_obs_dots, 30_000),
    "to_obs_phrase": (to_obs_phrase, 30_000),
    "local_part_dots": (local_part_dots, 60_000),
    "subject_encoded_words": (subject_encoded_words, 7_000),
    "subject_encoded_words_b64": (subject_encoded_words_b64, 5_500),
    "from_encoded_words": (from_encoded_words, 7_000),
    "from_quoted_strings": (from_quoted_strings, 20_000),
    "from_quoted_pairs": (from_quoted_pairs, 45_000),
    "cc_many_addresses": (cc_many_addresses, 5_800),
    "cc_empty_list_items": (cc_empty_list_items, 90_000),
    "cc_groups": (cc_groups, 18_000),
    "cc_obs_route": (cc_obs_route, 8_000),
    "cc_domain_literal": (cc_domain_literal, 45_000),
    "cc_angle_brackets": (cc_angle_brackets, 45_000),
    "message_id_comments": (message_id_comments, 30_000),
    "references_many": (references_many, 5_500),
    "date_comments": (date_comments, 30_000),
    "content_type_params": (content_type_params, 5_000),
    "content_type_quoted_semicolons": (content_type_quoted_semicolons, 90_000),
    "many_headers": (many_headers, 8_000),
    "many_cc_headers": (many_cc_headers, 4_500),
    "many_auth_results": (many_auth_results, 1_000),
    "attached_from_comments": (attached_from_comments, 20_000),
    "attached_subject_encoded_words": (attached_subject_encoded_words, 7_000),
    "stranger_from_comments": (stranger_from_comments, 20_000),
    "part_header_comments": (part_header_comments, 30_000),
    "subject_many_words": (subject_many_words, 3_000),
    # introd's own reading
    "inline_from_comments": (inline_from_comments, 20_000),
    "inline_cc_many": (inline_cc_many, 5_000),
    "one_paragraph": (one_paragraph, 18_000),
    "one_long_word": (one_long_word, 1_000_000),
    "many_sentences_one_line": (many_sentences_one_line, 3_000),
    "many_capitalised_names": (many_capitalised_names, 10_000),
    "note_many_addresses": (note_many_addresses, 3_000),
    "note_many_arrows": (note_many_arrows, 3_000),
    "forward_markers": (forward_markers, 2_000),
    "forward_header_lines": (forward_header_lines, 3_000),
    "deep_quoting": (deep_quoting, 1_000),
    "quote_prefix_one_line": (quote_prefix_one_line, 50_000),
    "many_lines": (many_lines, 200_000),
    "many_blank_lines": (many_blank_lines, 300_000),
    "huge_text_part": (huge_text_part, 20_000),
    "base64_text": (base64_text, 20_000),
    # structure
    "nested_divs": (nested_divs, 200_000),
    "nested_blockquotes": (nested_blockquotes, 50_000),
    "nested_lists": (nested_lists, 50_000),
    "unclosed_tags": (unclosed_tags, 50_000),
    "many_mailto_links": (many_mailto_links, 20_000),
    "unclosed_anchor": (unclosed_anchor, 50_000),
    "html_comments_open": (html_comments_open, 200_000),
    "huge_html": (huge_html, 40_000),
    "html_many_tables": (html_many_tables, 30_000),
    "nested_multipart": (nested_multipart, 5_000),
    "nested_rfc822": (nested_rfc822, 5_000),
    "many_parts": (many_parts, 50_000),
    "many_alternatives": (many_alternatives, 30_000),
}


def hostile_mails(scale: float = 1.0) -> Iterator[tuple[str, bytes]]:
    """(name, mail) for every shape, its unit repeated ``scale`` times the full count."""
    for name, (family, n) in SHAPES.items():
        yield name, family(max(1, int(n * scale)))
