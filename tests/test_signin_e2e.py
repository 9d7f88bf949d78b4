"""OAuth 2.0 sign-in end to end: `introd auth login` (device flow, approved at the local
authorization server as a person would), the stories run over XOAUTH2/OAUTHBEARER, an
access token that expires mid-run, a revoked refresh token (auth_expired, nothing lost,
resumed after a new login and SIGHUP), and the bad inputs around the token file."""

from __future__ import annotations

import json
import signal
import threading
import urllib.request
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from introd import login
from introd.config import load_config
from introd.exceptions import AuthError

from helpers import Running, backlog_contacts, backlog_request, wait_for
from world import INTROS, TIM_ASKS, World, forward


TIM, BOB = "tim@example.test", "bob@example.test"

pytestmark = [
    pytest.mark.servers,
    pytest.mark.world(oauth=True),
]


def _approve_when_asked(token_server: Any, user: str = INTROS) -> threading.Thread:
    """Play the person: wait for the device code and enter it on the verification page."""

    def approve() -> None:
        code = token_server.wait_for_device_code(timeout=20)
        form = urlencode({"user_code": code, "user": user}).encode()
        urllib.request.urlopen(f"{token_server.url}/verify", data=form, timeout=10).read()

    thread = threading.Thread(target=approve, daemon=True)
    thread.start()
    return thread


def _login(world: World, token_server: Any, capsys: pytest.CaptureFixture[str]) -> str:
    approver = _approve_when_asked(token_server)
    assert world.cli("auth", "login") == 0
    approver.join(10)
    return capsys.readouterr().out


def _optin(world: World, user: str) -> Any:
    (msg,) = [m for m in world.inbox(user) if "[intro " in str(m["Subject"])]
    return msg


class TestLoginAndStories:
    def test_login_then_the_story_with_a_token_expiring_mid_run(
        self, world: World, token_server: Any, clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Device login, then request → opt-ins → yeses → one introduction, with every
        access token expiring in the middle: refreshed once, nothing lost or doubled."""
        assert world.cli("auth", "status") == 1, "not signed in yet"
        out = _login(world, token_server, capsys)
        assert "/verify" in out and "signed in as intros@example.test" in out
        token_file = world.tmp / "oauth2-token.json"
        stored = json.loads(token_file.read_text())
        assert stored["access_token"] not in out and stored["refresh_token"] not in out
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"

        assert world.cli("auth", "status") == 0
        status = capsys.readouterr().out
        assert "account: intros@example.test" in status and "expires" in status
        assert stored["access_token"] not in status and stored["refresh_token"] not in status

        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 2
        assert world.smtp.oauth_logins == [INTROS]

        token_server.expire_access_tokens()  # the hour is over, earlier than expected
        world.reply(BOB, _optin(world, BOB), "Sure, happy to talk to Tim.", now=clock.now())
        world.reply(TIM, _optin(world, TIM), "Yes please!", now=clock.now())
        clock.advance(timedelta(hours=1))
        assert world.run_once(clock.now()) == 0
        intro_mails = [m for m in world.sent() if "Auto-Submitted" not in m]
        assert len(intro_mails) == 1 and len(world.sent()) == 3
        assert token_server.stats.grants.count("refresh_token") == 1
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 3, "nothing is sent twice"
        assert len(world.dovecot.messages(INTROS, "introd/done")) == 3

    def test_revoked_refresh_token_in_run_once(
        self, world: World, token_server: Any, clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A revoked grant: run --once exits 1 with one line naming the fix; status,
        check-config and auth status all say a login is needed; a new login cures it."""
        _login(world, token_server, capsys)
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        token_server.revoke(INTROS)
        assert world.run_once(clock.now()) == 1
        captured = capsys.readouterr()
        errors = [ln for ln in captured.err.splitlines() if ln.startswith("introd:")]
        assert len(errors) == 1 and "introd auth login" in errors[0]
        assert "Traceback" not in captured.err
        assert captured.err.count('"event": "auth_expired"') == 1

        assert world.cli("status") == 1
        assert "sign-in:" in capsys.readouterr().out
        assert world.cli("check-config", "--offline") == 2
        assert "introd auth login" in capsys.readouterr().err
        assert world.cli("auth", "status") == 1

        _login(world, token_server, capsys)
        assert world.cli("auth", "status") == 0
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 2, "the request waited and is handled now"


class TestDaemonAuthExpired:
    def test_revoked_grant_backs_off_keeps_the_outbox_and_resumes_on_sighup(
        self, world: World, token_server: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The daemon logs auth_expired once, keeps running and reading, holds what it
        queued, and after a new login plus SIGHUP sends each mail exactly once."""
        _login(world, token_server, capsys)
        d = Running(world)
        try:
            wait_for(lambda: d.events("daemon_ready"))
            token_server.revoke(INTROS)
            world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
            wait_for(lambda: d.events("auth_expired"))
            wait_for(lambda: "outbox:   2 waiting" in self._status(world, capsys))
            assert world.sent() == []
            assert d.proc.poll() is None, "no crash loop: the daemon waits"
            status = self._status(world, capsys)
            assert "sign-in:" in status and "introd auth login" in status
            assert d.events("auth_expired")[0]["fix"].startswith("run `introd auth login`")

            _login(world, token_server, capsys)
            d.proc.send_signal(signal.SIGHUP)
            world.smtp.wait_for(2, timeout=20)
            wait_for(lambda: d.events("auth_recovered"))
            assert len(d.events("auth_expired")) == 1
            assert "outbox:   0 waiting" in self._status(world, capsys)
            assert "sign-in:" not in self._status(world, capsys)
        finally:
            assert d.stop() == 0
        assert len(world.sent()) == 2, "each opt-in exactly once"
        assert "Traceback" not in d.text()
        token = json.loads((world.tmp / "oauth2-token.json").read_text())
        assert token["access_token"] not in d.text()
        assert token["refresh_token"] not in d.text()

    def test_auth_expired_while_a_backlog_is_sent(
        self, world: World, token_server: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The grant revoked while a backlog is read: the sending after its first batch
        meets the refused refresh token, which is the daemon's auth_expired: logged once,
        the rest of the backlog read and queued, nothing sent, the outbox held back."""
        from introd.daemon import Daemon
        from introd.logs import setup_logging

        _login(world, token_server, capsys)
        world.write_contacts(backlog_contacts(3))
        world.write_config(imap={"batch_size": 1})
        for i in range(3):
            world.owner_sends(backlog_request(i))
        setup_logging("json", "info")
        daemon = Daemon(load_config(world.config_path))
        daemon.mailbox.connect()
        token_server.revoke(INTROS)
        try:
            assert daemon.process_mailbox() == 3
        finally:
            daemon.mailbox.close()
        assert daemon.auth_blocked and daemon._send_wait() > 0
        assert world.sent() == [] and daemon.store.outbox_depth() == 6
        err = capsys.readouterr().err
        assert err.count('"event": "auth_expired"') == 1 and "Traceback" not in err
        assert world.cli("status") == 1
        assert "sign-in:  the provider refused the refresh token" in capsys.readouterr().out
        daemon._auth_ok()
        assert not daemon.auth_blocked and daemon._send_wait() == 0
        assert '"event": "auth_recovered"' in capsys.readouterr().err

    @staticmethod
    def _status(world: World, capsys: pytest.CaptureFixture[str]) -> str:
        capsys.readouterr()
        world.cli("status")
        return capsys.readouterr().out


class TestBadInput:
    def test_malformed_token_file(
        self, world: World, clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A token file that is not ours: run --once exits 1 with one line naming it;
        auth status says so; the mail stays for a later run."""
        (world.tmp / "oauth2-token.json").write_text("{garbage")
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(clock.now()) == 1
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("introd:")]
        assert len(lines) == 1 and "oauth2-token.json" in lines[0]
        assert "Traceback" not in err
        assert world.cli("auth", "status") == 1
        assert "not a token file introd wrote" in capsys.readouterr().out
        assert len(world.dovecot.messages(INTROS)) == 1, "the request is still there"

    def test_not_signed_in_is_reported_by_check_config(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """check-config --offline names the missing login."""
        assert world.cli("check-config", "--offline") == 2
        assert "not signed in: run `introd auth login`" in capsys.readouterr().err

    def test_auth_without_an_oauth2_section(
        self, world: World, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`introd auth status` without oauth2: is a usage error, one line."""
        world.extra_config = {}
        world.write_config(oauth2=None)
        assert world.cli("auth", "status") == 2
        assert "no oauth2: section" in capsys.readouterr().err


class TestOtherLogins:
    def test_device_sign_in_refused(
        self, world: World, token_server: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The person refuses on the verification page: one line, nothing stored."""

        def refuse() -> None:
            token_server.deny(token_server.wait_for_device_code(timeout=20))

        thread = threading.Thread(target=refuse, daemon=True)
        thread.start()
        assert world.cli("auth", "login") == 1
        thread.join(10)
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("introd:")]
        assert len(lines) == 1 and "access_denied" in lines[0]
        assert not (world.tmp / "oauth2-token.json").exists()

    def test_client_credentials_login_and_status(
        self, world: World, token_server: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """client_credentials: auth status needs no login; auth login proves the app."""
        token_server.add_client("app", "app-secret", app_mailbox=INTROS)
        (world.tmp / "app-secret").write_text("app-secret\n")
        world.write_config(
            oauth2={
                "provider": "custom",
                "client_id": "app",
                "client_secret_file": "app-secret",
                "flow": "client_credentials",
                "token_url": token_server.token_url,
                "timeout": "2s",
            }
        )
        assert world.cli("auth", "status") == 0
        assert "introd fetches one itself" in capsys.readouterr().out
        assert world.cli("auth", "login") == 0
        assert "signed in as intros@example.test" in capsys.readouterr().out
        assert world.cli("auth", "status") == 0
        out = capsys.readouterr().out
        assert "refresh token: none (client_credentials needs none)" in out
        assert "app-secret" not in out
        assert token_server.stats.grants == ["client_credentials"]


class TestAuthorizationCode:
    def _config(self, world: World, token_server: Any) -> Any:
        token_server.add_client("desktop", "desktop-secret")
        token_server.authorizing_user = INTROS
        world.write_config(
            oauth2={
                "provider": "custom",
                "client_id": "desktop",
                "client_secret": "desktop-secret",
                "flow": "authorization_code",
                "token_url": token_server.token_url,
                "authorization_url": token_server.authorize_url,
                "device_authorization_url": None,
                "timeout": "2s",
            }
        )
        return load_config(world.config_path)

    def test_loopback_redirect_with_pkce(self, world: World, token_server: Any, clock: Any) -> None:
        """The browser comes back to the loopback listener; PKCE is checked; mail goes."""
        cfg = self._config(world, token_server)

        def browser(line: str) -> None:
            if line.startswith("http://"):
                threading.Thread(
                    target=lambda: urllib.request.urlopen(line, timeout=10).read(), daemon=True
                ).start()

        token = login.login(cfg, out=browser)
        assert token.refresh_token and token.account == INTROS
        world.owner_sends(forward("Tim Walker", TIM, TIM_ASKS))
        assert world.run_once(clock.now()) == 0
        assert len(world.sent()) == 2

    def test_pasted_redirect(self, world: World, token_server: Any) -> None:
        """--paste: the address the browser ended on is pasted; a forged state is refused."""
        cfg = self._config(world, token_server)
        seen: list[str] = []

        def where_the_browser_ends(tamper: bool) -> str:
            url = next(ln for ln in seen if ln.startswith("http://"))

            class NoRedirect(urllib.request.HTTPRedirectHandler):
                def redirect_request(self, *args: Any) -> None:
                    return None

            opener = urllib.request.build_opener(NoRedirect)
            try:
                opener.open(url, timeout=10)
            except urllib.error.HTTPError as exc:
                location = exc.headers["Location"]
            return location.replace("state=", "state=x") if tamper else location

        with pytest.raises(AuthError, match="state does not match"):
            login.login(
                cfg, out=seen.append, paste=True, read_line=lambda: where_the_browser_ends(True)
            )
        seen.clear()
        token = login.login(
            cfg, out=seen.append, paste=True, read_line=lambda: where_the_browser_ends(False)
        )
        assert token.refresh_token
        assert token_server.stats.grants == ["authorization_code"]
