"""docs/syntax.md and docs/errors.md cannot drift from the parser, nor errors.md from runql.errors.

Fenced blocks carry what they claim in their info string: ```filter``` (each line parses), ```filter
error=<code>``` (each line fails with that code), the same for ```order_by``` and ```python``` (an expression
run with ``runql`` in scope), and ```lark grammar/<file>``` (a verbatim copy of a grammar file). In
errors.md, a ```text``` block right after a one-line example is that example's exact rendering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

import runql
from runql.common.errors_doc import regenerate
from runql.errors import QueryError

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    kind: str
    options: dict[str, str]
    args: tuple[str, ...]
    body: str
    doc: str
    index: int


def blocks(doc: str) -> list[Block]:
    found = []
    for index, match in enumerate(_FENCE.finditer((DOCS / doc).read_text("utf-8"))):
        kind, *rest = match.group(1).split() or [""]
        options = dict(word.split("=", 1) for word in rest if "=" in word)
        args = tuple(word for word in rest if "=" not in word)
        found.append(Block(kind, options, args, match.group(2), doc, index))
    return found


def run(kind: str, text: str, options: dict[str, str] | None = None) -> object:
    options = options or {}
    if kind == "filter" and "entity" in options:  # checked by the profile too, for that entity
        return runql.compile(text, profile=options.get("profile", "mlflow"), entity=options["entity"])
    if kind == "filter":
        return runql.parse_filter(text)
    if kind == "order_by":
        return runql.parse_order_by([text])
    assert kind == "python", kind
    exec(text, {"runql": runql})
    return None


EXAMPLES = [
    pytest.param(block.kind, line, block.options, id=f"{block.doc}:{line[:50]}")
    for doc in ("syntax.md", "errors.md")
    for block in blocks(doc)
    if block.kind in ("filter", "order_by", "python")
    for line in (block.body.splitlines() if block.kind != "python" else [block.body])
]


@pytest.mark.parametrize(("kind", "text", "options"), EXAMPLES)
def test_example(kind: str, text: str, options: dict[str, str]) -> None:
    code = options.get("error")
    if code is None:
        run(kind, text, options)
        return
    with pytest.raises(QueryError) as caught:
        run(kind, text, options)
    assert caught.value.code == code, str(caught.value)


def test_syntax_embeds_every_grammar_file_verbatim() -> None:
    embedded = {block.args[0]: block.body for block in blocks("syntax.md") if block.kind == "lark"}
    on_disk = {f"grammar/{path.name}": path.read_text("utf-8") for path in (ROOT / "grammar").glob("*.lark")}
    assert embedded == on_disk


def test_syntax_shows_successes_and_failures() -> None:
    found = blocks("syntax.md")
    assert sum(b.kind == "filter" and "error" not in b.options for b in found) >= 10
    assert {b.options["error"] for b in found if "error" in b.options} >= {
        "syntax",
        "unexpected-end",
        "unknown-key-type",
        "unquoted-value",
        "bad-number",
        "empty-list",
        "bad-list",
    }
    assert any(b.kind == "order_by" for b in found)


def test_error_renderings_are_current() -> None:
    found = blocks("errors.md")
    pairs = [
        (example, rendering)
        for example, rendering in pairwise(found)
        if "error" in example.options and rendering.kind == "text"
    ]
    assert len(pairs) >= 10
    for example, rendering in pairs:
        with pytest.raises(QueryError) as caught:
            run(example.kind, example.body.rstrip("\n"))
        assert str(caught.value) == rendering.body.rstrip("\n")


def _raised_codes() -> set[str]:
    codes: set[str] = set()
    for module in ("parser.py", "diagnosis.py", "unparser.py"):
        source = (ROOT / "src" / "runql" / "language" / module).read_text("utf-8")
        codes |= set(re.findall(r"\bcode\s*=\s*\"([a-z][a-z-]*)\"", source))
    return codes


def test_every_code_the_parser_raises_is_documented() -> None:
    text = (DOCS / "errors.md").read_text("utf-8")
    documented = set(re.findall(r"^## `([a-z-]+)`$", text, flags=re.MULTILINE))
    raised = _raised_codes()
    assert raised >= {"syntax", "unexpected-end", "unterminated-string", "unknown-key-type", "unwritable"}
    assert raised <= documented, f"undocumented: {sorted(raised - documented)}"
    examples = {b.options["error"] for b in blocks("errors.md") if "error" in b.options}
    assert documented <= examples, f"no example for: {sorted(documented - examples)}"


def test_errors_md_tables_are_generated_from_the_code() -> None:
    page = (DOCS / "errors.md").read_text("utf-8")
    assert page == regenerate(page), (
        "docs/errors.md differs from src/runql/errors.py: "
        "run `python -m runql.common.errors_doc docs/errors.md`"
    )
