"""Reading and validating ``config.yaml``.

Every problem is collected with its key path (``imap.port: expected an integer``)
and reported together, so one run of ``check-config`` shows them all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .reading.auth import is_tenant_id
from .exceptions import ConfigError

if TYPE_CHECKING:
    import ssl

DEFAULT_PATH = "/etc/introd/config.yaml"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: object) -> timedelta:
    """``90s``, ``15m``, ``4d``, ``2w`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 90s, 15m, 4d")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"expected a duration like 90s, 15m, 4d, got {value!r}")


PASSWORD_COMMAND_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Secret:
    """A password, read lazily so that ``parse`` never needs it. ``key`` is where the
    config gave it (``imap``, ``oauth2``), for error messages."""

    value: str | None = None
    file: Path | None = None
    env: str | None = None
    command: str | None = None
    key: str = ""
    names: tuple[str, str, str, str] = (
        "password",
        "password_file",
        "password_env",
        "password_command",
    )

    def _where(self, index: int) -> str:
        return f"{self.key}.{self.names[index]}" if self.key else self.names[index]

    def reveal(self) -> str:
        if self.value is not None:
            return self.value
        if self.file is not None:
            try:
                return self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    [(self._where(1), f"cannot read {self.file}: {exc.strerror}")]
                ) from None
        if self.env is not None:
            try:
                return os.environ[self.env]
            except KeyError:
                raise ConfigError(
                    [(self._where(2), f"environment variable {self.env} is not set")]
                ) from None
        if self.command is not None:
            return run_password_command(self.command, self._where(3))
        return ""

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.value, self.file, self.env, self.command))

    def __repr__(self) -> str:  # never show a password in logs or tracebacks
        return "Secret(***)"


def run_password_command(command: str, where: str) -> str:
    """The first line a command prints (``pass show introd/imap``, a keyring or token
    helper). Run by /bin/sh like a mail client's ``passwordeval``; what it prints, on
    stdout or stderr, never reaches an error message or a log."""
    import subprocess  # only for a password command: most runs need none

    try:
        done = subprocess.run(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PASSWORD_COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            [(where, f"the command did not finish within {PASSWORD_COMMAND_TIMEOUT:.0f}s")]
        ) from None
    except OSError as exc:
        raise ConfigError([(where, f"cannot run the command: {exc.strerror}")]) from None
    if done.returncode != 0:
        raise ConfigError([(where, f"the command failed (exit status {done.returncode})")])
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    first = lines[0].strip() if lines else ""
    if not first:
        raise ConfigError([(where, "the command printed nothing")])
    return first


OAUTH2_PROVIDERS = ("microsoft", "google", "custom")
OAUTH2_FLOWS = ("client_credentials", "device", "authorization_code")
MICROSOFT_LOGIN = "https://login.microsoftonline.com"
# delegated permissions for a person's mailbox; offline_access brings the refresh token
MICROSOFT_SCOPES = (
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
    "offline_access",
)
# an app's own permissions (IMAP.AccessAsApp, SMTP.SendAsApp) are asked for as .default
MICROSOFT_APP_SCOPES = ("https://outlook.office365.com/.default",)
GOOGLE_SCOPES = ("https://mail.google.com/",)
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_AUTHORIZATION_URL = "https://accounts.google.com/o/oauth2/v2/auth"


@dataclass(frozen=True, slots=True, kw_only=True)
class OAuth2Config:
    """The ``oauth2:`` section, with each provider's endpoints and scopes filled in."""

    provider: str  # microsoft | google | custom
    client_id: str
    client_secret: Secret  # empty for a public client
    tenant: str | None
    flow: str  # client_credentials | device | authorization_code
    scopes: tuple[str, ...]
    token_file: Path
    token_url: str
    device_authorization_url: str | None = None
    authorization_url: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    host: str
    port: int
    security: str  # ssl | starttls | none
    username: str | None
    password: Secret
    timeout: float = 30.0
    # a CA bundle for a server whose certificate a private CA signed
    ca_file: Path | None = None
    auth: str = "password"  # password | oauth2
    oauth2: OAuth2Config | None = None
    # smtp only: how many sessions may send at once (providers cap it: Microsoft 365, 3)
    max_connections: int = 1

    def tls_context(self) -> ssl.SSLContext:
        """Certificates are always verified; ``ca_file`` adds a private CA."""
        import ssl

        context = ssl.create_default_context()
        if self.ca_file is not None:
            context.load_verify_locations(cafile=str(self.ca_file))
        return context


@dataclass(frozen=True, slots=True, kw_only=True)
class ImapConfig(ServerConfig):
    folder: str = "INBOX"
    processed_folder: str | None = None
    quarantine_folder: str | None = None
    sent_folder: str | None = None
    idle: bool = True
    poll_interval: timedelta = timedelta(seconds=60)
    batch_size: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class Owner:
    name: str
    addresses: tuple[str, ...]
    language: str = "en"
    # assistants or colleagues who may answer review mails and send commands
    delegates: tuple[str, ...] = ()
    # whether a delegate's forwards start intros as the owner's do
    delegates_may_forward: bool = False

    @property
    def email(self) -> str:
        return self.addresses[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleConfig:
    enabled: bool
    action: str
    template: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    path: Path | None
    owner: Owner
    imap: ImapConfig | None
    smtp: ServerConfig | None
    from_address: Address
    reply_address: str
    secret_file: Path
    state_path: Path
    templates_dir: Path | None
    contacts: tuple[Path, ...]
    auth_require: bool
    trusted_authserv_ids: tuple[str, ...]
    # Microsoft Entra tenant id: owner mail submitted inside that Exchange Online tenant
    # is authenticated by the stamps Exchange writes (introd.reading.auth.check_exchange_online)
    exchange_online_tenant: str | None = None
    digest_every: timedelta | None
    optin_order: str
    reminder_after: timedelta
    expire_after: timedelta
    accept_from_any_address: bool
    max_outgoing_per_hour: int
    policies: Mapping[str, RuleConfig]
    log_format: str
    log_level: str
    default_language: str = "en"
    # Prometheus metrics, off unless one of these is set
    metrics_textfile: Path | None = None
    metrics_listen: tuple[str, int] | None = None
    # stored mail bodies of ended intros are pruned after this long
    retention_bodies: timedelta | None = timedelta(days=90)
    # signing in to IMAP / SMTP with OAuth 2.0 (imap.auth / smtp.auth: oauth2)
    oauth2: OAuth2Config | None = None
    # how long after the introduction the requester is asked whether they met; None: off
    followup_after: timedelta | None = timedelta(days=14)
    # both said yes: the owner sees the introduction as a draft and sends it
    owner_reviews_introduction: bool = False
    # the target's "not now, maybe in March" snoozes the intro until then
    snooze: bool = False

    @property
    def intro_address(self) -> str:
        """The mailbox introd reads; never a requester or a target."""
        if self.imap is not None and self.imap.username and "@" in self.imap.username:
            return self.imap.username.lower()
        return self.reply_address.lower()


# The policy rules of SPEC.md, in evaluation order, with their defaults.
RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "not_from_owner": {"enabled": True, "action": "ignore"},
    "unauthenticated": {"enabled": True, "action": "ignore"},
    "no_target": {"enabled": True, "action": "decline", "template": "decline_no_target"},
    "ambiguous_target": {"enabled": True, "action": "review"},
    "unknown_target": {"enabled": True, "action": "review"},
    "no_reason": {
        "enabled": True,
        "action": "decline",
        "template": "decline_no_reason",
        "min_words": 5,
    },
    "target_opted_out": {"enabled": True, "action": "decline", "template": "decline_policy"},
    "blocked_domain": {"enabled": True, "action": "ignore", "domains": []},
    "duplicate": {"enabled": True, "action": "ignore", "cooldown": "180d"},
    "declined_before": {
        "enabled": True,
        "action": "decline",
        "template": "decline_policy",
        "cooldown": "180d",
    },
    "requester_limit": {"enabled": True, "action": "review", "max": 3, "window": "30d"},
    "target_limit": {"enabled": True, "action": "review", "max": 2, "window": "30d"},
    "unknown_requester": {"enabled": False, "action": "review"},
    "review_all": {"enabled": False, "action": "review"},
}
ACTIONS = ("accept", "decline", "review", "ignore")


class _Reader:
    """Walks the YAML tree, collecting problems instead of stopping at the first."""

    def __init__(self, data: Mapping[str, Any], base: Path) -> None:
        self.data = data
        self.base = base
        self.problems: list[tuple[str, str]] = []

    def section(self, key: str, required: bool = False) -> Mapping[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problems.append((key, "is required"))
            return None
        if not isinstance(value, Mapping):
            self.problems.append((key, "expected a mapping"))
            return None
        return value

    def get(
        self,
        sect: Mapping[str, Any] | None,
        prefix: str,
        key: str,
        kind: Callable[[Any], Any],
        default: Any = None,
        required: bool = False,
    ) -> Any:
        path = f"{prefix}.{key}" if prefix else key
        if sect is None or key not in sect or sect[key] is None:
            if required:
                self.problems.append((path, "is required"))
            return default
        try:
            return kind(sect[key])
        except (ValueError, TypeError) as exc:
            self.problems.append((path, str(exc)))
            return default

    def path(self, value: str | Path) -> Path:
        p = Path(os.path.expanduser(str(value)))
        return p if p.is_absolute() else (self.base / p)


def _str(v: Any) -> str:
    if not isinstance(v, str | int) or isinstance(v, bool):
        raise ValueError(f"expected a string, got {type(v).__name__}")
    return str(v)


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected an integer, got {v!r}")
    return v


def _port(v: Any) -> int:
    p = _int(v)
    if not 0 < p < 65536:
        raise ValueError(f"expected a port number 1-65535, got {p}")
    return p


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _tenant_id(v: Any) -> str:
    s = _str(v).strip().lower()
    if not is_tenant_id(s):
        raise ValueError(
            f"expected the tenant id, a GUID such as "
            f"6c3a1f0e-2b4d-4e8f-9a7b-1c2d3e4f5a6b, got {v!r} (Microsoft Entra "
            "admin center, Overview, Tenant ID)"
        )
    return s


def _choice(*options: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {v!r}")
        return str(v)

    return check


def _email(v: Any) -> str:
    s = _str(v).strip()
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+|[^@\s<>]+@localhost", s):
        raise ValueError(f"expected an email address, got {s!r}")
    return s.lower()


def _address_list(v: Any) -> tuple[str, ...]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items:
        raise ValueError("expected a list of email addresses")
    return tuple(_email(x) for x in items)


def _delegate_list(v: Any) -> tuple[str, ...]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list):
        raise ValueError("expected a list of email addresses")
    return tuple(dict.fromkeys(_email(x) for x in items))


def _listen(v: Any) -> tuple[str, int]:
    host, sep, port = _str(v).rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT like 127.0.0.1:9464, got {v!r}")
    return host.strip("[]") or "127.0.0.1", _port(int(port))


def _str_list(v: Any) -> tuple[str, ...]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list):
        raise ValueError("expected a list of strings")
    return tuple(_str(x) for x in items)


def _from_address(v: Any) -> Address:
    name, addr = parseaddr(_str(v))
    if "@" not in addr:
        raise ValueError(f"expected 'Name <address>', got {v!r}")
    try:
        return Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"not a valid address: {exc}") from None


_SECRET_KEYS = ("password", "password_file", "password_env", "password_command")


def _secret(
    r: _Reader,
    sect: Mapping[str, Any] | None,
    prefix: str,
    names: tuple[str, str, str, str] = _SECRET_KEYS,
) -> Secret:
    """One of ``password`` / ``password_file`` / ``password_env`` / ``password_command``
    (or, for ``oauth2``, the same four named ``client_secret...``)."""
    if sect is None:
        return Secret(key=prefix, names=names)
    value_key, file_key, env_key, command_key = names
    given = [k for k in names if sect.get(k) is not None]
    if len(given) > 1:
        r.problems.append((prefix, f"give only one of {', '.join(given)}"))
    if sect.get(value_key) is not None:
        return Secret(value=r.get(sect, prefix, value_key, _str), key=prefix, names=names)
    if sect.get(file_key) is not None:
        raw = r.get(sect, prefix, file_key, _str)
        if raw is None:
            return Secret(key=prefix, names=names)
        creds = os.environ.get("CREDENTIALS_DIRECTORY")
        p = Path(raw)
        if not p.is_absolute() and creds:
            candidate = Path(creds) / raw
            try:
                there = candidate.exists()
            except OSError:  # a directory we may not search: reading it says so, by path
                there = True
            if there:
                return Secret(file=candidate, key=prefix, names=names)
        return Secret(file=r.path(raw), key=prefix, names=names)
    if sect.get(env_key) is not None:
        return Secret(env=r.get(sect, prefix, env_key, _str), key=prefix, names=names)
    if sect.get(command_key) is not None:
        command = r.get(sect, prefix, command_key, _str)
        if command is not None and not command.strip():
            r.problems.append((f"{prefix}.{command_key}", "is empty"))
        return Secret(command=command, key=prefix, names=names)
    return Secret(key=prefix, names=names)


_SECURITY_PORTS = {"ssl": (993, 465), "starttls": (143, 587), "none": (143, 25)}


def _server(r: _Reader, name: str, required: bool) -> dict[str, Any] | None:
    sect = r.section(name, required=required)
    if sect is None:
        return None
    security = r.get(
        sect,
        name,
        "security",
        _choice("ssl", "starttls", "none"),
        "ssl" if name == "imap" else "starttls",
    )
    imap_port, smtp_port = _SECURITY_PORTS[security or "ssl"]
    return {
        "host": r.get(sect, name, "host", _str, required=True) or "",
        "port": r.get(sect, name, "port", _port, imap_port if name == "imap" else smtp_port),
        "security": security,
        "username": r.get(sect, name, "username", _str),
        "password": _secret(r, sect, name),
        "timeout": r.get(sect, name, "timeout", lambda v: parse_duration(v).total_seconds(), 30.0),
        "ca_file": _ca_file(r, sect, name),
        "auth": r.get(sect, name, "auth", _choice("password", "oauth2"), "password"),
    }


MAX_SMTP_CONNECTIONS = 10


def _max_connections(r: _Reader) -> int:
    """smtp.max_connections: 1 (the default) to MAX_SMTP_CONNECTIONS sessions at once."""
    value: int = r.get(r.section("smtp") or {}, "smtp", "max_connections", _int, 1)
    if not 1 <= value <= MAX_SMTP_CONNECTIONS:
        r.problems.append(
            ("smtp.max_connections", f"must be 1 to {MAX_SMTP_CONNECTIONS}, got {value!r}")
        )
        return 1
    return value


def _ca_file(r: _Reader, sect: Mapping[str, Any], prefix: str) -> Path | None:
    raw = r.get(sect, prefix, "ca_file", _str)
    if raw is None:
        return None
    path = r.path(raw)
    if not path.is_file():
        r.problems.append((f"{prefix}.ca_file", f"{path} does not exist"))
    return path


def _url(v: Any) -> str:
    """An https URL; plain http only to this machine (a local token server)."""
    from urllib.parse import urlsplit

    text = _str(v).strip()
    parts = urlsplit(text)
    if parts.scheme == "https" and parts.hostname:
        return text
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return text
    raise ValueError(f"expected an https:// URL (http:// only on loopback), got {text!r}")


def _oauth2(r: _Reader, state_dir: Path) -> OAuth2Config | None:
    sect = r.section("oauth2")
    if sect is None:
        return None
    p = "oauth2"
    known = {
        "provider",
        "client_id",
        "client_secret",
        "client_secret_file",
        "client_secret_env",
        "client_secret_command",
        "tenant",
        "flow",
        "scopes",
        "token_file",
        "token_url",
        "device_authorization_url",
        "authorization_url",
        "timeout",
    }
    for key in sect:
        if key not in known:
            r.problems.append((f"{p}.{key}", "unknown key"))
    provider = (
        r.get(sect, p, "provider", _choice(*OAUTH2_PROVIDERS), "custom", required=True) or "custom"
    )
    client_id = r.get(sect, p, "client_id", _str, "", required=True) or ""
    secret = _secret(
        r,
        sect,
        p,
        ("client_secret", "client_secret_file", "client_secret_env", "client_secret_command"),
    )
    tenant = r.get(sect, p, "tenant", _str)
    default_flow = (
        "client_credentials"
        if provider == "microsoft" and secret.given
        else ("authorization_code" if provider == "google" else "device")
    )
    flow = r.get(sect, p, "flow", _choice(*OAUTH2_FLOWS), default_flow) or default_flow
    scopes = r.get(sect, p, "scopes", _str_list, ()) or ()
    token_raw = r.get(sect, p, "token_file", _str)
    token_file = r.path(token_raw) if token_raw else state_dir / "oauth2-token.json"
    urls = {
        key: r.get(sect, p, key, _url)
        for key in ("token_url", "device_authorization_url", "authorization_url")
    }
    if provider == "microsoft":
        if flow == "client_credentials" and not tenant:
            r.problems.append(
                (
                    f"{p}.tenant",
                    "is required for the client_credentials flow (your tenant's domain or id)",
                )
            )
        base = f"{MICROSOFT_LOGIN}/{tenant or 'organizations'}/oauth2/v2.0"
        urls = {
            "token_url": urls["token_url"] or f"{base}/token",
            "device_authorization_url": urls["device_authorization_url"] or f"{base}/devicecode",
            "authorization_url": urls["authorization_url"] or f"{base}/authorize",
        }
        if not scopes:
            scopes = MICROSOFT_APP_SCOPES if flow == "client_credentials" else MICROSOFT_SCOPES
    elif provider == "google":
        if flow == "client_credentials":
            r.problems.append(
                (
                    f"{p}.flow",
                    "Google has no client_credentials flow for Gmail: use authorization_code",
                )
            )
        elif flow == "device":
            r.problems.append(
                (
                    f"{p}.flow",
                    "Google's device flow refuses the Gmail scope: use authorization_code",
                )
            )
        urls = {
            "token_url": urls["token_url"] or GOOGLE_TOKEN_URL,
            "device_authorization_url": urls["device_authorization_url"],
            "authorization_url": urls["authorization_url"] or GOOGLE_AUTHORIZATION_URL,
        }
        scopes = scopes or GOOGLE_SCOPES
    else:
        if not urls["token_url"]:
            r.problems.append((f"{p}.token_url", "is required for provider custom"))
        if flow == "device" and not urls["device_authorization_url"]:
            r.problems.append((f"{p}.device_authorization_url", "is required for the device flow"))
        if flow == "authorization_code" and not urls["authorization_url"]:
            r.problems.append(
                (f"{p}.authorization_url", "is required for the authorization_code flow")
            )
    if flow == "client_credentials" and not secret.given:
        r.problems.append(
            (
                f"{p}.client_secret",
                "is required for the client_credentials flow (or client_secret_file / _env)",
            )
        )
    return OAuth2Config(
        provider=provider,
        client_id=client_id,
        client_secret=secret,
        tenant=tenant,
        flow=flow,
        scopes=tuple(scopes),
        token_file=token_file,
        token_url=urls["token_url"] or "",
        device_authorization_url=urls["device_authorization_url"],
        authorization_url=urls["authorization_url"],
        timeout=r.get(sect, p, "timeout", lambda v: parse_duration(v).total_seconds(), 30.0),
    )


def _policies(r: _Reader) -> dict[str, RuleConfig]:
    sect = r.section("policies") or {}
    for key in sect:
        if key not in RULE_DEFAULTS:
            r.problems.append(
                (f"policies.{key}", f"unknown rule; rules are {', '.join(RULE_DEFAULTS)}")
            )
    rules: dict[str, RuleConfig] = {}
    for name, defaults in RULE_DEFAULTS.items():
        given = sect.get(name) or {}
        prefix = f"policies.{name}"
        if not isinstance(given, Mapping):
            r.problems.append((prefix, "expected a mapping"))
            given = {}
        merged = {**defaults, **given}
        params: dict[str, Any] = {}
        for key in merged:
            if key in ("enabled", "action", "template"):
                continue
            if key not in defaults:
                r.problems.append((f"{prefix}.{key}", "unknown setting for this rule"))
                continue
            if key in ("cooldown", "window"):
                params[key] = r.get(merged, prefix, key, parse_duration)
            elif key in ("max", "min_words"):
                params[key] = r.get(merged, prefix, key, _int)
            elif key == "domains":
                params[key] = tuple(
                    d.lower().lstrip("@") for d in (r.get(merged, prefix, key, _str_list) or ())
                )
        action = r.get(merged, prefix, "action", _choice(*ACTIONS), defaults["action"])
        template = r.get(merged, prefix, "template", _str, defaults.get("template"))
        if action == "decline" and template is None:
            template = "decline_policy"
        rules[name] = RuleConfig(
            enabled=r.get(merged, prefix, "enabled", _bool, True),
            action=action,
            template=template,
            params=params,
        )
    return rules


# the top-level keys of a config file
_SECTIONS = frozenset(
    {
        "owner",
        "imap",
        "smtp",
        "from",
        "reply_address",
        "secret_file",
        "state_path",
        "templates_dir",
        "contacts",
        "auth",
        "digest",
        "optin",
        "replies",
        "limits",
        "policies",
        "log",
        "language",
        "metrics",
        "retention",
        "oauth2",
        "followup",
    }
)


def _owner(r: _Reader) -> Owner:
    owner_s = r.section("owner", required=True)
    owner_addresses = r.get(owner_s, "owner", "addresses", _address_list, (), required=True)
    delegates = r.get(owner_s, "owner", "delegates", _delegate_list, ())
    for address in set(delegates or ()) & set(owner_addresses or ()):
        r.problems.append(("owner.delegates", f"{address} is an owner address already"))
    return Owner(
        name=r.get(owner_s, "owner", "name", _str, "") or "",
        addresses=owner_addresses or ("owner@invalid.example",),
        language=r.get(owner_s, "owner", "language", _str, "en") or "en",
        delegates=delegates or (),
        delegates_may_forward=r.get(owner_s, "owner", "delegates_may_forward", _bool, False),
    )


def _imap(r: _Reader, required: bool) -> ImapConfig | None:
    imap_v = _server(r, "imap", required=required)
    if imap_v is None:
        return None
    s = r.section("imap") or {}
    return ImapConfig(
        **imap_v,
        folder=r.get(s, "imap", "folder", _str, "INBOX"),
        processed_folder=r.get(s, "imap", "processed_folder", _str),
        quarantine_folder=r.get(s, "imap", "quarantine_folder", _str),
        sent_folder=r.get(s, "imap", "sent_folder", _str),
        idle=r.get(s, "imap", "idle", _bool, True),
        poll_interval=r.get(s, "imap", "poll_interval", parse_duration, timedelta(seconds=60)),
        batch_size=r.get(s, "imap", "batch_size", _int, 100),
    )


def _addresses(
    r: _Reader, owner: Owner, imap: ImapConfig | None, need_servers: bool
) -> tuple[Address, str]:
    """The From of introd's mail and the address that takes replies."""
    from_address = r.get(r.data, "", "from", _from_address, None, required=need_servers)
    if from_address is None:
        from_address = Address(display_name=owner.name, addr_spec=owner.email)
    default_reply = imap.username if imap and imap.username and "@" in imap.username else None
    reply_address = r.get(r.data, "", "reply_address", _email, default_reply)
    if reply_address is None:
        if need_servers:
            r.problems.append(("reply_address", "is required (or an imap.username address)"))
        reply_address = "intros@invalid.example"
    elif "+" in reply_address.split("@")[0]:
        r.problems.append(("reply_address", "must not hold a '+': introd adds +TOKEN itself"))
    return from_address, reply_address


def _state_files(r: _Reader) -> tuple[Path, Path]:
    """secret_file and state_path; by default in systemd's StateDirectory, if given."""
    state_dir_env = os.environ.get("STATE_DIRECTORY")
    default_state = Path(state_dir_env) if state_dir_env else r.base
    secret_file = r.path(r.get(r.data, "", "secret_file", _str, None) or default_state / "secret")
    state_path = r.path(r.get(r.data, "", "state_path", _str, None) or default_state / "introd.db")
    return secret_file, state_path


def _with_oauth2(
    r: _Reader,
    imap: ImapConfig | None,
    smtp: ServerConfig | None,
    oauth2: OAuth2Config | None,
) -> tuple[ImapConfig | None, ServerConfig | None]:
    """The servers that sign in with auth: oauth2 get the oauth2 section."""
    for srv_name, srv in (("imap", imap), ("smtp", smtp)):
        if srv is None or srv.auth != "oauth2":
            continue
        if oauth2 is None:
            r.problems.append((f"{srv_name}.auth", "oauth2 needs an oauth2: section"))
        elif not srv.username:
            r.problems.append(
                (
                    f"{srv_name}.username",
                    "is required with auth: oauth2 (the mailbox to sign in to)",
                )
            )
    if imap is not None and imap.auth == "oauth2":
        imap = replace(imap, oauth2=oauth2)
    if smtp is not None and smtp.auth == "oauth2":
        smtp = replace(smtp, oauth2=oauth2)
    return imap, smtp


def _templates_dir(r: _Reader, make: bool) -> Path | None:
    templates_raw = r.get(r.data, "", "templates_dir", _str)
    if not templates_raw:
        return None
    templates_dir = r.path(templates_raw)
    if make and not templates_dir.exists():
        try:  # `introd templates copy` makes it
            templates_dir.mkdir(parents=True)
        except OSError as exc:
            r.problems.append(
                ("templates_dir", f"cannot create {templates_dir}: {exc.strerror or exc}")
            )
    if not templates_dir.is_dir():
        r.problems.append(("templates_dir", f"{templates_dir} is not a folder"))
    return templates_dir


def _contacts(r: _Reader) -> tuple[Path, ...]:
    contacts = tuple(r.path(p) for p in (r.get(r.data, "", "contacts", _str_list, ()) or ()))
    for i, p in enumerate(contacts):
        if not p.is_file():
            r.problems.append((f"contacts[{i}]", f"{p} does not exist"))
    return contacts


def _auth(r: _Reader) -> tuple[bool, tuple[str, ...], str | None]:
    """auth.require, the trusted authserv-ids (lower case) and the Exchange Online tenant."""
    auth_s = r.section("auth")
    auth_require = r.get(auth_s, "auth", "require", _bool, True)
    trusted = r.get(auth_s, "auth", "trusted_authserv_ids", _str_list, ())
    exchange_tenant = r.get(auth_s, "auth", "exchange_online_tenant", _tenant_id, None)
    exchange_given = bool(auth_s and auth_s.get("exchange_online_tenant"))
    if auth_require and not trusted and not exchange_given:
        r.problems.append(
            (
                "auth.trusted_authserv_ids",
                "is required when auth.require is true (the authserv-id your "
                "mail server writes in Authentication-Results), unless "
                "auth.exchange_online_tenant is set",
            )
        )
    return auth_require, tuple(t.lower() for t in trusted or ()), exchange_tenant


def _interval(
    r: _Reader, sect: Mapping[str, Any] | None, prefix: str, key: str, default: str
) -> timedelta | None:
    """A duration that false, off or never switches off."""
    raw = sect.get(key, default) if sect else default
    if raw in (False, "off", "never", None):
        return None
    duration: timedelta | None = r.get({key: raw}, prefix, key, parse_duration)
    return duration


def _metrics(r: _Reader) -> tuple[Path | None, tuple[str, int] | None]:
    metrics_s = r.section("metrics")
    textfile_raw = r.get(metrics_s, "metrics", "textfile", _str)
    listen: tuple[str, int] | None = r.get(metrics_s, "metrics", "listen", _listen)
    return (r.path(textfile_raw) if textfile_raw else None), listen


def _followup(r: _Reader) -> timedelta | None:
    followup_s = r.section("followup")
    after = _interval(r, followup_s, "followup", "after", "14d")
    for key in followup_s or {}:
        if key != "after":
            r.problems.append((f"followup.{key}", "unknown key"))
    return after


def _check_together(r: _Reader, cfg: Config) -> None:
    """The rules that tie one setting to another."""
    if cfg.max_outgoing_per_hour < 0:
        r.problems.append(("limits.max_outgoing_per_hour", "must be 0 (no limit) or more"))
    if cfg.intro_address in cfg.owner.delegates:
        r.problems.append(("owner.delegates", f"{cfg.intro_address} is the intro address"))
    if cfg.reminder_after >= cfg.expire_after:
        r.problems.append(("optin.reminder_after", "must be shorter than optin.expire_after"))


def build_config(
    data: Any,
    *,
    path: Path | None = None,
    need_servers: bool = True,
    make_templates_dir: bool = False,
) -> Config:
    """Validate a parsed YAML document; raise ConfigError listing every problem."""
    source = str(path) if path else "config"
    if not isinstance(data, Mapping):
        raise ConfigError([("", "the config file must be a YAML mapping")], source)
    r = _Reader(data, path.parent if path else Path.cwd())
    for key in data:
        if key not in _SECTIONS:
            r.problems.append((str(key), "unknown key"))

    # the order of these calls is the order of the problems reported
    owner = _owner(r)
    imap = _imap(r, required=need_servers)
    smtp_v = _server(r, "smtp", required=need_servers)
    if smtp_v is not None:
        smtp_v["max_connections"] = _max_connections(r)
    smtp = ServerConfig(**smtp_v) if smtp_v is not None else None
    from_address, reply_address = _addresses(r, owner, imap, need_servers)
    secret_file, state_path = _state_files(r)
    oauth2 = _oauth2(r, state_path.parent)
    imap, smtp = _with_oauth2(r, imap, smtp, oauth2)
    templates_dir = _templates_dir(r, make_templates_dir)
    contacts = _contacts(r)
    auth_require, trusted, exchange_tenant = _auth(r)
    digest_every = _interval(r, r.section("digest"), "digest", "every", "7d")
    metrics_textfile, metrics_listen = _metrics(r)
    retention = _interval(r, r.section("retention"), "retention", "bodies_after", "90d")
    followup_after = _followup(r)

    optin_s = r.section("optin")
    replies_s = r.section("replies")
    limits_s = r.section("limits")
    log_s = r.section("log")

    cfg = Config(
        path=path,
        owner=owner,
        imap=imap,
        smtp=smtp,
        from_address=from_address,
        reply_address=reply_address,
        secret_file=secret_file,
        state_path=state_path,
        templates_dir=templates_dir,
        contacts=contacts,
        auth_require=auth_require,
        trusted_authserv_ids=trusted,
        exchange_online_tenant=exchange_tenant,
        digest_every=digest_every,
        optin_order=r.get(
            optin_s,
            "optin",
            "order",
            _choice("parallel", "requester_first", "target_first"),
            "parallel",
        ),
        reminder_after=r.get(optin_s, "optin", "reminder_after", parse_duration, timedelta(days=4)),
        expire_after=r.get(optin_s, "optin", "expire_after", parse_duration, timedelta(days=14)),
        accept_from_any_address=r.get(
            replies_s, "replies", "accept_from_any_address", _bool, False
        ),
        max_outgoing_per_hour=r.get(limits_s, "limits", "max_outgoing_per_hour", _int, 60),
        policies=_policies(r),
        log_format=r.get(log_s, "log", "format", _choice("auto", "json", "console"), "auto"),
        log_level=r.get(
            log_s, "log", "level", _choice("debug", "info", "warning", "error"), "info"
        ),
        default_language=r.get(data, "", "language", _str, owner.language) or "en",
        metrics_textfile=metrics_textfile,
        metrics_listen=metrics_listen,
        retention_bodies=retention,
        oauth2=oauth2,
        followup_after=followup_after,
        owner_reviews_introduction=r.get(
            optin_s, "optin", "owner_reviews_introduction", _bool, False
        ),
        snooze=r.get(optin_s, "optin", "snooze", _bool, False),
    )
    _check_together(r, cfg)
    if r.problems:
        raise ConfigError(r.problems, source)
    return cfg


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("INTROD_CONFIG") or DEFAULT_PATH)


def load_config(
    path: Path, *, need_servers: bool = True, make_templates_dir: bool = False
) -> Config:
    """Read and validate the config file at ``path`` (creating its templates_dir first with
    ``make_templates_dir``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [("", "file not found (give --config PATH or set INTROD_CONFIG)")], str(path)
        ) from None
    except OSError as exc:
        raise ConfigError([("", f"cannot read: {exc.strerror}")], str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([("", f"{where}{problem}")], str(path)) from None
    return build_config(
        data, path=path.resolve(), need_servers=need_servers, make_templates_dir=make_templates_dir
    )


def warnings_for(cfg: Config) -> list[str]:
    """Settings that are valid but unwise; check-config prints them."""
    out = []
    if not cfg.auth_require:
        out.append(
            "auth.require is false: anyone who forges the owner's From address can "
            "make introd send mail; use it only when your server adds no "
            "Authentication-Results header"
        )
    if cfg.accept_from_any_address:
        out.append(
            "replies.accept_from_any_address is true: a forwarded opt-in mail lets "
            "its new reader answer for the party"
        )
    if cfg.max_outgoing_per_hour == 0:
        out.append("limits.max_outgoing_per_hour is 0: no limit on outgoing mail")
    for srv_name, srv in (("imap", cfg.imap), ("smtp", cfg.smtp)):
        if (
            srv is not None
            and srv.security == "none"
            and srv.host not in ("127.0.0.1", "localhost", "::1")
        ):
            out.append(f"{srv_name}.security is none: the password crosses the network in clear")
        if srv is not None:
            out += _password_host_advice(srv_name, srv)
    return out


# Hosts that take no password (or soon none), and what to configure instead.
_MICROSOFT_365_HOSTS = (
    "outlook.office365.com",
    "outlook.office.com",
    "smtp.office365.com",
    "smtp-legacy.office365.com",
)
_OUTLOOK_COM_HOSTS = ("imap-mail.outlook.com", "smtp-mail.outlook.com")


def _password_host_advice(name: str, srv: ServerConfig) -> list[str]:
    host = srv.host.lower().rstrip(".")
    if srv.auth != "password":
        return []
    if host in _OUTLOOK_COM_HOSTS:
        return [
            f"{name}.host {srv.host} (Outlook.com) accepts no password, not even an app "
            f"password: set {name}.auth: oauth2 with an oauth2: section, provider "
            f"microsoft, flow device (docs/providers.md, Outlook.com)"
        ]
    if host in _MICROSOFT_365_HOSTS:
        what = (
            "Microsoft 365 refuses passwords for IMAP"
            if name == "imap"
            else "Microsoft 365 is switching SMTP AUTH with a password off"
        )
        return [
            f"{name}.host {srv.host}: {what}: set {name}.auth: oauth2 with an oauth2: "
            f"section, provider microsoft, flow client_credentials or device "
            f"(docs/providers.md, Microsoft 365)"
        ]
    return []
