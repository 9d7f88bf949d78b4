"""`parse`, `run` and the rest read with the same contacts; `parse` changes nothing."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from introd.cli import main
from world import INTROS, World, forward

GRETA = "greta.vogt@rheinpolymer.example"
ASKS_FOR_GRETA = (
    "Dear Lisa,\n\nI am finishing my PhD on polymer coatings and moving to Cologne.\n\n"
    "Could you please introduce me to Greta Vogt at Rheinpolymer? I would like to learn how "
    "her coatings group hires before I apply there.\n\nThank you,\nTim Walker\n"
)
CONNECTIONS_CSV = (
    "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    f"Greta,Vogt,https://www.linkedin.com/in/gvogt,{GRETA},Rheinpolymer,Head of Coatings,"
    "04 Mar 2025\n"
)


@pytest.mark.servers
class TestImportedContacts:
    def test_run_once_knows_a_target_only_in_the_imported_file(
        self, world: World, clock: Any, tmp_path: Path
    ) -> None:
        """After `contacts import`, the daemon finds a target named only in that file."""
        csv = tmp_path / "Connections.csv"
        csv.write_text(CONNECTIONS_CSV)
        assert main(["contacts", "import", "--config", str(world.config_path), str(csv)]) == 0
        world.owner_sends(forward("Tim Walker", "tim@example.test", ASKS_FOR_GRETA))
        assert world.run_once(clock.now()) == 0
        assert GRETA in {str(m["To"]).rsplit("<", 1)[-1].rstrip(">") for m in world.sent()}
        assert len(world.dovecot.messages(INTROS, "introd/done")) == 1


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


class TestParseHasNoSideEffects:
    def _config(self, tmp_path: Path) -> Path:
        (tmp_path / "contacts.yaml").write_text(
            "- {name: Bob Jones, email: bob@example.test, company: BigChem}\n"
        )
        path = tmp_path / "config.yaml"
        path.write_text(
            "owner: {name: Lisa Balbes, addresses: [lisa@example.test]}\n"
            "from: Lisa Balbes <lisa@example.test>\nreply_address: intros@example.test\n"
            "state_path: introd.db\nsecret_file: secret\ncontacts: [contacts.yaml]\n"
            "auth: {require: false}\n"
        )
        return path

    def test_parse_leaves_an_old_state_as_it_was(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A state that needs migrating is neither migrated nor written by `parse`."""
        config = self._config(tmp_path)
        db = sqlite3.connect(tmp_path / "introd.db")
        db.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied TEXT)")
        db.execute("INSERT INTO schema_migrations VALUES ('0001_initial', 'x')")
        db.commit()
        db.close()
        mail = tmp_path / "req.eml"
        mail.write_bytes(forward("Tim Walker", "tim@example.test", ASKS_FOR_GRETA))
        before = _digest(tmp_path)
        assert main(["parse", "--config", str(config), str(mail)]) == 0
        assert json.loads(capsys.readouterr().out)["kind"] == "request"
        assert _digest(tmp_path) == before

    def test_parse_reads_a_current_state_without_writing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A current state is read (duplicates are known) and left byte for byte."""
        from introd.state import Store

        config = self._config(tmp_path)
        Store(tmp_path / "introd.db").close()
        for extra in ("introd.db-wal", "introd.db-shm"):
            (tmp_path / extra).unlink(missing_ok=True)
        mail = tmp_path / "req.eml"
        mail.write_bytes(forward("Tim Walker", "tim@example.test", ASKS_FOR_GRETA))
        before = _digest(tmp_path)
        assert main(["parse", "--config", str(config), str(mail)]) == 0
        capsys.readouterr()
        after = _digest(tmp_path)
        assert {k: v for k, v in after.items() if not k.endswith(("-wal", "-shm"))} == before


class TestReasonIsThePolicysCall:
    SHORT = (
        "Hi Lisa,\n\nCould you introduce me to Bob Jones at BigChem? I want career "
        "advice.\n\nThanks,\nTim Walker\n"
    )

    def _parse(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], policies: str
    ) -> dict[str, Any]:
        config = TestParseHasNoSideEffects()._config(tmp_path)
        config.write_text(config.read_text() + policies)
        mail = tmp_path / "req.eml"
        mail.write_bytes(forward("Tim Walker", "tim@example.test", self.SHORT))
        assert main(["parse", "--config", str(config), str(mail)]) == 0
        out: dict[str, Any] = json.loads(capsys.readouterr().out)
        return out

    @pytest.mark.parametrize(
        "policies",
        [
            "policies: {no_reason: {enabled: false}}\n",
            "policies: {no_reason: {min_words: 2}}\n",
            "",
        ],
    )
    def test_a_short_reason_is_read_whatever_the_threshold(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], policies: str
    ) -> None:
        """The reader reports a short reason; only the no_reason policy judges its length."""
        out = self._parse(tmp_path, capsys, policies)
        assert out["request"]["reason"] == "I want career advice."
        fired = out["decision"]["rule"] == "no_reason"
        assert fired == (policies == "")
