"""Local files: the state, its WAL and SHM files, the secret, the lock and everything else
introd writes are private (0600, folders 0700) whatever the umask; a symbolic link where
one of them is created is refused with one line; one `introd run` per state."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from introd import files
from introd.runlock import RunLock, StateLocked, holder
from introd.state import Store
from helpers import Running
from world import OWNER, TIM_ASKS, forward

CONFIG: dict[str, Any] = {
    "owner": {"name": "Lisa Balbes", "addresses": [OWNER]},
    "imap": {
        "host": "127.0.0.1",
        "port": 9,
        "security": "none",
        "username": "i@example.test",
        "password": "x",
        "timeout": "2s",
    },
    "smtp": {"host": "127.0.0.1", "port": 9, "security": "none", "timeout": "2s"},
    "from": f"Lisa Balbes <{OWNER}>",
    "reply_address": "intros@example.test",
    "auth": {"trusted_authserv_ids": ["mx.example.test"]},
    "secret_file": "keys/secret",
    "state_path": "var/state/introd.db",
}


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


def _cli(*args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    def set_umask() -> None:
        if umask is not None:
            os.umask(umask)

    return subprocess.run(
        [sys.executable, "-m", "introd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=set_umask,
    )


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode in (1, 2), result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("introd: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("umask", [0o022, 0o000])
class TestModes:
    def test_state_secret_and_folders_created_private(
        self, cfg: Path, tmp_path: Path, umask: int
    ) -> None:
        """Under umask 022 and 000, the first command creates the state folder 0700, the
        state 0600 and the secret 0600 (with its folder 0700)."""
        result = _cli("cancel", "ABCDEF", "--config", str(cfg), umask=umask)
        assert result.returncode == 2 and "no intro ABCDEF" in result.stderr  # it did start
        assert _mode(tmp_path / "var") == 0o700 and _mode(tmp_path / "var/state") == 0o700
        assert _mode(tmp_path / "var/state/introd.db") == 0o600
        assert _mode(tmp_path / "keys") == 0o700 and _mode(tmp_path / "keys/secret") == 0o600

    def test_contacts_import_copy_is_private(self, cfg: Path, tmp_path: Path, umask: int) -> None:
        """`contacts import` stores its copy 0600 in a 0700 folder, whatever the umask."""
        src = tmp_path / "people.yaml"
        src.write_text(yaml.safe_dump([{"name": "Bob Jones", "email": "bob@example.test"}]))
        result = _cli("contacts", "import", str(src), "--config", str(cfg), umask=umask)
        assert result.returncode == 0, result.stderr
        assert _mode(tmp_path / "var/state/contacts") == 0o700
        assert _mode(tmp_path / "var/state/contacts/people.yaml") == 0o600

    def test_running_daemon_keeps_state_wal_shm_and_lock_private(
        self, tmp_path: Path, make_world: Any, umask: int
    ) -> None:
        """While the daemon runs (under umask 022 or 000) and has sent mail, the state, its
        -wal and -shm files and the lock file are all 0600."""
        world = make_world()
        world.write_config(state_path="var/introd.db")
        world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
        d = Running(world, preexec=lambda: None if os.umask(umask) < 0 else None)
        try:
            d.wait_event("mail_sent", 2, timeout=30)
            state = tmp_path / "var" / "introd.db"
            made = [state, Path(f"{state}-wal"), Path(f"{state}-shm"), Path(f"{state}.lock")]
            assert all(p.exists() for p in made)
            assert {p.name: _mode(p) for p in made} == {p.name: 0o600 for p in made}
            assert _mode(tmp_path / "var") == 0o700
            assert _mode(tmp_path / "secret") == 0o600
        finally:
            assert d.stop() == 0


class TestLoosePermissionsTightened:
    def test_existing_world_readable_state_and_secret_become_0600(
        self, cfg: Path, tmp_path: Path
    ) -> None:
        """A state and a secret left 0644 by an older version are made 0600 on open."""
        (tmp_path / "var/state").mkdir(parents=True)
        (tmp_path / "keys").mkdir()
        Store(tmp_path / "var/state/introd.db").close()
        (tmp_path / "keys/secret").write_text("0123456789abcdef0123456789abcdef\n")
        for p in (tmp_path / "var/state/introd.db", tmp_path / "keys/secret"):
            os.chmod(p, 0o644)
        result = _cli("cancel", "ABCDEF", "--config", str(cfg))
        assert "no intro ABCDEF" in result.stderr
        assert _mode(tmp_path / "var/state/introd.db") == 0o600
        assert _mode(tmp_path / "keys/secret") == 0o600


# every path where introd creates a secret or state file, as a key of CONFIG's layout
LINKED = {
    "secret": "keys/secret",
    "state": "var/state/introd.db",
    "state_wal": "var/state/introd.db-wal",
    "state_shm": "var/state/introd.db-shm",
    "state_journal": "var/state/introd.db-journal",
}


class TestSymlinksRefused:
    @pytest.mark.parametrize("dangling", [True, False], ids=["dangling", "to_a_file"])
    @pytest.mark.parametrize("where", sorted(LINKED))
    def test_link_at_secret_or_state_path_is_one_line(
        self, cfg: Path, tmp_path: Path, where: str, dangling: bool
    ) -> None:
        """A symlink (dangling, or to an existing file) at the secret, the state or its WAL,
        SHM or journal path: one line naming the link, no traceback, nothing written
        through it."""
        link = tmp_path / LINKED[where]
        link.parent.mkdir(parents=True, exist_ok=True)
        aim = tmp_path / "elsewhere"
        if not dangling:
            aim.write_bytes(b"someone else's file, long enough to be a secret\n")
        link.symlink_to(aim)
        before = aim.read_bytes() if aim.exists() else None
        result = _cli("cancel", "ABCDEF", "--config", str(cfg))
        _one_line_error(result, str(link), "symbolic link")
        assert (aim.read_bytes() if aim.exists() else None) == before

    def test_link_at_lock_path_is_one_line(self, cfg: Path, tmp_path: Path) -> None:
        """A symlink at the run lock: `run --once` refuses with one line before anything."""
        lock = tmp_path / "var/state/introd.db.lock"
        lock.parent.mkdir(parents=True)
        lock.symlink_to(tmp_path / "nowhere")
        result = _cli("run", "--once", "--config", str(cfg))
        _one_line_error(result, str(lock), "symbolic link")
        assert not (tmp_path / "nowhere").exists()

    def test_dangling_link_as_state_folder_is_one_line(self, cfg: Path, tmp_path: Path) -> None:
        """The state folder itself a dangling link: one line, no traceback."""
        (tmp_path / "var").mkdir()
        (tmp_path / "var/state").symlink_to(tmp_path / "gone")
        result = _cli("cancel", "ABCDEF", "--config", str(cfg))
        _one_line_error(result, "symbolic link")

    def test_create_private_never_follows_a_link(self, tmp_path: Path) -> None:
        """The helper itself refuses a link planted where it creates a file."""
        (tmp_path / "x").symlink_to(tmp_path / "y")
        with pytest.raises(files.UnsafePath):
            files.create_private(tmp_path / "x", b"data")
        assert not (tmp_path / "y").exists()


class TestOneRunPerState:
    def test_lock_refuses_a_second_holder_and_names_the_first(self, tmp_path: Path) -> None:
        """In one process: the second RunLock fails naming our PID; released, it is free."""
        state = tmp_path / "introd.db"
        with RunLock(state):
            assert holder(state) == os.getpid()
            with pytest.raises(StateLocked, match=f"pid {os.getpid()}"):
                RunLock(state)
        assert holder(state) is None
        RunLock(state).release()

    def test_second_daemon_and_run_once_refuse_while_one_runs(
        self, tmp_path: Path, make_world: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With a daemon running, a second `introd run` and a `run --once` exit 1 with one
        line naming the first daemon's PID and send nothing; `list`, `show`, `status` and
        `parse` still work; once it stopped, `run --once` works again."""
        world = make_world()
        eml = tmp_path / "req.eml"
        eml.write_bytes(forward("Tim Walker", "tim@example.test", TIM_ASKS))
        world.owner_sends(eml.read_bytes())
        d = Running(world)
        try:
            d.wait_event("mail_sent", 2, timeout=30)
            assert holder(tmp_path / "introd.db") == d.proc.pid
            for args in (["run"], ["run", "--once"]):
                result = _cli(*args, "--config", str(world.config_path))
                assert result.returncode == 1
                _one_line_error(result, f"pid {d.proc.pid}", "another introd")
            world.owner_sends(forward("Tim Walker", "tim@example.test", TIM_ASKS))
            for args in (["list"], ["status"], ["parse", str(eml)]):
                result = _cli(*args, "--config", str(world.config_path))
                assert result.returncode == 0, (args, result.stderr)
            intro_id = _cli("list", "--json", "--config", str(world.config_path)).stdout
            first = yaml.safe_load(intro_id)[0]["id"]
            assert _cli("show", first, "--config", str(world.config_path)).returncode == 0
        finally:
            assert d.stop() == 0
        assert len(world.sent()) == 2
        assert holder(tmp_path / "introd.db") is None
        result = _cli("run", "--once", "--config", str(world.config_path))
        assert result.returncode == 0, result.stderr


@pytest.fixture(autouse=True)
def _no_lingering_umask() -> Iterator[None]:
    old = os.umask(0o022)
    os.umask(old)
    yield
    assert os.umask(old) == old, "a test left the umask changed"


class TestTokenFile:
    def _token(self) -> Any:
        from introd.oauth2 import Token

        return Token(
            access_token="a",
            expires_at=None,
            refresh_token="r",
            scopes=(),
            account=None,
            flow="device",
            client_id="c",
            obtained_at=0.0,
        )

    @pytest.mark.parametrize("umask", [0o022, 0o000])
    def test_token_file_and_its_lock_are_private(self, tmp_path: Path, umask: int) -> None:
        """The OAuth token file, its folder and its lock are 0600/0700 under any umask."""
        from introd.oauth2 import _locked, write_token

        path = tmp_path / "oauth" / "token.json"
        old = os.umask(umask)
        try:
            with _locked(path):
                write_token(path, self._token())
        finally:
            os.umask(old)
        assert _mode(path) == 0o600 and _mode(tmp_path / "oauth") == 0o700
        assert _mode(path.with_name("token.json.lock")) == 0o600

    @pytest.mark.parametrize("where", ["token", "lock"])
    def test_link_at_token_file_or_lock_is_refused(self, tmp_path: Path, where: str) -> None:
        """A symlink at the token file or its lock: one AuthError naming it, nothing
        written through it."""
        from introd.exceptions import AuthError
        from introd.oauth2 import _locked, write_token

        path = tmp_path / "token.json"
        aim = tmp_path / "elsewhere"
        aim.write_text("keep\n")
        (path if where == "token" else path.with_name("token.json.lock")).symlink_to(aim)
        with pytest.raises(AuthError, match="symbolic link"):
            with _locked(path):
                write_token(path, self._token())
        assert aim.read_text() == "keep\n"


class TestCacheRoot:
    """The cache folder: the user's own, no one else's to write; reached through a link
    as systemd's DynamicUser= makes it, but only to such a folder."""

    def test_a_link_to_a_private_folder_is_the_folder(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from introd.files import cache_root

        real = tmp_path / "private" / "introd"
        real.mkdir(parents=True, mode=0o700)
        (tmp_path / "introd").symlink_to("private/introd")
        monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path / "introd"))
        assert cache_root() == tmp_path / "introd"
        real.chmod(0o777)
        assert cache_root() is None

    def test_made_private_when_missing_and_refused_when_others_may_write(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from introd.files import cache_root

        monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        root = cache_root()
        assert root == tmp_path / "xdg" / "introd" and root.stat().st_mode & 0o777 == 0o700
        root.chmod(0o770)
        assert cache_root() is None


class TestReadOwn:
    def test_a_file_a_link_a_fifo_and_nothing(self, tmp_path: Path) -> None:
        from introd.files import read_own

        (tmp_path / "own").write_bytes(b"kept")
        (tmp_path / "link").symlink_to(tmp_path / "own")
        os.mkfifo(tmp_path / "fifo")
        assert read_own(tmp_path / "own") == b"kept"
        assert read_own(tmp_path / "link") is None  # never through a link
        assert read_own(tmp_path / "fifo") is None  # not waited on
        assert read_own(tmp_path / "missing") is None
