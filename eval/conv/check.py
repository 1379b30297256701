#!/usr/bin/env python3
"""Verify the conversational / cross-lingual / date question sets in eval/conv/.

Usage:  python eval/conv/check.py [-v]

For every line of every eval/conv/*.jsonl file:
  * the line parses as a JSON object with the required keys and types;
  * answerable lines name a `doc` that is in `docs`, and every `docs` entry exists
    in the line's corpus (seeds: <repo>/seeds, xquad-ar / persianqa-dev:
    <repo>/../shared/eval/<name>/corpus);
  * at least one answer key occurs in every listed doc after normalisation, and
    every answer key occurs in at least one listed doc
    (date lines: every non-ISO answer and `resolved_from` occur in the doc, and the
    ISO answer is recomputed from `resolved_from` and the article's publication date
    where the expression is understood);
  * follow-up lines have 1-3 history questions, a `corpus`, and switch lines point
    to a different article than their history.

Problems make the exit status 1.  Warnings (-v lists them all) are informational,
e.g. an answer key that also occurs in a corpus file not listed in `docs`
(usually a coincidence, but for the seeds it can mean `docs` is incomplete).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CORPORA = {
    "seeds": REPO / "seeds",
    "xquad-ar": REPO / ".." / "shared" / "eval" / "xquad-ar" / "corpus",
    "persianqa-dev": REPO / ".." / "shared" / "eval" / "persianqa-dev" / "corpus",
    "archive": REPO / "eval" / "archive" / "corpus",
}
# Question files over another corpus than the seeds (conversation files name theirs per line).
FILE_CORPUS = {"short-archive.jsonl": "archive"}
SHORT_KINDS = {"same-lang", "cross-lang", "near-miss", "off-topic"}
LANGS = {"ar", "fa", "en"}
BASE_KEYS = {
    "id": str,
    "lang": str,
    "q": str,
    "docs": list,
    "answers": list,
    "answerable": bool,
    "kind": str,
}
FILES = {
    # file name -> (allowed kinds, conversation file?)
    "seeds-questions.jsonl": ({"same-lang", "cross-lang"}, False),
    "seeds-dates.jsonl": ({"date"}, False),
    "short-seeds.jsonl": (SHORT_KINDS, False),
    "short-archive.jsonl": (SHORT_KINDS, False),
    "followups-seeds.jsonl": (
        {"followup-ellipsis", "followup-pronoun", "switch", "selfcontained"},
        True,
    ),
    "followups-shared.jsonl": (
        {"followup-ellipsis", "followup-pronoun", "switch", "selfcontained"},
        True,
    ),
}

# ---------------------------------------------------------------- normalisation
_MAP = {}
for _c in "یىئ":
    _MAP[ord(_c)] = "ي"
_MAP[ord("ک")] = "ك"
for _c in "أإآٱ":
    _MAP[ord(_c)] = "ا"
for _c in "ةۀ":
    _MAP[ord(_c)] = "ه"
_MAP[ord("ؤ")] = "و"
for _i in range(10):
    _MAP[0x0660 + _i] = str(_i)  # Arabic-Indic digits
    _MAP[0x06F0 + _i] = str(_i)  # Persian digits
_MAP[0x200C] = " "  # ZWNJ -> space
_MAP[0x0640] = None  # tatweel
for _cp in range(0x064B, 0x0660):
    _MAP[_cp] = None  # harakat etc.
_MAP[0x0670] = None  # superscript alef
_WS = re.compile(r"\s+")


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_MAP)
    return _WS.sub(" ", text).strip().casefold()


def occurs(key: str, normed_doc: str, nospace_doc: str) -> bool:
    k = norm(key)
    if not k:
        return False
    return k in normed_doc or k.replace(" ", "") in nospace_doc


# ---------------------------------------------------------------- dates
ISO_RE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
WEEKDAYS = {  # Python weekday(): Monday == 0
    "الاثنين": 0,
    "الإثنين": 0,
    "الثلاثاء": 1,
    "الأربعاء": 2,
    "الخميس": 3,
    "الجمعة": 4,
    "السبت": 5,
    "الأحد": 6,
    "دوشنبه": 0,
    "سه شنبه": 1,
    "سه‌شنبه": 1,
    "چهارشنبه": 2,
    "پنجشنبه": 3,
    "پنج‌شنبه": 3,
    "جمعه": 4,
    "شنبه": 5,
    "یکشنبه": 6,
    "یک‌شنبه": 6,
}
MONTHS = {
    "يناير": 1,
    "كانون الثاني": 1,
    "ژانویه": 1,
    "january": 1,
    "فبراير": 2,
    "شباط": 2,
    "فوریه": 2,
    "february": 2,
    "مارس": 3,
    "آذار": 3,
    "march": 3,
    "أبريل": 4,
    "ابريل": 4,
    "نيسان": 4,
    "آوریل": 4,
    "april": 4,
    "مايو": 5,
    "أيار": 5,
    "may": 5,
    "يونيو": 6,
    "يونيه": 6,
    "حزيران": 6,
    "ژوئن": 6,
    "june": 6,
    "يوليو": 7,
    "يوليه": 7,
    "تموز": 7,
    "ژوئیه": 7,
    "july": 7,
    "أغسطس": 8,
    "اوت": 8,
    "august": 8,
    "سبتمبر": 9,
    "أيلول": 9,
    "سپتامبر": 9,
    "september": 9,
    "أكتوبر": 10,
    "اكتوبر": 10,
    "تشرين الأول": 10,
    "اکتبر": 10,
    "october": 10,
    "نوفمبر": 11,
    "تشرين الثاني": 11,
    "نوامبر": 11,
    "november": 11,
    "ديسمبر": 12,
    "كانون الأول": 12,
    "دسامبر": 12,
    "december": 12,
}
# longest names first so that "كانون الثاني" wins over shorter matches
_MONTH_NAMES = sorted(((norm(k), v) for k, v in MONTHS.items()), key=lambda kv: -len(kv[0]))
_WEEKDAY_NAMES = sorted(((norm(k), v) for k, v in WEEKDAYS.items()), key=lambda kv: -len(kv[0]))


def publication_date(text: str) -> dt.date | None:
    """The article's own publication date, if it states one."""
    m = re.search(r"نشر في\s*(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        return dt.date(*map(int, m.groups()))
    m = re.search(r"تاريخ النشر:\s*(\d{1,2})(?:st|nd|rd|th)?,?\s+([A-Za-z]+),?\s+(\d{4})", text)
    if m and norm(m.group(2)) in MONTHS:
        return dt.date(int(m.group(3)), MONTHS[norm(m.group(2))], int(m.group(1)))
    m = re.search(r"(?:تاريخ النشر|Published|تاریخ انتشار)\s*:?\s*(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        return dt.date(*map(int, m.groups()))
    return None


def _word_in(word: str, text: str) -> bool:
    return (
        re.search(
            r"(?:^|[\s،,:(«\"'/])(?:و|ب|ل|ال)?" + re.escape(word) + r"(?:$|[\s،,.:)»\"'/])", text
        )
        is not None
    )


def _month_in(text: str) -> int | None:
    for name, num in _MONTH_NAMES:
        if _word_in(name, text):
            return num
    return None


def _weekday_in(text: str) -> int | None:
    for name, num in _WEEKDAY_NAMES:
        if _word_in(name, text):
            return num
    return None


def expected_dates(expr: str, pub: dt.date | None) -> tuple[set[str] | None, str]:
    """ISO strings that `expr` can denote, or (None, reason) if not understood."""
    e = norm(expr)
    nums = [int(n) for n in re.findall(r"\d+", e)]
    years = [n for n in nums if 1000 <= n <= 2999]
    month = _month_in(e)
    wday = _weekday_in(e)
    if re.search(r"نشر في|تاريخ النشر|published", e):
        return ({pub.isoformat()} if pub else None), "publication date"
    m = re.search(r"الذكري ال\s*(\d+)", e)
    if m:
        if not pub:
            return None, "anniversary without publication date"
        n = int(m.group(1))
        try:
            return {
                pub.replace(year=pub.year - n).isoformat()
            }, f"{n}th anniversary on the publication day"
        except ValueError:
            return None, "anniversary on 29 February"
    if month and years:  # absolute month (+ optional day)
        y = years[-1]
        days = [n for n in nums if 1 <= n <= 31 and n not in years]
        if days:
            return {
                dt.date(y, month, d).isoformat()
                for d in days
                if d <= calendar.monthrange(y, month)[1]
            }, "absolute date"
        return {f"{y:04d}-{month:02d}"}, "absolute month"
    if years and not month and len(e) <= 20:
        return {f"{y:04d}" for y in years}, "absolute year"
    if not pub:
        return None, "relative expression but the article states no publication date"
    if (
        wday is not None
    ):  # "اليوم الأربعاء", "الثلاثاء": latest such weekday on or before publication
        back = (pub.weekday() - wday) % 7
        return {(pub - dt.timedelta(days=back)).isoformat()}, "weekday relative to publication"
    if "الشهر الماضي" in e or "ماه گذشته" in e or "last month" in e:
        y, mth = (pub.year, pub.month - 1) if pub.month > 1 else (pub.year - 1, 12)
        return {f"{y:04d}-{mth:02d}"}, "previous month"
    if re.search(r"(?:^|\s)(?:ا|ال)?مس(?:$|\s)|امس|دیروز|yesterday", e):
        return {(pub - dt.timedelta(days=1)).isoformat()}, "day before publication"
    if month:  # day + month without year, or month with "الماضي": most recent on/before publication
        y = pub.year if month <= pub.month else pub.year - 1
        days = [n for n in nums if 1 <= n <= 31]
        if days:
            return {
                dt.date(y, month, d).isoformat() for d in days
            }, "day/month of the latest year not after publication"
        return {f"{y:04d}-{month:02d}"}, "month of the latest year not after publication"
    if re.search(r"(?:^|\s)(?:و)?(?:ال)?يوم(?:$|\s)|امروز|today", e):
        return {pub.isoformat()}, "publication day"
    return None, "expression not understood"


# ---------------------------------------------------------------- checking
class Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self._docs: dict[tuple[str, str], tuple[str, str, str] | None] = {}
        self.ids: dict[str, str] = {}

    def doc(self, corpus: str, name: str):
        key = (corpus, name)
        if key not in self._docs:
            root = CORPORA.get(corpus)
            p = (root / name) if root else None
            if p is None or not p.is_file() or Path(name).name != name:
                self._docs[key] = None
            else:
                raw = p.read_text(encoding="utf-8-sig")
                n = norm(raw)
                self._docs[key] = (raw, n, n.replace(" ", ""))
        return self._docs[key]

    def corpus_files(self, corpus: str) -> list[str]:
        return sorted(p.name for p in CORPORA[corpus].iterdir() if p.is_file())

    def check_line(self, fname: str, lineno: int, line: str) -> None:
        where = f"{fname}:{lineno}"
        kinds, is_conv = FILES[fname]
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            self.problems.append(f"{where}: invalid JSON ({exc})")
            return
        if not isinstance(rec, dict):
            self.problems.append(f"{where}: not a JSON object")
            return
        bad = False
        for k, typ in BASE_KEYS.items():
            if k not in rec:
                self.problems.append(f"{where}: missing key {k!r}")
                bad = True
            elif not isinstance(rec[k], typ):
                self.problems.append(f"{where}: {k!r} should be {typ.__name__}")
                bad = True
        if "doc" not in rec:
            self.problems.append(f"{where}: missing key 'doc'")
            bad = True
        if bad:
            return
        rid = rec["id"]
        where = f"{where} [{rid}]"
        if rid in self.ids:
            self.problems.append(f"{where}: duplicate id (also {self.ids[rid]})")
        self.ids[rid] = where
        if rec["lang"] not in LANGS:
            self.problems.append(f"{where}: lang {rec['lang']!r} not in {sorted(LANGS)}")
        if not rec["q"].strip():
            self.problems.append(f"{where}: empty question")
        if rec["kind"] not in kinds:
            self.problems.append(
                f"{where}: kind {rec['kind']!r} not allowed here ({sorted(kinds)})"
            )
        if not all(isinstance(a, str) and a.strip() for a in rec["answers"]):
            self.problems.append(f"{where}: answers must be non-empty strings")
            return
        if not all(isinstance(d, str) for d in rec["docs"]):
            self.problems.append(f"{where}: docs must be strings")
            return

        corpus = FILE_CORPUS.get(fname, "seeds")
        if is_conv:
            corpus = rec.get("corpus")
            if corpus not in CORPORA:
                self.problems.append(f"{where}: corpus {corpus!r} not in {sorted(CORPORA)}")
                return
            hist = rec.get("history")
            if (
                not isinstance(hist, list)
                or not 1 <= len(hist) <= 3
                or not all(isinstance(h, str) and h.strip() for h in hist)
            ):
                self.problems.append(f"{where}: history must be a list of 1-3 questions")
            elif norm(rec["q"]) in {norm(h) for h in hist}:
                self.problems.append(f"{where}: follow-up repeats a history question")
            hdoc = rec.get("history_doc")
            if hdoc is not None:
                if self.doc(corpus, hdoc) is None:
                    self.problems.append(f"{where}: history_doc {hdoc!r} not in corpus {corpus}")
                elif rec["kind"] == "switch" and hdoc in rec["docs"]:
                    self.problems.append(
                        f"{where}: switch line answers from the history's own article"
                    )
                elif rec["kind"] != "switch" and hdoc not in rec["docs"]:
                    self.problems.append(
                        f"{where}: {rec['kind']} line answers from another article than its history"
                    )
        elif "history" in rec:
            self.problems.append(f"{where}: 'history' is only for conversation files")

        if fname == "seeds-questions.jsonl" and rec["answerable"] and rec["doc"]:
            doc_lang = "fa" if self._is_persian(rec["doc"]) else "ar"
            want = "same-lang" if rec["lang"] == doc_lang else "cross-lang"
            if rec["kind"] != want:
                self.problems.append(
                    f"{where}: kind should be {want!r} ({rec['lang']} question, {doc_lang} article)"
                )

        if not rec["answerable"]:
            if rec["doc"] is not None or rec["answers"]:
                self.problems.append(
                    f"{where}: unanswerable line should have doc null and no answers"
                )
            return
        doc = rec["doc"]
        docs = rec["docs"]
        if not isinstance(doc, str) or not doc:
            self.problems.append(f"{where}: answerable line needs a doc")
            return
        if doc not in docs:
            self.problems.append(f"{where}: doc {doc!r} missing from docs")
        if len(set(docs)) != len(docs):
            self.problems.append(f"{where}: duplicate entries in docs")
        if not rec["answers"]:
            self.problems.append(f"{where}: answerable line without answers")
            return

        if rec["kind"] == "date":
            self.check_date(where, corpus, rec)
            return
        for d in docs:
            got = self.doc(corpus, d)
            if got is None:
                self.problems.append(f"{where}: doc {d!r} not found in {corpus}")
                continue
            _, n, ns = got
            if not any(occurs(a, n, ns) for a in rec["answers"]):
                self.problems.append(f"{where}: no answer key occurs in {d}")
        listed = [self.doc(corpus, d) for d in docs if self.doc(corpus, d) is not None]
        for a in rec["answers"]:
            if listed and not any(occurs(a, n, ns) for _, n, ns in listed):
                self.problems.append(f"{where}: answer {a!r} occurs in none of the listed docs")
        # informational: keys also present in files not listed in docs
        for other in self.corpus_files(corpus):
            if other in docs:
                continue
            _, n, ns = self.doc(corpus, other)
            hits = [a for a in rec["answers"] if occurs(a, n, ns)]
            if hits:
                self.warnings.append(
                    f"{where}: key(s) {hits} also occur in unlisted {corpus}/{other}"
                )

    def _is_persian(self, name: str) -> bool:
        got = self.doc("seeds", name)
        if not got:
            return False
        raw = got[0]
        return sum(raw.count(c) for c in "پچژگکی") > sum(raw.count(c) for c in "ةك")

    def check_date(self, where: str, corpus: str, rec: dict) -> None:
        rf = rec.get("resolved_from")
        if not isinstance(rf, str) or not rf.strip():
            self.problems.append(f"{where}: date line without resolved_from")
            return
        iso = [a for a in rec["answers"] if ISO_RE.match(a)]
        if not iso:
            self.problems.append(f"{where}: no ISO date (YYYY-MM-DD / YYYY-MM) among answers")
            return
        if not ISO_RE.match(rec["answers"][0]):
            self.problems.append(f"{where}: the ISO date should be the first answer")
        for a in iso:
            try:
                parts = list(map(int, a.split("-")))
                dt.date(parts[0], parts[1], parts[2] if len(parts) == 3 else 1)
            except ValueError:
                self.problems.append(f"{where}: {a!r} is not a valid date")
                return
        others = [a for a in rec["answers"] if not ISO_RE.match(a)]
        for d in rec["docs"]:
            got = self.doc(corpus, d)
            if got is None:
                self.problems.append(f"{where}: doc {d!r} not found in {corpus}")
                continue
            raw, n, ns = got
            if not occurs(rf, n, ns):
                self.problems.append(f"{where}: resolved_from {rf!r} does not occur in {d}")
            for a in others:
                if not occurs(a, n, ns):
                    self.problems.append(f"{where}: answer {a!r} does not occur in {d}")
                elif not (
                    re.search(r"\d{4}", a) and (_month_in(norm(a)) or re.search(r"\d{4}-\d{2}", a))
                ):
                    self.problems.append(
                        f"{where}: wording alternative {a!r} lacks a full date (month and year)"
                    )
            pub = publication_date(raw)
            expected, how = expected_dates(rf, pub)
            if expected is None:
                if how.startswith("relative expression"):
                    self.problems.append(f"{where}: {how} ({d})")
                else:
                    self.warnings.append(f"{where}: cannot verify {rf!r}: {how}")
                continue
            for a in iso:
                if a not in expected:
                    self.problems.append(
                        f"{where}: {a} inconsistent with {rf!r} ({how}, "
                        f"publication {pub}): expected {sorted(expected)}"
                    )

    def run(self) -> int:
        present = sorted(p.name for p in HERE.glob("*.jsonl"))
        for fname in FILES:
            if fname not in present:
                self.problems.append(f"{fname}: missing")
        for fname in present:
            if fname not in FILES:
                self.warnings.append(f"{fname}: unknown file, not checked")
                continue
            lines = (HERE / fname).read_text(encoding="utf-8").splitlines()
            for i, line in enumerate(lines, 1):
                if line.strip():
                    self.check_line(fname, i, line)
        return len(self.problems)


def main(argv: list[str]) -> int:
    ck = Checker()
    n = ck.run()
    verbose = "-v" in argv
    for w in ck.warnings if verbose else []:
        print("warning:", w)
    for p in ck.problems:
        print("PROBLEM:", p)
    print(
        f"{len(ck.ids)} lines checked, {n} problems, {len(ck.warnings)} warnings"
        + ("" if verbose else " (-v to list warnings)")
    )
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
