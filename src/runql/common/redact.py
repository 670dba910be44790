"""Credentials kept out of messages: the one place that hides the password of a URL.

A tracking URI or database URL may carry ``user:password@`` (``postgresql://alice:s3cret@db/mlflow``,
``http://alice:token@server``). Every message that shows such a text passes it through
:func:`redact` first, which keeps the user and hides the rest: ``postgresql://alice:***@db/mlflow``.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

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
