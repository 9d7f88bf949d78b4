"""Where a running introd gets its parts: the one place that knows which contacts,
templates and secret an engine is built with.

`introd run`, `run --once`, `parse`, `demo` and `templates preview` all build what they
need here, so they read mail with the same contacts: those the config lists and those
`introd contacts import` stored beside the state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config
    from .reading.people import ContactBook
    from .engine import Engine
    from .render import Templates
    from .state import Store


def imported_contacts_dir(config: Config) -> Path:
    """The folder `introd contacts import` copies contact files into."""
    return config.state_path.parent / "contacts"


def contact_paths(config: Config) -> list[Path]:
    """The config's contact files, then what `contacts import` stored beside the state."""
    imported = imported_contacts_dir(config)
    extra = sorted(p for p in imported.glob("*") if p.is_file()) if imported.is_dir() else []
    return [*config.contacts, *extra]


def load_book(config: Config) -> ContactBook:
    """Every contact a running introd knows (see `contact_paths`)."""
    from .contacts import load_contacts

    return load_contacts(contact_paths(config))


def build_engine(config: Config, store: Store, templates: Templates | None = None) -> Engine:
    """The engine of `run`, `demo`, the sender and previews, on the given state; it renders
    with TEMPLATES when given (a set the start-up check compiled), else a new set."""
    from .engine import Engine
    from .files import load_secret

    if templates is None:
        from .render import Templates

        templates = Templates(config.templates_dir)
    return Engine(
        config,
        store=store,
        templates=templates,
        contacts=load_book(config),
        secret=load_secret(config.secret_file),
    )
