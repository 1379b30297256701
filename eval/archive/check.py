#!/usr/bin/env python3
"""Sanity checks for the archive dev set: questions.jsonl against corpus/.

    python3 eval/archive/check.py          # exit 1 if any problem is found
    python3 eval/archive/check.py --dir eval/heldout --min-questions 90 --min-unanswerable 20

Checks
  * every line has exactly the expected keys and valid values;
  * answerable: `doc` is in `docs`, and every file in `docs` contains at least one
    answer key after normalisation (Arabic/Persian letter variants ي/ی/ى/ئ, ك/ک,
    hamza forms أ/إ/آ/ٱ/ؤ, diacritics and tatweel, Arabic-Indic/Persian digits);
  * unanswerable: doc null, docs [] and answers []; for near-miss questions the
    phrases listed in nearmiss_checks.json occur nowhere in their scope;
  * `kind` agrees with the question language vs. the article language;
  * at most 3 questions per article, >= 150 questions, >= 40 unanswerable (both
    adjustable for smaller sets), >= 40 % cross-language questions.
--dir checks another set laid out the same way (selection.json, questions.jsonl,
nearmiss_checks.json, corpus/), e.g. the held-out set eval/heldout.
It also prints (as information, not problems) files outside `docs` that contain
a long answer key, so that `docs` can be reviewed for completeness.
The corpus must have been built first (build.py).
"""
import argparse
import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = {"id", "lang", "q", "doc", "docs", "answers", "answerable", "kind"}
DIAC = re.compile("[\u064B-\u065F\u0670\u0640\u06D6-\u06ED]")
TRANS = str.maketrans({"ی": "ي", "ى": "ي", "ئ": "ي", "ک": "ك", "أ": "ا", "إ": "ا", "آ": "ا",
                       "ٱ": "ا", "ؤ": "و",
                       **{chr(0x660 + i): str(i) for i in range(10)},
                       **{chr(0x6F0 + i): str(i) for i in range(10)}})


def norm(s):
    return DIAC.sub("", s).translate(TRANS).lower()


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=HERE, help="eval set directory (default: the archive)")
    ap.add_argument("--min-questions", type=int, default=150)
    ap.add_argument("--min-unanswerable", type=int, default=40)
    args = ap.parse_args()
    set_dir = args.dir
    corpus_dir = os.path.join(set_dir, "corpus")
    selection = json.loads(read(os.path.join(set_dir, "selection.json")))
    art_lang = {it["file"]: it["lang"] for it in selection}
    missing = [f for f in art_lang if not os.path.exists(os.path.join(corpus_dir, f))]
    if missing:
        sys.exit(f"{len(missing)} corpus files missing (run build.py first), e.g. {missing[0]}")
    text = {f: norm(read(os.path.join(corpus_dir, f))) for f in art_lang}
    nm_path = os.path.join(set_dir, "nearmiss_checks.json")
    nearmiss = json.loads(read(nm_path)) if os.path.exists(nm_path) else {}

    problems, info = [], []
    lines = read(os.path.join(set_dir, "questions.jsonl")).splitlines()
    qs = [json.loads(line) for line in lines if line.strip()]
    ids = collections.Counter(q.get("id") for q in qs)
    per_doc = collections.Counter()
    for q in qs:
        qid = q.get("id")
        if set(q) != KEYS:
            problems.append(f"{qid}: keys {sorted(set(q) ^ KEYS)}")
            continue
        if ids[qid] > 1:
            problems.append(f"{qid}: duplicate id")
        if q["lang"] not in ("ar", "fa", "en"):
            problems.append(f"{qid}: bad lang {q['lang']}")
        if q["answerable"]:
            doc, docs, answers = q["doc"], q["docs"], q["answers"]
            if q["kind"] not in ("same-lang", "cross-lang"):
                problems.append(f"{qid}: kind {q['kind']} for an answerable question")
            if not answers or not all(isinstance(a, str) and a.strip() for a in answers):
                problems.append(f"{qid}: empty answers")
                continue
            if doc not in art_lang:
                problems.append(f"{qid}: doc {doc} not in corpus")
                continue
            if doc not in docs:
                problems.append(f"{qid}: doc not listed in docs")
            for f in docs:
                if f not in text:
                    problems.append(f"{qid}: docs entry {f} not in corpus")
                elif not any(norm(a) in text[f] for a in answers):
                    problems.append(f"{qid}: no answer key found in {f}")
            expected = "same-lang" if q["lang"] == art_lang[doc] else "cross-lang"
            if q["kind"] != expected:
                problems.append(f"{qid}: kind {q['kind']} but question {q['lang']} "
                                f"/ article {art_lang[doc]}")
            per_doc[doc] += 1
            for a in answers:
                na = norm(a)
                if len(na) >= 5 and not na.replace(" ", "").isdigit():
                    extra = [f for f in text if f not in docs and na in text[f]]
                    if extra:
                        info.append(f"{qid}: key {a!r} also in {', '.join(extra)}")
        else:
            if q["doc"] is not None or q["docs"] or q["answers"]:
                problems.append(f"{qid}: unanswerable but doc/docs/answers set")
            if q["kind"] not in ("near-miss", "off-topic"):
                problems.append(f"{qid}: kind {q['kind']} for an unanswerable question")
            check = nearmiss.get(qid)
            if q["kind"] == "near-miss" and not check:
                problems.append(f"{qid}: near-miss without an absence check "
                                "in nearmiss_checks.json")
            if check:
                scope = check.get("scope") or list(text)
                for term in check["absent"]:
                    hits = [f for f in scope if norm(term) in text[f]]
                    if hits:
                        problems.append(f"{qid}: near-miss term {term!r} "
                                        f"found in {', '.join(hits)}")
    for doc, n in per_doc.items():
        if n > 3:
            problems.append(f"{doc}: {n} questions (max 3)")

    n = len(qs)
    unans = sum(1 for q in qs if not q.get("answerable"))
    cross = sum(1 for q in qs if q.get("kind") == "cross-lang")
    if n < args.min_questions:
        problems.append(f"only {n} questions")
    if unans < args.min_unanswerable:
        problems.append(f"only {unans} unanswerable questions")
    if cross < 0.4 * n:
        problems.append(f"only {cross}/{n} cross-language questions")

    by = collections.Counter((q.get("lang"), q.get("kind")) for q in qs)
    print(f"{n} questions, {n - unans} answerable, {unans} unanswerable, {cross} cross-lang "
          f"({100 * cross / max(n, 1):.0f}%), {len(per_doc)} distinct answer articles")
    print("by lang/kind:", dict(sorted(by.items())))
    for line in info:
        print("info:", line)
    for p in problems:
        print("PROBLEM:", p)
    print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
