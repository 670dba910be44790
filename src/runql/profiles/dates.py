"""Dates written for time attributes (the extended profile): ``attributes.start_time >= '2026-11-01'``.

Validation lowers a date to milliseconds since the epoch, so every engine compares numbers as it always
has. The forms (docs/syntax.md):

* a day, ``'2026-11-01'``: its midnight;
* a datetime, ``'2026-11-01T08:30'``, ``'2026-11-01 08:30:15.250'``, with an optional zone: ``Z``,
  ``+02:00``, ``-0500``. Without a zone the time is UTC;
* a time relative to now, ``'now'``, ``'now-7d'``, ``'now-12h'``: units ``s``, ``m``, ``h``, ``d``, ``w``.
  ``now`` is read when the query is compiled, so a query holding it is never served from a cache.

Fractions of a millisecond are dropped (the time is rounded down to its millisecond).
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

__all__ = ["DATE_FORMS", "is_relative", "looks_like_date", "to_milliseconds"]

DATE_FORMS = "'2026-11-01', '2026-11-01T08:30:00Z', '2026-11-01 08:30+02:00', or 'now-7d' (s, m, h, d, w)"

_ABSOLUTE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?)?"
)
_RELATIVE = re.compile(r"now(?:(?P<sign>[+-])(?P<amount>\d{1,9})(?P<unit>[smhdw]))?")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Something a person meant as a date: starts like a year and a month, or with "now".
_DATE_LIKE = re.compile(r"\s*(?:\d{4}-\d|now\b)", re.IGNORECASE)


def looks_like_date(text: str) -> bool:
    """Whether ``text`` was probably meant as a date (so a refusal can say why it is not one)."""
    return _DATE_LIKE.match(text) is not None


def is_relative(text: str) -> bool:
    """Whether ``text`` is a time relative to now, which changes from one compile to the next."""
    return _RELATIVE.fullmatch(text) is not None


def to_milliseconds(text: str, now_ms: int | None = None) -> int | None:
    """The milliseconds since the epoch ``text`` names, None when it is not a date of the forms above
    (a day that does not exist, ``'2026-02-30'``, is not one). ``now_ms`` replaces the clock."""
    relative = _RELATIVE.fullmatch(text)
    if relative is not None:
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        if relative["sign"] is None:
            return now
        offset = int(relative["amount"]) * _UNIT_MS[relative["unit"]]
        return now + offset if relative["sign"] == "+" else now - offset
    found = _ABSOLUTE.fullmatch(text)
    if found is None:
        return None
    fraction = (found["fraction"] or "").ljust(9, "0")
    try:
        moment = datetime(
            int(found["year"]),
            int(found["month"]),
            int(found["day"]),
            int(found["hour"] or 0),
            int(found["minute"] or 0),
            int(found["second"] or 0),
            tzinfo=_zone(found["zone"]),
        )
    except ValueError:  # a month 13, a February 30th, an hour 25, a zone past 23:59
        return None
    whole = (moment - _EPOCH) // timedelta(milliseconds=1)
    return whole + int(fraction[:3])


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return timezone.utc
    digits = text[1:].replace(":", "")
    if int(digits[2:]) >= 60:
        raise ValueError(f"no zone has {digits[2:]} minutes")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return timezone(-offset if text[0] == "-" else offset)  # ValueError past 24 hours
