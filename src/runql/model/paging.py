"""Pages of a search result and MLflow's page tokens, shared by every engine and store.

A token is MLflow's: base64 of ``{"offset": N}``, so a token MLflow handed out continues here and back.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TypeVar

from runql.errors import ArgumentError

__all__ = ["MAX_OFFSET", "create_page_token", "next_page_token", "paginate", "parse_page_token"]

T = TypeVar("T")

# The largest offset a token may hold: a database's BIGINT, which an OFFSET clause must fit in.
MAX_OFFSET = 2**63 - 1


def create_page_token(offset: int) -> str:
    """MLflow's token for ``offset``. MLflow's stores hand it out as bytes; runql as str."""
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def _token_error(message: str, token: str | bytes) -> ArgumentError:
    text = token.decode("ascii", "replace") if isinstance(token, bytes) else token
    return ArgumentError(
        message,
        code="bad-page-token",
        source=text,
        where="page_token",
        hint="pass the next_page_token of the previous page unchanged, or None for the first page",
    )


def parse_page_token(page_token: str | bytes | None) -> int:
    """The offset a token holds; an empty token is the first page. Errors read as MLflow's."""
    if not page_token:
        return 0
    try:
        decoded = base64.b64decode(page_token)
    except (TypeError, ValueError, binascii.Error):
        raise _token_error("Invalid page token, could not base64-decode", page_token) from None
    try:
        parsed = json.loads(decoded)
    except (ValueError, RecursionError):  # RecursionError: a token of deeply nested arrays
        shown = repr(decoded[:200]) + ("..." if len(decoded) > 200 else "")  # a hostile token can be huge
        raise _token_error(f"Invalid page token, decoded value={shown}", page_token) from None
    offset = parsed.get("offset") if isinstance(parsed, dict) else None
    if not offset:
        raise _token_error(f"Invalid page token, parsed value={parsed}", page_token)
    try:
        number = int(offset)
    except (TypeError, ValueError, OverflowError):  # OverflowError: {"offset": Infinity}
        raise _token_error(f"Invalid page token, not stringable {offset}", page_token) from None
    if number < 0:
        raise _token_error(f"Invalid page token, negative offset {number}", page_token)
    if number > MAX_OFFSET:  # {"offset": 1e300}: no search has that many rows, and no database takes it
        digits = str(number)
        shown = digits if len(digits) <= 30 else f"{digits[:20]}... ({len(digits)} digits)"
        raise _token_error(f"Invalid page token, offset {shown} is beyond {MAX_OFFSET}", page_token)
    return number


def next_page_token(offset: int, max_results: int | None, total: int) -> str | None:
    """The token after a page of ``max_results`` starting at ``offset`` of ``total`` rows."""
    if max_results is None or offset + max_results >= total:
        return None
    return create_page_token(offset + max_results)


def paginate(
    rows: Sequence[T], page_token: str | bytes | None, max_results: int | None
) -> tuple[list[T], str | None]:
    """One page of ``rows`` and the token of the next page (None on the last page)."""
    start = parse_page_token(page_token)
    end = None if max_results is None else start + max_results
    return list(rows[start:end]), next_page_token(start, max_results, len(rows))
