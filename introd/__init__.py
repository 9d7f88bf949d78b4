"""introd: a double-opt-in introduction broker that lives on a mailbox."""

from __future__ import annotations

__version__ = "0.1.0"
