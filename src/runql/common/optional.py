"""Optional dependencies: importing one when a feature first needs it, and the progress bar.

The readers, the plot and the progress bar need packages that come with extras
(``runql[mlflow-files]``, ``runql[plot]``...); a missing one is a :class:`MissingDependencyError`
that names the extra to install.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import TypeVar

from runql.errors import MissingDependencyError

__all__ = ["install_hint", "progress_bar", "require"]

T = TypeVar("T")

_PACKAGES = {"yaml": "PyYAML", "sqlalchemy": "SQLAlchemy", "re2": "google-re2"}  # import name -> name on PyPI


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` telling which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = _PACKAGES.get(module, module.split(".")[0])
        raise MissingDependencyError(
            f"{what} needs the {package!r} package: {install_hint(extra)}"
        ) from error


def install_hint(extra: str) -> str:
    """How to install ``extra``: from the package index, and from a checkout of runql."""
    return f"pip install 'runql[{extra}]' (from a checkout of runql: pip install '.[{extra}]')"


# Seconds a load runs before its bar is drawn: a quick load prints nothing.
PROGRESS_DELAY = 0.5


def progress_bar(
    items: Iterable[T], *, total: int | None, desc: str, unit: str, enabled: bool | None, extra: str
) -> Iterator[T]:
    """``items``, with a tqdm progress bar on stderr when ``enabled`` (None: when stderr is a terminal).

    The bar appears only once a load has taken more than a moment, so quick loads print nothing.
    """
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield from items
        return
    try:
        from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        if enabled:
            raise MissingDependencyError(
                f"a progress bar needs the 'tqdm' package: {install_hint(extra)}"
            ) from None
        yield from items
        return
    bar = tqdm(items, total=total, desc=desc, unit=unit, delay=PROGRESS_DELAY, leave=False, file=sys.stderr)
    try:
        yield from bar
    finally:
        bar.close()
