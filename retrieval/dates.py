"""Calendar dates in article text: absolute ones read, relative ones resolved.

News says "اليوم الأربعاء", "أمس", "الشهر الماضي", "on Tuesday" or "در تاریخ 7 نوامبر" and
relies on the reader knowing when it was published. Against the article's publication date
these become dates a reader can state: ``mentions`` finds them and says what each one means.
Persian (Solar Hijri) dates are converted to the Gregorian calendar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from khabar.retrieval.normalize import asks_something, tokens

_MONTHS = {
    # English
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    # Arabic (Egyptian / Gulf names)
    "يناير": 1, "فبراير": 2, "مارس": 3, "أبريل": 4, "ابريل": 4, "إبريل": 4, "مايو": 5,
    "يونيو": 6, "يونيه": 6, "يوليو": 7, "يوليه": 7, "أغسطس": 8, "اغسطس": 8, "سبتمبر": 9,
    "أكتوبر": 10, "اكتوبر": 10, "نوفمبر": 11, "ديسمبر": 12,
    # Arabic (Levantine names)
    "كانون الثاني": 1, "شباط": 2, "آذار": 3, "نيسان": 4, "أيار": 5, "حزيران": 6, "تموز": 7,
    "آب": 8, "أيلول": 9, "تشرين الأول": 10, "تشرين الثاني": 11, "كانون الأول": 12,
    # Persian names of Gregorian months
    "ژانویه": 1, "فوریه": 2, "آوریل": 4, "مه": 5, "ژوئن": 6, "ژوئیه": 7, "اوت": 8,
    "سپتامبر": 9, "اکتبر": 10, "نوامبر": 11, "دسامبر": 12,
}
_MONTH_ALT = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_DIGIT_TABLE = str.maketrans(
    {chr(0x0660 + i): str(i) for i in range(10)} | {chr(0x06F0 + i): str(i) for i in range(10)}
)
_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_DMY = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*(?:من\s+)?({_MONTH_ALT})\s*,?\s*(\d{{4}})(?!\d)",
    re.IGNORECASE,
)
_MDY = re.compile(
    rf"({_MONTH_ALT})\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*(\d{{4}})(?!\d)", re.IGNORECASE
)

_JALALI_MONTHS = {m: i for i, m in enumerate(
    "فروردین اردیبهشت خرداد تیر مرداد شهریور مهر آبان آذر دی بهمن اسفند".split(), start=1)}
_JALALI_DMY = re.compile(
    r"(?<!\d)(\d{1,2})\s+(" + "|".join(_JALALI_MONTHS) + r")\s+(1[34]\d\d)(?!\d)")
# Persian digits or letters Arabic does not use: a 13xx/14xx date here is Solar Hijri.
_PERSIAN_MARKS = re.compile("[\u06f0-\u06f9پچژگکی]")



def parse_date(text: str) -> str | None:
    """The first full calendar date in ``text`` as ISO ``YYYY-MM-DD``, else None.

    Persian (Solar Hijri) dates, "۱۳۹۲/۱۲/۱۷" or "17 اسفند 1392", are converted to the
    Gregorian calendar. A day and month without a year ("7 نوامبر") is not a date we can
    state, so it yields None.
    """
    persian = bool(_PERSIAN_MARKS.search(text))
    text = text.translate(_DIGIT_TABLE)
    candidates: list[tuple[int, int, int, int, bool]] = []
    for m in _ISO.finditer(text):
        candidates.append((m.start(), int(m[1]), int(m[2]), int(m[3]), persian))
    for m in _DMY.finditer(text):
        candidates.append((m.start(), int(m[3]), _MONTHS[m[2].lower()], int(m[1]), False))
    for m in _MDY.finditer(text):
        candidates.append((m.start(), int(m[3]), _MONTHS[m[1].lower()], int(m[2]), False))
    for m in _JALALI_DMY.finditer(text):
        candidates.append((m.start(), int(m[3]), _JALALI_MONTHS[m[2]], int(m[1]), True))
    for _, y, mo, d, jalali in sorted(candidates):
        if jalali and 1300 <= y <= 1499:
            y, mo, d = jalali_to_gregorian(y, mo, d)
        if 1900 <= y <= 2100:
            try:
                return date(y, mo, d).isoformat()
            except ValueError:
                continue
    return None


# A date in an article's address: /2024/06/19/, /2024-06-19/, or the 8 digits a time stamp
# starts with (...-20241108073816961.htm).
_URL_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d\d)(?:([/_-])(\d{1,2})\2(\d{1,2})(?!\d)|(\d\d)(\d\d)(?=\d{0,9}(?!\d)))")


def date_from_url(url: str | None) -> str | None:
    """The publication date an article's address carries, as ISO ``YYYY-MM-DD``; None when
    it carries none (only the path is read: a host name holds no date)."""
    if not url:
        return None
    path = re.sub(r"^[a-z]+://[^/]*", "", url, flags=re.IGNORECASE)
    for m in _URL_DATE.finditer(path):
        year, month, day = int(m[1]), int(m[3] or m[5]), int(m[4] or m[6])
        if not 1990 <= year <= date.today().year + 1:
            continue
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            continue
    return None


def jalali_to_gregorian(jy: int, jm: int, jd: int) -> tuple[int, int, int]:
    """The Gregorian date of a Solar Hijri one (the arithmetic of the 33-year cycle)."""
    jy += 1595
    days = (-355668 + 365 * jy + (jy // 33) * 8 + ((jy % 33) + 3) // 4 + jd
            + ((jm - 1) * 31 if jm < 7 else (jm - 7) * 30 + 186))
    gy = 400 * (days // 146097)
    days %= 146097
    if days > 36524:
        days -= 1
        gy += 100 * (days // 36524)
        days %= 36524
        if days >= 365:
            days += 1
    gy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        gy += (days - 1) // 365
        days = (days - 1) % 365
    gd = days + 1
    leap = (gy % 4 == 0 and gy % 100 != 0) or gy % 400 == 0
    for gm, length in enumerate((31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                 31), start=1):
        if gd <= length:
            return gy, gm, gd
        gd -= length
    return gy, 12, 31


@dataclass(frozen=True, slots=True)
class Mention:
    """A date expression in a text and the date it stands for: ``YYYY-MM-DD``, or ``YYYY-MM``
    when it names only a month (``until`` ends a range: "من 12 إلى 17 سبتمبر")."""

    text: str
    start: int
    resolved: str
    until: str | None = None


_WEEKDAYS = {
    # Monday = 0, as ``date.weekday``
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6,
    "الاثنين": 0, "الإثنين": 0, "الثلاثاء": 1, "الأربعاء": 2, "الاربعاء": 2, "الخميس": 3,
    "الجمعة": 4, "السبت": 5, "الأحد": 6, "الاحد": 6,
    "دوشنبه": 0, "سه‌شنبه": 1, "سه شنبه": 1, "چهارشنبه": 2, "پنجشنبه": 3, "پنج‌شنبه": 3,
    "جمعه": 4, "شنبه": 5, "یکشنبه": 6, "یک‌شنبه": 6,
}
_WEEKDAY_ALT = "|".join(sorted(map(re.escape, _WEEKDAYS), key=len, reverse=True))
_TODAY = r"اليوم|today|امروز"
_YESTERDAY = r"أمس|امس|البارحة|yesterday|دیروز"
_LAST = r"الماضي|الماضية|المنصرم|المنصرمة|last|past|گذشته|پیش"
_RELATIVE = [
    # (pattern, kind)
    # Whole words (or with the clitic "و"/"ف": "وأمس"): "اليومية" is "daily" and "امروزه"
    # "nowadays", not "today".
    (re.compile(rf"(?<![^\W_وف])(?:{_TODAY})(?:\s+(?:{_WEEKDAY_ALT}))?(?![\w\u200c])", re.I),
     "today"),
    (re.compile(rf"(?<![^\W_وف])(?:{_YESTERDAY})(?:\s+(?:{_WEEKDAY_ALT}))?(?![\w\u200c])", re.I),
     "yesterday"),
    (re.compile(r"الشهر\s+(?:الماضي|المنصرم)|last month|ماه\s+(?:گذشته|پیش)", re.I),
     "last_month"),
    (re.compile(r"(?:العام|السنة)\s+(?:الماضي|الماضية|المنصرم)|last year|سال\s+(?:گذشته|پیش)",
                re.I), "last_year"),
    (re.compile(rf"(?<![\w])(?:يوم\s+|on\s+|روز\s+)?({_WEEKDAY_ALT})(?![\w\u200c])", re.I),
     "weekday"),
]
_DAY_RANGE = re.compile(
    rf"(?<!\d)(\d{{1,2}})\s*(?:-|–|إلى|الى|حتى|و|تا|to|and)\s*(?:الـ\s*)?(\d{{1,2}})\s+"
    rf"(?:من\s+)?({_MONTH_ALT})(?:\s+({_LAST}))?(?!\s*,?\s*\d{{4}})", re.I)
_DAY_MONTH = re.compile(
    rf"(?<![\d/])(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:من\s+)?({_MONTH_ALT})(?:\s+({_LAST}))?"
    rf"(?!\s*,?\s*\d{{4}})", re.I)
_MONTH_YEAR = re.compile(rf"({_MONTH_ALT})(?:\s*/\s*(?:{_MONTH_ALT}))?\s+(\d{{4}})(?!\d)",
                         re.I)
# "حزيران الماضي", "ژوئن گذشته", "June last" and English's own order, "last June".
_MONTH_LAST = re.compile(rf"({_MONTH_ALT})\s+(?:{_LAST})|\b(?:last|past)\s+({_MONTH_ALT})\b",
                         re.I)


# A date given without digits is relative: it names a weekday, today, yesterday or something
# "last" ("الشهر الماضي"). A text with no digits and none of these words has no date, and this
# test is far quicker than ``mentions`` (answer choice asks it of every candidate sentence).
_UNDIGITED_CUES = frozenset(tokens(" ".join([*_WEEKDAYS, *f"{_TODAY}|{_YESTERDAY}".split("|")])))
# "Last" words end no pattern at a word boundary ("يناير الماضيين" is "last January"): prefixes.
_LAST_CUES = tuple(tokens(" ".join(_LAST.split("|"))))


def may_mention(norm_tokens: Iterable[str]) -> bool:
    """Whether a text of these normalised tokens can mention a date (``tokens``: light-stemmed,
    so "الثلاثاء" is "ثلاثاء"; a leading "و"/"ف" clitic is looked through)."""
    for t in norm_tokens:
        if (t in _UNDIGITED_CUES or (t[:1] in "وف" and t[1:] in _UNDIGITED_CUES)
                or t.startswith(_LAST_CUES) or any(ch.isdigit() for ch in t)):
            return True
    return False


def mentions(text: str, published: str | None) -> list[Mention]:
    """The date expressions of ``text``, each with the date it means; relative ones are
    resolved against ``published`` (ISO) and left out when it is unknown."""
    digits = text.translate(_DIGIT_TABLE)
    found: list[Mention] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match[str], resolved: str | None, until: str | None = None) -> None:
        if resolved is None or any(a < m.end() and m.start() < b for a, b in taken):
            return
        taken.append((m.start(), m.end()))
        found.append(Mention(text[m.start():m.end()], m.start(), resolved, until))

    for m in _ISO.finditer(digits):
        add(m, parse_date(m[0]))
    for pattern in (_DMY, _MDY, _JALALI_DMY):
        for m in pattern.finditer(digits):
            add(m, parse_date(m[0]))
    for m in _MONTH_YEAR.finditer(digits):
        add(m, f"{int(m[2]):04d}-{_MONTHS[m[1].lower()]:02d}")
    pub = _iso(published)
    if pub is not None:
        for m in _DAY_RANGE.finditer(digits):
            month = _MONTHS[m[3].lower()]
            first = _day_before(pub, month, int(m[1]), bool(m[4]))
            last = _day_before(pub, month, int(m[2]), bool(m[4]), first)
            if first and last:
                add(m, first.isoformat(), last.isoformat())
        for m in _DAY_MONTH.finditer(digits):
            day = _day_before(pub, _MONTHS[m[2].lower()], int(m[1]), bool(m[3]))
            add(m, day.isoformat() if day else None)
        for m in _MONTH_LAST.finditer(digits):
            month = _MONTHS[(m[1] or m[2]).lower()]
            year = pub.year if month < pub.month else pub.year - 1
            add(m, f"{year:04d}-{month:02d}")
        for pattern, kind in _RELATIVE:
            for m in pattern.finditer(digits):
                add(m, _relative(kind, m, pub))
    return sorted(found, key=lambda x: x.start)


def _iso(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _day_before(pub: date, month: int, day: int, last: bool,
                after: date | None = None) -> date | None:
    """The day ``day`` of ``month`` nearest before (or just after) publication: news reports
    what happened, so a date more than a week after ``pub`` is last year's ("in the past
    June" always is)."""
    for year in (pub.year, pub.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if after is not None and candidate < after:
            continue
        if candidate <= pub + timedelta(days=0 if last else 7):
            return candidate
    return None


def _relative(kind: str, m: re.Match[str], pub: date) -> str | None:
    if kind == "today":
        return pub.isoformat()
    if kind == "yesterday":
        return (pub - timedelta(days=1)).isoformat()
    if kind == "last_month":
        first = pub.replace(day=1) - timedelta(days=1)
        return f"{first.year:04d}-{first.month:02d}"
    if kind == "last_year":
        return f"{pub.year - 1:04d}"
    weekday = _WEEKDAYS.get(m[1].lower()) if m.lastindex else None
    if weekday is None:
        return None
    return (pub - timedelta(days=(pub.weekday() - weekday) % 7)).isoformat()


# Words that ask for the newest news. Arabic "آخر" counts only where it means "latest" (it also
# means "another": "بلد آخر"), "جديد" only in "what is new" ("الاتفاق الجديد" is a new treaty).
_EDGE_BEFORE = r"(?:^|(?<=[\s،؟?:]))"
_EDGE_AFTER = r"(?=[\s،؟?.:]|$)"
_NEWEST = re.compile(
    r"\b(?:latest|newest|most recent|recent(?:ly)?|what(?:'s| is) new|new developments"
    r"|any news)\b"
    + "|" + _EDGE_BEFORE + r"(?:ما\s+(?:هو\s+|هي\s+)?آخر|أحدث|احدث|مؤخر[اًا]+|المستجدات"
    r"|مستجدات|ما\s+الجديد|ما\s+جديد"
    r"|آخر(?=\s+(?:ما|الأخبار|أخبار|اخبار|التطورات|المستجدات|تصريح|المعلومات))"
    r"|^آخر)" + _EDGE_AFTER
    + "|" + _EDGE_BEFORE + r"(?:جدیدترین|تازه‌ترین|تازه ترین|آخرین|اخیر|اخیرا|اخیراً|چه خبر)"
    + _EDGE_AFTER,
    re.IGNORECASE,
)
_THIS_YEAR = re.compile(r"\bthis year\b|(?:هذا|هذه)\s+(?:العام|السنة)|امسال|سال جاری", re.I)
# What every time ``asked_period`` reads contains at least one of: a digit, a weekday, a word
# of relative time, "this year", or a word asking for the newest news.
_TIME_CUE = re.compile(
    rf"[0-9\u0660-\u0669\u06f0-\u06f9]|{_WEEKDAY_ALT}|{_TODAY}|{_YESTERDAY}|{_LAST}|"
    + _THIS_YEAR.pattern + "|" + _NEWEST.pattern, re.IGNORECASE)
_YEAR = re.compile(r"(?<![\d/.-])(\d{4})(?![\d/.-])")
_JALALI_MONTH_YEAR = re.compile(r"(" + "|".join(_JALALI_MONTHS) + r")\s+(1[34]\d\d)(?!\d)")


@dataclass(frozen=True, slots=True)
class Period:
    """When a question asks about: publication dates from ``start`` to ``end`` (inclusive,
    either open), and whether it wants the newest news first ("latest", "آخر", "جدیدترین")."""

    start: date | None = None
    end: date | None = None
    newest: bool = False

    def holds(self, published: str | None) -> bool:
        """Whether an article published on ``published`` (ISO) falls in the range."""
        day = _iso((published or "")[:10])
        if day is None or (self.start is None and self.end is None):
            return False
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


def asked_period(question: str, today: date) -> Period | None:
    """The time a question pins, read against ``today``: its dates ("19 June 2024",
    "خرداد ۱۴۰۳"), years ("in 2023", "عام 2023", "سال ۱۴۰۲"), relative days, months and years
    ("yesterday", "الشهر الماضي", "last June", "امسال") and words asking for the newest news.
    None when it pins no time."""
    if not _TIME_CUE.search(question):  # most questions: one scan instead of a dozen
        return None
    dated = mentions(question, today.isoformat())
    spans = [_span(m.resolved, m.until) for m in dated]
    taken = [(m.start, m.start + len(m.text)) for m in dated]
    digits = question.translate(_DIGIT_TABLE)
    persian = bool(_PERSIAN_MARKS.search(question))
    for m in _JALALI_MONTH_YEAR.finditer(digits):
        year, month = int(m[2]), _JALALI_MONTHS[m[1]]
        first = date(*jalali_to_gregorian(year, month, 1))
        after = (year + 1, 1) if month == 12 else (year, month + 1)
        spans.append((first, date(*jalali_to_gregorian(*after, 1)) - timedelta(days=1)))
        taken.append((m.start(), m.end()))
    for m in _YEAR.finditer(digits):
        if any(a <= m.start() < b for a, b in taken):
            continue
        year = int(m[1])
        if persian and 1300 <= year <= 1499:  # a Solar Hijri year: Farvardin 1 to Esfand 29
            first = date(*jalali_to_gregorian(year, 1, 1))
            spans.append((first, date(*jalali_to_gregorian(year + 1, 1, 1)) - timedelta(days=1)))
        elif 1900 <= year <= today.year + 1:
            spans.append((date(year, 1, 1), date(year, 12, 31)))
    if _THIS_YEAR.search(question):
        spans.append((date(today.year, 1, 1), today))
    newest = bool(_NEWEST.search(question))
    if not spans and not newest:
        return None
    if not spans:
        return Period(newest=True)
    return Period(min(s for s, _ in spans), max(e for _, e in spans), newest)


def without_newest_words(question: str) -> str:
    """``question`` without its words asking for the newest news: they say how to rank, not
    what to look for, and searched as text they find articles that say "latest" or "جدیدترین"."""
    stripped = re.sub(r"\s{2,}", " ", _NEWEST.sub(" ", question)).strip()
    return stripped if asks_something(stripped) else question


def _span(resolved: str, until: str | None) -> tuple[date, date]:
    """The days a resolved mention covers: one day, a month (``YYYY-MM``) or a year."""
    first = _bounds(resolved)[0]
    return first, _bounds(until or resolved)[1]


def _bounds(value: str) -> tuple[date, date]:
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        day = date(*parts)
        return day, day
    if len(parts) == 2:
        first = date(parts[0], parts[1], 1)
        nxt = date(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1)
        return first, nxt - timedelta(days=1)
    return date(parts[0], 1, 1), date(parts[0], 12, 31)
