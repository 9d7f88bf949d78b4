"""The floor: the least work any IMAP/SMTP program must do, run as its own process.

    python bench/floor.py fetch HOST PORT USER PASSWORD FOLDER
        fetch every mail of FOLDER with BODY.PEEK[] in batches of 200 and parse each
        with BytesParser(policy=default)
    python bench/floor.py send HOST PORT USER PASSWORD FILE
        send the mails pickled in FILE (a list of (mail_from, rcpt_tos, data)) over one
        SMTP connection
    python bench/floor.py idle HOST IMAP_PORT SMTP_PORT USER IMAP_PASSWORD SMTP_PASSWORD COUNT
        with one IMAP connection in IDLE on INBOX and one SMTP connection open, both from
        the start (prints "ready" then): at each EXISTS, fetch the new mail (BODY.PEEK[]),
        parse it and send two mails of an opt-in's size for it (to two addresses made
        from its Message-ID); end after COUNT mails

Each prints one JSON line: {"seconds": ..., "count": ...}.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import smtplib
import sys
import time
from email import policy
from email.parser import BytesParser

from imapclient import IMAPClient

BATCH = 200


def fetch(host: str, port: int, user: str, password: str, folder: str) -> dict[str, float]:
    """Connect, log in, fetch and parse every mail of `folder`; return the time it took."""
    start = time.perf_counter()
    client = IMAPClient(host, port=port, ssl=False, timeout=30)
    client.login(user, password)
    client.select_folder(folder, readonly=True)
    uids = sorted(client.search("ALL"))
    parser = BytesParser(policy=policy.default)
    count = 0
    for i in range(0, len(uids), BATCH):
        data = client.fetch(uids[i : i + BATCH], ["BODY.PEEK[]"])
        for item in data.values():
            message = parser.parsebytes(item[b"BODY[]"])
            count += message["Message-ID"] is not None
    client.logout()
    return {"seconds": time.perf_counter() - start, "count": count}


def send(host: str, port: int, user: str, password: str, path: str) -> dict[str, float]:
    """Send every pickled mail over one authenticated SMTP connection."""
    with open(path, "rb") as f:
        mails = pickle.load(f)
    start = time.perf_counter()
    with smtplib.SMTP(host, port, timeout=30, local_hostname="localhost") as smtp:
        smtp.login(user, password)
        for mail_from, rcpt_tos, data in mails:
            smtp.sendmail(mail_from, list(rcpt_tos), data)
    return {"seconds": time.perf_counter() - start, "count": len(mails)}


REPLY = (
    b"From: Lisa <intros@bench.example>\r\nTo: {to}\r\nSubject: Introduction?\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    + b"Would you like an introduction? Answer yes or no.\r\n"
    * 60
)


def idle(argv: list[str]) -> dict[str, float]:
    """The least a program must do to answer mail as it arrives: see the module's text."""
    host, imap_port, smtp_port, user, imap_password, smtp_password, count = argv
    client = IMAPClient(host, port=int(imap_port), ssl=False, timeout=30)
    client.login(user, imap_password)
    client.select_folder("INBOX")
    last = max(client.search("ALL"), default=0)
    smtp = smtplib.SMTP(host, int(smtp_port), timeout=30, local_hostname="localhost")
    smtp.login(user, smtp_password)
    parser = BytesParser(policy=policy.default)
    print("ready", flush=True)
    start, handled = time.perf_counter(), 0
    while handled < int(count):
        client.idle()
        while not any(len(r) > 1 and r[1] == b"EXISTS" for r in client.idle_check(timeout=30)):
            pass
        client.idle_done()
        new = [u for u in client.search(["UID", f"{last + 1}:*"]) if u > last]
        data = client.fetch(new, ["BODY.PEEK[]"]) if new else {}
        for uid in sorted(data):
            message = parser.parsebytes(data[uid][b"BODY[]"])
            # two addresses the benchmark can tell this request's answers by
            tag = hashlib.sha1(str(message["Message-ID"]).strip().encode()).hexdigest()[:12]
            for to in (f"a.{tag}@floor.example", f"b.{tag}@floor.example"):
                smtp.sendmail(user, [to], REPLY.replace(b"{to}", to.encode()))
            last, handled = uid, handled + 1
    smtp.quit()
    client.logout()
    return {"seconds": time.perf_counter() - start, "count": handled}


def main(argv: list[str]) -> int:
    if argv[0] == "idle":
        print(json.dumps(idle(argv[1:])))
        return 0
    what, host, port, user, password, arg = argv
    result = (fetch if what == "fetch" else send)(host, int(port), user, password, arg)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
