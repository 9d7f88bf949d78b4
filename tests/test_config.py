"""Config: validation collects every problem with its key path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from introd.config import build_config, load_config, parse_duration, warnings_for
from introd.exceptions import ConfigError

BASE = {
    "owner": {"name": "Lisa Balbes", "addresses": ["lisa@example.com"]},
    "imap": {
        "host": "127.0.0.1",
        "port": 10143,
        "security": "none",
        "username": "intros@example.com",
        "password": "x",
    },
    "smtp": {"host": "127.0.0.1", "port": 10025, "security": "none"},
    "from": "Lisa Balbes <lisa@example.com>",
    "reply_address": "intros@example.com",
    "auth": {"trusted_authserv_ids": ["mx.example.com"]},
}


def config_with(**changes: object) -> dict[str, object]:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for dotted, value in changes.items():
        parts = dotted.split("__")
        target = data
        for p in parts[:-1]:
            target = target.setdefault(p, {})  # type: ignore[assignment]
        target[parts[-1]] = value  # type: ignore[index]
    return data


class TestDurations:
    @pytest.mark.parametrize(
        "text, seconds",
        [
            ("90s", 90),
            ("15m", 900),
            ("4d", 345600),
            ("2w", 1209600),
            ("1h", 3600),
            (30, 30),
        ],
    )
    def test_parses(self, text: object, seconds: int) -> None:
        """Durations in s, m, h, d, w and bare numbers are seconds."""
        assert parse_duration(text) == timedelta(seconds=seconds)

    @pytest.mark.parametrize("text", ["soon", "4 days", "", True, None])
    def test_rejects(self, text: object) -> None:
        """Anything else is an error, not a silent zero."""
        with pytest.raises(ValueError):
            parse_duration(text)


class TestValidation:
    def test_minimal_config_is_valid(self, tmp_path: Path) -> None:
        """The documented minimal config loads with the SPEC defaults."""
        cfg = build_config(config_with(), path=tmp_path / "c.yaml")
        assert cfg.optin_order == "parallel"
        assert cfg.reminder_after == timedelta(days=4)
        assert cfg.expire_after == timedelta(days=14)
        assert cfg.max_outgoing_per_hour == 60
        assert cfg.policies["no_reason"].params["min_words"] == 5
        assert cfg.policies["unknown_requester"].enabled is False
        assert cfg.state_path == tmp_path / "introd.db"
        assert cfg.followup_after == timedelta(days=14)

    def test_followup_can_be_switched_off(self, tmp_path: Path) -> None:
        """followup.after: off means no follow-up; a duration sets when it goes."""
        assert (
            build_config(
                config_with(followup__after="off"), path=tmp_path / "c.yaml"
            ).followup_after
            is None
        )
        assert build_config(
            config_with(followup__after="21d"), path=tmp_path / "c.yaml"
        ).followup_after == timedelta(days=21)

    def test_every_problem_is_reported_with_its_key(self, tmp_path: Path) -> None:
        """Several mistakes are all reported, each naming its key path."""
        data = config_with(
            imap__port="nine",
            optin__order="random",
            policies__no_reason={"min_words": "five"},
            bogus=1,
        )
        with pytest.raises(ConfigError) as err:
            build_config(data, path=tmp_path / "c.yaml")
        keys = {k for k, _ in err.value.problems}
        assert {"imap.port", "optin.order", "policies.no_reason.min_words", "bogus"} <= keys
        assert "imap.port" in str(err.value)

    @pytest.mark.parametrize(
        "change, key",
        [
            ({"owner__addresses": "not-an-address"}, "owner.addresses"),
            ({"smtp__security": "tls"}, "smtp.security"),
            ({"policies__no_such_rule": {}}, "policies.no_such_rule"),
            (
                {"policies__requester_limit": {"action": "explode"}},
                "policies.requester_limit.action",
            ),
            ({"limits__max_outgoing_per_hour": -1}, "limits.max_outgoing_per_hour"),
            ({"reply_address": "intros+x@example.com"}, "reply_address"),
            ({"auth__trusted_authserv_ids": []}, "auth.trusted_authserv_ids"),
            (
                {"auth__exchange_online_tenant": "contoso.onmicrosoft.com"},
                "auth.exchange_online_tenant",
            ),
            ({"auth__exchange_online_tenant": 42}, "auth.exchange_online_tenant"),
            ({"optin__reminder_after": "20d"}, "optin.reminder_after"),
            ({"contacts": ["missing.csv"]}, "contacts[0]"),
            ({"followup__after": "soon"}, "followup.after"),
            ({"owner__delegates": ["not-an-address"]}, "owner.delegates"),
            ({"owner__delegates": ["LISA@example.com"]}, "owner.delegates"),
            ({"owner__delegates": ["intros@example.com"]}, "owner.delegates"),
            ({"owner__delegates_may_forward": "yes"}, "owner.delegates_may_forward"),
            ({"followup__every": "14d"}, "followup.every"),
            ({"optin__owner_reviews_introduction": "yes"}, "optin.owner_reviews_introduction"),
            ({"optin__snooze": 1}, "optin.snooze"),
            ({"smtp__max_connections": 0}, "smtp.max_connections"),
            ({"smtp__max_connections": 11}, "smtp.max_connections"),
            ({"smtp__max_connections": "3"}, "smtp.max_connections"),
        ],
    )
    def test_bad_values_name_their_key(
        self, tmp_path: Path, change: dict[str, object], key: str
    ) -> None:
        """Each invalid value is refused with an error naming its key."""
        with pytest.raises(ConfigError) as err:
            build_config(config_with(**change), path=tmp_path / "c.yaml")
        assert key in {k for k, _ in err.value.problems}

    @pytest.mark.parametrize("key", ["owner_reviews_introduction", "snooze"])
    def test_optin_switches_take_only_true_or_false(self, tmp_path: Path, key: str) -> None:
        """A non-boolean optin switch is one line naming its key and what it expected."""
        with pytest.raises(ConfigError) as err:
            build_config(config_with(**{f"optin__{key}": "maybe"}), path=tmp_path / "c.yaml")
        assert err.value.problems == [(f"optin.{key}", "expected true or false, got 'maybe'")]
        assert f"optin.{key}" in str(err.value)
        assert len(str(err.value).strip().splitlines()) == 1
        on = build_config(config_with(**{f"optin__{key}": True}), path=tmp_path / "c.yaml")
        off = build_config(config_with(), path=tmp_path / "c.yaml")
        assert getattr(on, key) is True and getattr(off, key) is False

    def test_exchange_online_tenant_stands_in_for_authserv_ids(self, tmp_path: Path) -> None:
        """With the tenant id set, no authserv-id is needed; the id is kept lower-cased."""
        cfg = build_config(
            config_with(auth={"exchange_online_tenant": "6C3A1F0E-2B4D-4E8F-9A7B-1C2D3E4F5A6B"}),
            path=tmp_path / "c.yaml",
        )
        assert cfg.exchange_online_tenant == "6c3a1f0e-2b4d-4e8f-9a7b-1c2d3e4f5a6b"
        assert cfg.trusted_authserv_ids == () and cfg.auth_require

    def test_servers_optional_for_parse(self, tmp_path: Path) -> None:
        """`parse` needs only owner, auth, contacts and policies."""
        data = {"owner": BASE["owner"], "auth": BASE["auth"]}
        cfg = build_config(data, path=tmp_path / "c.yaml", need_servers=False)
        assert cfg.imap is None and cfg.smtp is None

    def test_relative_paths_follow_the_config_file(self, tmp_path: Path) -> None:
        """Relative paths are relative to the config file's folder."""
        (tmp_path / "people.yaml").write_text("[]\n")
        cfg = build_config(
            config_with(contacts=["people.yaml"], state_path="db/introd.db"),
            path=tmp_path / "c.yaml",
        )
        assert cfg.contacts == (tmp_path / "people.yaml",)
        assert cfg.state_path == tmp_path / "db" / "introd.db"

    def test_auth_off_is_warned_about(self, tmp_path: Path) -> None:
        """`auth.require: false` is allowed, and check-config warns about it."""
        cfg = build_config(config_with(auth={"require": False}), path=tmp_path / "c.yaml")
        assert any("auth.require" in w for w in warnings_for(cfg))


class TestSecrets:
    def test_password_env_and_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Passwords come from password_file or password_env, read only when needed."""
        (tmp_path / "pw").write_text("s3cret\n")
        monkeypatch.setenv("SMTP_PW", "other")
        cfg = build_config(
            config_with(
                imap__password=None, imap__password_file="pw", smtp__password_env="SMTP_PW"
            ),
            path=tmp_path / "c.yaml",
        )
        assert cfg.imap is not None and cfg.imap.password.reveal() == "s3cret"
        assert cfg.smtp is not None and cfg.smtp.password.reveal() == "other"
        assert "s3cret" not in repr(cfg)

    def test_credentials_directory(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A bare password_file name is looked up in $CREDENTIALS_DIRECTORY (systemd)."""
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "imap").write_text("from-systemd")
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        cfg = build_config(
            config_with(imap__password=None, imap__password_file="imap"), path=tmp_path / "c.yaml"
        )
        assert cfg.imap is not None and cfg.imap.password.reveal() == "from-systemd"

    def test_unsearchable_credentials_directory_is_one_clear_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A $CREDENTIALS_DIRECTORY the service may not search (EACCES) is a config error
        naming the file when the password is read, not a traceback while loading."""
        creds = tmp_path / "creds"
        creds.mkdir()
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
        real_stat = Path.stat

        def stat(self: Path, **kwargs: object) -> object:
            if self.parent == creds:  # as for a non-root user in a 0700 root folder
                raise PermissionError(13, "Permission denied", str(self))
            return real_stat(self, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "stat", stat)
        monkeypatch.setattr(Path, "read_text", lambda self, **kw: stat(self) and "")
        cfg = build_config(
            config_with(imap__password=None, imap__password_file="imap"), path=tmp_path / "c.yaml"
        )
        assert cfg.imap is not None
        with pytest.raises(ConfigError, match=f"cannot read {creds}/imap: Permission denied"):
            cfg.imap.password.reveal()


class TestLoading:
    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is one clear error naming it."""
        with pytest.raises(ConfigError, match="file not found"):
            load_config(tmp_path / "nope.yaml")

    def test_broken_yaml(self, tmp_path: Path) -> None:
        """Invalid YAML names the line."""
        p = tmp_path / "c.yaml"
        p.write_text("owner:\n  name: [unclosed\n")
        with pytest.raises(ConfigError, match="line"):
            load_config(p)

    def test_example_config_is_valid(self, tmp_path: Path) -> None:
        """config.example.yaml, with its paths made local, passes validation."""
        example = Path(__file__).parent.parent / "config.example.yaml"
        data = yaml.safe_load(example.read_text())
        data["contacts"] = []
        data.pop("templates_dir", None)
        build_config(data, path=tmp_path / "c.yaml")


class TestSmtpConnections:
    def test_one_session_unless_told(self, tmp_path: Path) -> None:
        cfg = build_config(config_with(), path=tmp_path / "c.yaml")
        assert cfg.smtp is not None and cfg.smtp.max_connections == 1
        cfg = build_config(config_with(smtp__max_connections=3), path=tmp_path / "c.yaml")
        assert cfg.smtp is not None and cfg.smtp.max_connections == 3

    def test_out_of_range_is_one_line_naming_the_limits(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError) as err:
            build_config(config_with(smtp__max_connections=40), path=tmp_path / "c.yaml")
        assert err.value.problems == [("smtp.max_connections", "must be 1 to 10, got 40")]
        assert len(str(err.value).strip().splitlines()) == 1
