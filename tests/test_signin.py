"""Signing in to the mail servers: password_command, the oauth2 config, the token file,
and SASL OAUTHBEARER / XOAUTH2 against the real Dovecot (oauth2 passdb) and aiosmtpd,
both checking tokens at the local authorization server."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from introd import config as config_mod
from introd import oauth2, sasl
from introd.config import build_config
from introd.delivery import SmtpConnection
from introd.exceptions import AuthError, AuthExpired, ConfigError, DeliveryError, MailboxError
from introd.mailbox import Mailbox

from test_config import config_with

INTROS = "intros@example.test"
CLIENT = "introd-test-client"


class TestPasswordCommand:
    def test_first_line_of_output_is_the_password(self, tmp_path: Path) -> None:
        """password_command's first line is the password; later lines are ignored."""
        cfg = build_config(
            config_with(imap__password=None, imap__password_command="printf 'pw1\\nsecond\\n'"),
            path=tmp_path / "c.yaml",
        )
        assert cfg.imap is not None and cfg.imap.password.reveal() == "pw1"

    @pytest.mark.parametrize(
        "command, problem",
        [
            ("echo leaked-secret; echo more-leak >&2; exit 3", "exit status 3"),
            ("true", "printed nothing"),
            ("/nonexistent/helper", "exit status 127"),
        ],
        ids=["fails", "prints_nothing", "missing"],
    )
    def test_failing_command_is_one_line_naming_the_key(
        self, tmp_path: Path, command: str, problem: str
    ) -> None:
        """A failing command is a ConfigError naming the key; its output never shows."""
        cfg = build_config(
            config_with(imap__password=None, imap__password_command=command),
            path=tmp_path / "c.yaml",
        )
        assert cfg.imap is not None
        with pytest.raises(ConfigError) as err:
            cfg.imap.password.reveal()
        message = str(err.value)
        assert "imap.password_command" in message and problem in message
        assert "leak" not in message and "\n" not in message

    def test_command_that_hangs_is_stopped(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A command that never ends is stopped after the timeout, with a clear error."""
        monkeypatch.setattr(config_mod, "PASSWORD_COMMAND_TIMEOUT", 0.2)
        cfg = build_config(
            config_with(imap__password=None, imap__password_command="sleep 30"),
            path=tmp_path / "c.yaml",
        )
        assert cfg.imap is not None
        with pytest.raises(ConfigError, match="imap.password_command.*did not finish"):
            cfg.imap.password.reveal()

    def test_only_one_way_to_give_a_password(self, tmp_path: Path) -> None:
        """password and password_command together are a config error."""
        with pytest.raises(ConfigError, match="give only one of password, password_command"):
            build_config(
                config_with(imap__password_command="pass show x"), path=tmp_path / "c.yaml"
            )


def oauth_config(**oauth: Any) -> dict[str, Any]:
    data = config_with(
        imap__auth="oauth2", smtp__auth="oauth2", smtp__username="intros@example.com"
    )
    data["oauth2"] = oauth
    return data


class TestOAuth2Config:
    def test_microsoft_client_credentials_defaults(self, tmp_path: Path) -> None:
        """Microsoft with a secret: client_credentials, the tenant's endpoints, .default."""
        cfg = build_config(
            oauth_config(
                provider="microsoft",
                client_id="abc",
                tenant="contoso.onmicrosoft.com",
                client_secret="s",
            ),
            path=tmp_path / "c.yaml",
        )
        o = cfg.oauth2
        assert o is not None and o.flow == "client_credentials"
        assert o.token_url == (
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        )
        assert o.scopes == ("https://outlook.office365.com/.default",)
        assert o.token_file == cfg.state_path.parent / "oauth2-token.json"
        assert cfg.imap is not None and cfg.imap.oauth2 == o
        assert "s" != repr(o.client_secret) and "***" in repr(o.client_secret)

    def test_microsoft_device_flow_scopes(self, tmp_path: Path) -> None:
        """A public Microsoft client asks for IMAP and SMTP scopes and offline_access."""
        cfg = build_config(
            oauth_config(provider="microsoft", client_id="abc", flow="device"),
            path=tmp_path / "c.yaml",
        )
        assert cfg.oauth2 is not None
        assert "https://outlook.office.com/IMAP.AccessAsUser.All" in cfg.oauth2.scopes
        assert "offline_access" in cfg.oauth2.scopes
        assert cfg.oauth2.device_authorization_url is not None
        assert "/organizations/" in cfg.oauth2.device_authorization_url

    @pytest.mark.parametrize(
        "oauth, key, words",
        [
            (
                {"provider": "google", "client_id": "x", "flow": "device"},
                "oauth2.flow",
                "device flow refuses",
            ),
            (
                {
                    "provider": "google",
                    "client_id": "x",
                    "flow": "client_credentials",
                    "client_secret": "s",
                },
                "oauth2.flow",
                "no client_credentials",
            ),
            (
                {"provider": "microsoft", "client_id": "x", "flow": "client_credentials"},
                "oauth2.tenant",
                "is required",
            ),
            (
                {"provider": "custom", "client_id": "x", "flow": "device"},
                "oauth2.token_url",
                "is required",
            ),
            (
                {"provider": "custom", "client_id": "x", "token_url": "http://idp.example/token"},
                "oauth2.token_url",
                "https://",
            ),
            (
                {"provider": "microsoft", "client_id": "x", "flow": "sideways"},
                "oauth2.flow",
                "expected one of",
            ),
            (
                {"provider": "microsoft", "client_id": "x", "colour": "blue"},
                "oauth2.colour",
                "unknown key",
            ),
        ],
        ids=[
            "google_device",
            "google_app",
            "no_tenant",
            "no_token_url",
            "http_url",
            "bad_flow",
            "unknown_key",
        ],
    )
    def test_bad_oauth2_sections(
        self, tmp_path: Path, oauth: dict[str, Any], key: str, words: str
    ) -> None:
        """Each mistake in oauth2: is reported with its key."""
        with pytest.raises(ConfigError) as err:
            build_config(oauth_config(**oauth), path=tmp_path / "c.yaml")
        assert f"'{key}'" in str(err.value) and words in str(err.value)

    def test_auth_oauth2_needs_the_section(self, tmp_path: Path) -> None:
        """imap.auth: oauth2 without an oauth2: section is an error at imap.auth."""
        with pytest.raises(ConfigError, match="'imap.auth': oauth2 needs an oauth2: section"):
            build_config(config_with(imap__auth="oauth2"), path=tmp_path / "c.yaml")

    @pytest.mark.parametrize("host", ["outlook.office365.com", "imap-mail.outlook.com"])
    def test_password_on_a_host_that_refuses_passwords(self, tmp_path: Path, host: str) -> None:
        """check-config's warnings tell a password user of Microsoft what to do instead."""
        cfg = build_config(config_with(imap__host=host), path=tmp_path / "c.yaml")
        (advice,) = [w for w in config_mod.warnings_for(cfg) if host in w]
        assert "imap.auth: oauth2" in advice and "docs/providers.md" in advice


def _token(
    access: str = "at-1", *, expires_at: float | None = None, refresh: str | None = "rt-1"
) -> oauth2.Token:
    return oauth2.Token(
        access_token=access,
        expires_at=expires_at,
        refresh_token=refresh,
        scopes=("mail",),
        account=INTROS,
        flow="device",
        client_id=CLIENT,
        obtained_at=0.0,
    )


class TestTokenFile:
    def test_written_0600_and_read_back(self, tmp_path: Path) -> None:
        """The token file is mode 0600, no temp file is left, and it reads back equal."""
        path = tmp_path / "state" / "oauth2-token.json"
        token = _token(expires_at=123.0)
        oauth2.write_token(path, token)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in path.parent.iterdir()] == [path.name]
        assert oauth2.read_token(path) == token
        assert "at-1" not in repr(token) and "rt-1" not in repr(token)

    def test_replacing_keeps_0600(self, tmp_path: Path) -> None:
        """A rewrite replaces the file (new inode) and keeps it private."""
        path = tmp_path / "t.json"
        oauth2.write_token(path, _token("a"))
        before = path.stat().st_ino
        oauth2.write_token(path, _token("b"))
        assert path.stat().st_ino != before
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert oauth2.read_token(path).access_token == "b"  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        "content",
        [
            "{not json",
            "[]",
            json.dumps({"version": 99}),
            json.dumps({"version": 1, "access_token": 5}),
            "",
        ],
        ids=["broken_json", "a_list", "other_version", "wrong_types", "empty"],
    )
    def test_malformed_token_file_is_one_line_naming_it(self, tmp_path: Path, content: str) -> None:
        """A token file introd did not write is an AuthError naming the file and the fix."""
        path = tmp_path / "t.json"
        path.write_text(content)
        with pytest.raises(AuthError) as err:
            oauth2.read_token(path)
        message = str(err.value)
        assert str(path) in message and "introd auth login" in message
        assert "\n" not in message

    def test_no_file_is_no_token(self, tmp_path: Path) -> None:
        """A missing token file just means nobody signed in yet."""
        assert oauth2.read_token(tmp_path / "none.json") is None


# -- against the servers ---------------------------------------------------------------
def _server_config(tmp_path: Path, dovecot: Any, smtp: Any, token_server: Any, **oauth: Any) -> Any:
    data = config_with(
        imap={
            "host": "127.0.0.1",
            "port": dovecot.imap_port,
            "security": "none",
            "username": INTROS,
            "auth": "oauth2",
            "timeout": "5s",
        },
        smtp={
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "username": INTROS,
            "auth": "oauth2",
            "timeout": "5s",
        },
        reply_address=INTROS,
    )
    data["oauth2"] = {
        "provider": "custom",
        "client_id": CLIENT,
        "flow": "device",
        "token_url": token_server.token_url,
        "device_authorization_url": token_server.device_url,
        "token_file": "token.json",
        "timeout": "2s",
        **oauth,
    }
    return build_config(data, path=tmp_path / "c.yaml")


def _sign_in_to_both(cfg: Any) -> None:
    """Log in to IMAP, then to SMTP, and log out of both."""
    box = Mailbox(cfg.imap)
    try:
        box.connect()
    finally:
        box.close()
    conn = SmtpConnection(cfg.smtp)
    try:
        conn.open()
    finally:
        conn.close()


@pytest.fixture
def issued(tmp_path: Path, token_server: Any, oauth_sources: None) -> Callable[..., Any]:
    """Make the device-flow config for given servers whose token file holds the tokens
    the token server issued for `account`."""

    def make(
        dovecot: Any, smtp: Any, account: str = INTROS, expires_at: float | None = None
    ) -> Any:
        token_server.add_client(CLIENT)
        cfg = _server_config(tmp_path, dovecot, smtp, token_server)
        access, refresh = token_server.issue(account, CLIENT)
        assert cfg.oauth2 is not None
        token = _token(access, refresh=refresh, expires_at=expires_at)
        oauth2.write_token(cfg.oauth2.token_file, token)
        return cfg

    return make


@pytest.fixture
def app_config(
    tmp_path: Path, oauth_dovecot: Any, oauth_smtp: Any, token_server: Any, oauth_sources: None
) -> Callable[[str], Any]:
    """Make the client_credentials config of the app "app" (whose secret is "right-secret")
    with the secret given."""
    token_server.add_client("app", "right-secret", app_mailbox=INTROS)

    def make(secret: str) -> Any:
        return _server_config(
            tmp_path,
            oauth_dovecot,
            oauth_smtp,
            token_server,
            client_id="app",
            flow="client_credentials",
            client_secret=secret,
        )

    return make


@pytest.fixture
def signed_in(oauth_dovecot: Any, oauth_smtp: Any, issued: Callable[..., Any]) -> Any:
    """A config signed in as the intro mailbox: its tokens, good for an hour, in the file."""
    return issued(oauth_dovecot, oauth_smtp, expires_at=time.time() + 3600)


@pytest.fixture(params=["OAUTHBEARER", "XOAUTH2"])
def mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both SASL mechanisms, each offered by both servers: the client picks one."""
    monkeypatch.setattr(sasl, "MECHANISMS", (request.param,))
    return str(request.param)


class TestSasl:
    def test_strings(self) -> None:
        """The initial responses are exactly those of RFC 7628 and Google's XOAUTH2."""
        assert sasl.xoauth2("a@b.example", "T") == "user=a@b.example\x01auth=Bearer T\x01\x01"
        assert sasl.oauthbearer("a,b=c@x.example", "T", "imap.x.example", 993) == (
            "n,a=a=2Cb=3Dc@x.example,\x01host=imap.x.example\x01port=993\x01auth=Bearer T\x01\x01"
        )
        assert sasl.choose_mechanism(["PLAIN", "XOAUTH2", "OAUTHBEARER"]) == "OAUTHBEARER"
        assert sasl.choose_mechanism(["PLAIN", "xoauth2"]) == "XOAUTH2"
        assert sasl.choose_mechanism(["PLAIN", "LOGIN"]) is None

    def test_imap_login_with_token(self, signed_in: Any, mechanism: str, token_server: Any) -> None:
        """IMAP logs in with the stored token over the chosen mechanism."""
        box = Mailbox(signed_in.imap)
        try:
            box.connect()
            assert box.client is not None and box.client.noop()
        finally:
            box.close()
        assert token_server.stats.grants == [], "a fresh token needs no request"

    def test_smtp_login_with_token(self, signed_in: Any, mechanism: str, oauth_smtp: Any) -> None:
        """SMTP AUTH with the stored token over the chosen mechanism, and a mail goes."""
        conn = SmtpConnection(signed_in.smtp)
        try:
            smtp = conn.open()
            smtp.sendmail(INTROS, ["bob@example.test"], b"Subject: hi\r\n\r\nhello\r\n")
        finally:
            conn.close()
        assert oauth_smtp.oauth_logins == [INTROS]
        assert len(oauth_smtp.sent_to("bob@example.test")) == 1

    def test_refused_token_is_refreshed_once(
        self, signed_in: Any, mechanism: str, token_server: Any, oauth_smtp: Any
    ) -> None:
        """A token the servers refuse (expired early) is refreshed once, then works."""
        token_server.expire_access_tokens()
        _sign_in_to_both(signed_in)
        assert token_server.stats.grants == ["refresh_token"], "one refresh serves both"
        stored = oauth2.read_token(signed_in.oauth2.token_file)
        assert stored is not None and token_server.introspect(stored.access_token)["active"]

    def test_server_that_rejects_even_a_fresh_token(
        self, oauth_dovecot: Any, oauth_smtp: Any, token_server: Any, issued: Callable[..., Any]
    ) -> None:
        """Tokens for another account: one refresh, then a one-line refusal, no loop."""
        cfg = issued(oauth_dovecot, oauth_smtp, account="mallory@example.test")
        with pytest.raises(MailboxError) as err:
            Mailbox(cfg.imap).connect()
        assert "login refused for intros@example.test" in str(err.value)
        with pytest.raises(DeliveryError, match="login refused"):
            SmtpConnection(cfg.smtp).open()
        assert token_server.stats.grants.count("refresh_token") == 2

    def test_refresh_before_expiry(self, signed_in: Any, token_server: Any) -> None:
        """A token with under five minutes left is refreshed before use, not after."""
        now = [time.time()]
        source = oauth2.TokenSource(signed_in.oauth2, clock=lambda: now[0])
        first = source.access_token()
        now[0] += 3600 - 200
        second = source.access_token()
        assert second != first and token_server.stats.grants == ["refresh_token"]
        assert source.access_token() == second

    def test_server_without_oauth_mechanisms(
        self, dovecot: Any, smtp_server: Any, token_server: Any, issued: Callable[..., Any]
    ) -> None:
        """A server that offers only PLAIN/LOGIN: one line saying oauth2 cannot work."""
        cfg = issued(dovecot, smtp_server)
        with pytest.raises(
            MailboxError,
            match="offers neither OAUTHBEARER nor XOAUTH2 "
            r"\(it offers PLAIN, LOGIN\)",
        ):
            Mailbox(cfg.imap).connect()
        with pytest.raises(DeliveryError, match="smtp.auth: oauth2 cannot work here"):
            SmtpConnection(cfg.smtp).open()
        assert token_server.stats.grants == []

    @pytest.mark.parametrize(
        "life, used_after, fresh",
        [
            (3600, 3000, True),
            (3600, 3400, False),
            (60, 50, True),
            (60, 55, False),
        ],
    )
    def test_when_a_token_counts_as_fresh(
        self, life: float, used_after: float, fresh: bool
    ) -> None:
        """Five minutes' margin, or a tenth of the life of a short-lived token."""
        token = oauth2.Token(
            access_token="a",
            expires_at=1000.0 + life,
            refresh_token="r",
            scopes=(),
            account=None,
            flow="device",
            client_id="c",
            obtained_at=1000.0,
        )
        assert token.fresh(1000.0 + used_after) is fresh

    def test_revoked_refresh_token_is_auth_expired(self, signed_in: Any, token_server: Any) -> None:
        """A revoked grant: the refresh answers invalid_grant, which is AuthExpired."""
        token_server.revoke(INTROS)
        with pytest.raises(AuthExpired) as err:
            Mailbox(signed_in.imap).connect()
        assert "invalid_grant" in str(err.value) and "introd auth login" in str(err.value)
        with pytest.raises(AuthExpired):
            SmtpConnection(signed_in.smtp).open()


class TestProviderFaults:
    @pytest.mark.parametrize(
        "fault, words",
        [
            ("hang", "no answer within 2s"),
            ("garbage", "not an OAuth 2.0 token response"),
        ],
    )
    def test_endpoint_fault_is_one_line(
        self, signed_in: Any, token_server: Any, fault: str, words: str
    ) -> None:
        """A token endpoint that hangs or answers HTML: MailboxError naming the key."""
        token_server.expire_access_tokens()
        token_server.fail_next(fault)
        with pytest.raises(MailboxError) as err:
            Mailbox(signed_in.imap).connect()
        assert "oauth2.token_url 127.0.0.1" in str(err.value) and words in str(err.value)
        assert "\n" not in str(err.value)

    def test_wrong_client_secret(self, app_config: Callable[[str], Any]) -> None:
        """A wrong client secret names oauth2.client_secret and never shows it."""
        cfg = app_config("wrong-secret")
        with pytest.raises(DeliveryError) as err:
            SmtpConnection(cfg.smtp).open()
        assert "oauth2.client_secret" in str(err.value) and "invalid_client" in str(err.value)
        assert "wrong-secret" not in str(err.value)

    def test_client_credentials_signs_in_without_a_person(
        self, app_config: Callable[[str], Any], token_server: Any
    ) -> None:
        """client_credentials: a token is fetched and stored, no login, no refresh token."""
        cfg = app_config("right-secret")
        _sign_in_to_both(cfg)
        assert token_server.stats.grants == ["client_credentials"]
        stored = oauth2.read_token(cfg.oauth2.token_file)
        assert stored is not None and stored.refresh_token is None
        assert stat.S_IMODE(os.stat(cfg.oauth2.token_file).st_mode) == 0o600
