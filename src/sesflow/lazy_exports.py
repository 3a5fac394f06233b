"""A package's public names, each imported from its own module the first time someone asks for it.

A Lambda handler pays at import for every module its package's `__init__` loads; with this, a flow that
uses one name of `sesflow.aws` or `sesflow.mail` loads only that name's module."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """The package's module `__getattr__`: `homes` maps each public name to its submodule. A name once
    loaded is kept in the package, so Python finds it without asking again."""

    def load(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return load
