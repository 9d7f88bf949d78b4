"""introd: a double-opt-in introduction broker that lives on a mailbox."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any

__version__ = "0.1.0"


# structlog's package imports asyncio at its top, for async logging methods that introd
# never calls, and uuid, for its deprecated thread-local context; loaded, they are some
# 2 MB of every daemon's memory. While structlog's package runs, each is a stand-in that
# imports the real module if structlog ever reads from it; any other import of them,
# before or after, gets the real module.
_DEFERRED = ("asyncio", "uuid")


class _OnFirstUse(types.ModuleType):
    """Stands in for a module in another's namespace; imports it when an attribute is read."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attr)


class _WithoutAsyncio:
    """structlog's own loader, run with the stand-ins."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        stand_ins = {name: _OnFirstUse(name) for name in _DEFERRED if name not in sys.modules}
        sys.modules.update(stand_ins)
        try:
            self.loader.exec_module(module)
        finally:
            for name, stand_in in stand_ins.items():
                if sys.modules.get(name) is stand_in:
                    del sys.modules[name]

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.loader, attr)


class _StructlogFinder:
    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != "structlog":
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _WithoutAsyncio(spec.loader)  # type: ignore[assignment]
        return spec


if "structlog" not in sys.modules:
    sys.meta_path.insert(0, _StructlogFinder())
