"""The few errors introd raises on purpose; the CLI turns each into one line."""

from __future__ import annotations


class IntrodError(Exception):
    """Base of every error introd raises on purpose."""

    exit_code = 1


class ConfigError(IntrodError):
    """The configuration (or a file it names) is invalid.

    Carries every problem found, each as ``(key_path, message)``.
    """

    exit_code = 2

    def __init__(self, problems: list[tuple[str, str]], source: str = "") -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return where + "; ".join(f"at '{key}': {msg}" if key else msg for key, msg in self.problems)


class ContactsError(ConfigError):
    """A contacts file cannot be read."""


class TemplateError(IntrodError):
    """A template does not compile or does not render."""

    exit_code = 2

    def __init__(self, message: str, template: str | None = None) -> None:
        super().__init__(message)
        self.template = template


class DeliveryError(IntrodError):
    """The SMTP server cannot be reached or refuses us as a whole."""


class MailboxError(IntrodError):
    """The IMAP server cannot be reached or refuses us."""


class StateError(IntrodError):
    """The state database cannot be opened or written."""


class UsageError(IntrodError):
    """A command was called wrongly (unknown intro id, bad argument)."""

    exit_code = 2


class AuthError(IntrodError):
    """Signing in with OAuth 2.0 failed: the provider's endpoint is unreachable or answers
    nonsense, refuses the client, or the token file cannot be used."""


class AuthExpired(AuthError):
    """The provider no longer accepts the refresh token (``invalid_grant``): a person must
    run ``introd auth login`` again. The daemon waits for that instead of retrying."""
