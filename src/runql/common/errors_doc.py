"""The generated part of ``docs/errors.md``: the exception classes and every error code.

The page is prose written by hand around a part that sits between :data:`BEGIN` and :data:`END`;
that part is rendered from the classes of :mod:`runql.errors` and from
:data:`runql.errors.ERROR_CODES`. ``python -m runql.common.errors_doc docs/errors.md`` rewrites it in place.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Sequence
from pathlib import Path

from runql import errors
from runql.errors import ERROR_CODES, RunqlError

__all__ = ["BEGIN", "END", "generated", "regenerate"]

BEGIN = "<!-- Generated from src/runql/errors.py by `python -m runql.common.errors_doc docs/errors.md` -->"
END = "<!-- End of the generated part -->"


def _markdown(docstring: str) -> str:
    """The first paragraph of a docstring on one line, with reST's double backticks as Markdown's."""
    return " ".join(docstring.split("\n\n")[0].split()).replace("``", "`")


def _classes() -> list[type[RunqlError]]:
    """The exception classes of :mod:`runql.errors`, in the order they are defined."""
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, RunqlError) and value.__module__ == errors.__name__
    ]


def _raised_as(code: str) -> str:
    entry = ERROR_CODES[code]
    if entry.warning:
        return "warning (`QueryWarning`)"
    return ", ".join(f"`{cls.__name__}`" for cls in entry.raised_as)


def generated() -> str:
    """The generated part, markers included."""
    lines = [
        BEGIN,
        "",
        "## Exception classes",
        "",
        "| class | derives from | what it means |",
        "| --- | --- | --- |",
    ]
    for cls in _classes():
        bases = ", ".join(f"`{base.__name__}`" for base in cls.__bases__)
        lines.append(f"| `{cls.__name__}` | {bases} | {_markdown(inspect.getdoc(cls) or '')} |")
    lines += [
        "",
        "## Codes",
        "",
        "| code | raised as | what it means |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{code}` | {_raised_as(code)} | {entry.meaning} |" for code, entry in ERROR_CODES.items()]
    lines += ["", END]
    return "\n".join(lines)


def regenerate(page: str) -> str:
    """``page`` with its generated part rendered anew; the prose around it is kept."""
    start, end = page.find(BEGIN), page.find(END)
    if start == -1 or end < start:
        raise ValueError(f"the page has no generated part: add the lines {BEGIN!r} and {END!r}")
    return page[:start] + generated() + page[end + len(END) :]


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the generated part of each page named on the command line."""
    for name in sys.argv[1:] if argv is None else argv:
        path = Path(name)
        path.write_text(regenerate(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
