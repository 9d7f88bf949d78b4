"""The floor: the least work any IMAP/SMTP program must do, run as its own process.

    python bench/floor.py fetch HOST PORT USER PASSWORD FOLDER
        fetch every mail of FOLDER with BODY.PEEK[] in batches of 200 and parse each
        with BytesParser(policy=default)
    python bench/floor.py send HOST PORT USER PASSWORD FILE
        send the mails pickled in FILE (a list of (mail_from, rcpt_tos, data)) over one
        SMTP connection

Each prints one JSON line: {"seconds": ..., "count": ...}.
"""

from __future__ import annotations

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


def main(argv: list[str]) -> int:
    what, host, port, user, password, arg = argv
    result = (fetch if what == "fetch" else send)(host, int(port), user, password, arg)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
