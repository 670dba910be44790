"""What a message or a log line may show of a text runql did not write.

A tracking URI or database URL may carry ``user:password@`` (``postgresql://alice:s3cret@db/mlflow``,
``http://alice:token@server``). Every message that shows such a text passes it through
:func:`redact` first, which keeps the user and hides the rest: ``postgresql://alice:***@db/mlflow``.

A text a user or a store supplies (an experiment name, a run id read from a database) may be a megabyte
long or hold a newline that would start a forged line of a log. :func:`shown` cuts it and escapes what is
not printable, so that it takes one line of bounded length.
"""

from __future__ import annotations

import re

__all__ = ["SHOWN_LIMIT", "redact", "shown", "shown_value"]

# scheme://userinfo@ where userinfo runs to the last '@' before the path: a password may hold '@'
# (unescaped, as people type them), which a split at the first '@' would show the tail of.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#]*)@")


def _hidden(match: re.Match[str]) -> str:
    user, colon, _ = match["userinfo"].partition(":")
    # With a ':' the part before it is the user name; without, the whole userinfo may be a token.
    shown = f"{user}:***" if colon and user and "@" not in user else "***"
    return f"{match['scheme']}{shown}@"


# A word just before an '@': where a driver that split a URL at the first '@' shows a password's tail
# as part of a host name ("ss@db" from alice:p@ss@db).
_BEFORE_AT = re.compile(r"[^\s\"'/:@]+@")


def redact(text: str, url: str | None = None) -> str:
    """``text`` with the password (or token) of every URL in it replaced by ``***``.

    ``url``, the URL the text is about, has its password hidden also where a library cut it apart:
    any word before an '@' in ``text`` that ends that password is hidden too.
    """
    if "@" not in text:
        return text
    text = _USERINFO.sub(_hidden, text)
    found = _USERINFO.search(url or "")
    if found is not None:
        user, colon, password = found["userinfo"].partition(":")
        secret = password if colon else user
        text = _BEFORE_AT.sub(lambda m: "***@" if secret.endswith(m[0][:-1]) else m[0], text)
    return text


# Characters of a text a message shows: enough to recognise a name or an id, never a megabyte.
SHOWN_LIMIT = 200


def shown(text: str, limit: int = SHOWN_LIMIT) -> str:
    """``text`` as one bounded line of a message or a log: its first ``limit`` characters, each that is
    not printable (a newline, a control character, an unpaired surrogate) escaped as in a Python string
    literal (``\\n``, ``\\x1b``), and, when it was cut, ``...`` and its length.

    A plain short text is returned as it is, so a message that quotes it reads as MLflow's does.
    """
    cut = text[:limit]
    if not cut.isprintable():
        cut = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in cut)
    if len(text) > limit:
        cut += f"... ({len(text):,} characters)"
    return cut


def shown_value(value: object) -> str:
    """Any value for a message: its repr on one bounded line (a hostile record may hold megabytes)."""
    return shown(repr(value), 80)
