"""Publication-date order of an eval corpus, for replaying it into a "follow a story" run.

Why: alerts for a followed topic are scored as articles arrive, so a replay must index the
corpus in the order the articles were published, not in the shuffled file-number order of
``corpus/``. This script derives that order from ``selection.json`` alone (stdlib only, so it
runs without khabar's venv):

- SaudiNewsNet records: their ``day`` (SaudiNewsNet's extraction day, ISO Gregorian).
- Fars News records: the Jalali date at the start of the news id, converted to Gregorian.
  14-digit ids start with ``yyyymmdd`` (``13990501000187`` is 1399/05/01); the older 10-digit
  ids start with ``yymmdd`` of the 1300s (``8210150040`` is 1382/10/15).
- Varzesh3 records carry no date, so they go last, in file-name order. (Their ids grow with
  time, but they would still have to be interleaved with dated records by guesswork.)

Ties are broken by file name. Usage: ``python3 eval/follow/order.py eval/archive/selection.json``
prints the files in replay order, one per line.
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from pathlib import Path

# 1 Farvardin 1354 (Nowruz) fell on 21 March 1975.
_ANCHOR_YEAR = 1354
_ANCHOR_DAY = date(1975, 3, 21)
# Leap years of the arithmetic 33-year cycle (right for every year from 1343 to 1472).
_LEAP_REMAINDERS = frozenset({1, 5, 9, 13, 17, 22, 26, 30})


def _jalali_year_length(jy: int) -> int:
    return 366 if jy % 33 in _LEAP_REMAINDERS else 365


def jalali_to_gregorian(jy: int, jm: int, jd: int) -> date:
    """The Gregorian date of Jalali (Solar Hijri) ``jy/jm/jd``, for years 1343-1472."""
    if not 1343 <= jy <= 1472 or not 1 <= jm <= 12 or not 1 <= jd <= 31:
        raise ValueError(f"Jalali date out of range: {jy}/{jm}/{jd}")
    days = 0
    for year in range(min(jy, _ANCHOR_YEAR), max(jy, _ANCHOR_YEAR)):
        days += _jalali_year_length(year)
    if jy < _ANCHOR_YEAR:
        days = -days
    # Months 1-6 have 31 days, 7-11 have 30, the 12th 29 (30 in a leap year).
    days += (jm - 1) * 31 if jm <= 7 else 186 + (jm - 7) * 30
    return _ANCHOR_DAY + timedelta(days=days + jd - 1)


def fars_date(news_id: str | int) -> date:
    """The publication date encoded at the start of a Fars News id."""
    digits = str(news_id)
    stamp = "13" + digits[:6] if len(digits) == 10 else digits[:8]
    return jalali_to_gregorian(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]))


def record_date(record: dict[str, object]) -> date | None:
    """The Gregorian publication date of a selection record, or None when the source has none."""
    src = record.get("src")
    if src == "saudinewsnet":
        return date.fromisoformat(str(record["day"]))
    if src == "farsnews":
        return fars_date(str(record["id"]))
    return None


def replay_order(selection_path: Path) -> list[str]:
    """Corpus file names of ``selection_path`` in publication-date order (undated ones last)."""
    records = json.loads(selection_path.read_text(encoding="utf-8"))

    def key(record: dict[str, object]) -> tuple[int, str, str]:
        day = record_date(record)
        name = str(record["file"])
        return (0, day.isoformat(), name) if day else (1, "", name)

    return [str(r["file"]) for r in sorted(records, key=key)]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} SELECTION_JSON", file=sys.stderr)
        return 2
    for name in replay_order(Path(argv[1])):
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
