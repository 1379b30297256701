#!/usr/bin/env python3
"""Rebuild eval/archive/corpus/ from pinned public snapshots.

The article texts are not ours: 121 Arabic articles come from SaudiNewsNet
(CC BY-NC-SA 4.0, not redistributable here) and 55 Persian articles from the
language-ml/course-nlp-ir-1-text-exploring repository (Apache-2.0).  This script
re-creates every corpus file, byte for byte, from copies of those repositories
that you download yourself.  See SOURCES.md.

    .venv/bin/python eval/archive/build.py \
        --saudinewsnet /path/to/SaudiNewsNet \
        --language-ml  /path/to/course-nlp-ir-1-text-exploring

Each path may be a normal checkout (working tree) or a bare/mirror git
directory; for a git directory the pinned commit below is read, so later
upstream changes do not alter the corpus.  Run it with the project's venv
(`.venv/bin/python`): Solar Hijri dates are converted by khabar's own
`retrieval/dates.py`; git directories need the `git` command.

selection.json (our own work) lists, for every corpus file, the source record
(SaudiNewsNet day file + array index + URL, Fars news id, or varzesh3 code)
and the layout style used to write it.
"""
import argparse
import io
import json
import os
import re
import subprocess
import sys
import zipfile

from khabar.retrieval.dates import jalali_to_gregorian

HERE = os.path.dirname(os.path.abspath(__file__))

PINS = {
    "saudinewsnet": {
        "repo": "https://github.com/inparallel/SaudiNewsNet",
        "commit": "4e39239966c2ae8a3faa591201acb9cd1f51199d",
    },
    "language-ml": {
        "repo": "https://github.com/language-ml/course-nlp-ir-1-text-exploring",
        "commit": "48c7d56a33a6f75709e90b001529bf7705420674",
    },
}

OUTLETS = {  # SaudiNewsNet source id -> (English name, Arabic name)
    "3alyoum": ("Ain Alyoum", "عين اليوم"),
    "aawsat": ("Asharq Al-Awsat", "الشرق الأوسط"),
    "aleqtisadiya": ("Al-Eqtisadiya", "الاقتصادية"),
    "aljazirah": ("Al-Jazirah", "صحيفة الجزيرة"),
    "almadina": ("Al-Madina", "صحيفة المدينة"),
    "alriyadh": ("Al-Riyadh", "جريدة الرياض"),
    "alwatan": ("Al-Watan", "صحيفة الوطن"),
    "alweeam": ("Al-Weeam", "صحيفة الوئام"),
    "alyaum": ("Al-Yaum", "صحيفة اليوم"),
    "okaz": ("Okaz", "صحيفة عكاظ"),
    "sabq": ("Sabq", "صحيفة سبق"),
    "was": ("Saudi Press Agency", "وكالة الأنباء السعودية (واس)"),
    "arriyadiyah": ("Arriyadiyah", "الرياضية"),
}
FA_OUTLETS = {"farsnews": ("Fars News Agency", "خبرگزاری فارس"),
              "varzesh3": ("Varzesh3", "ورزش سه")}

FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


class Source:
    """Read files from a working tree or, failing that, from a git dir at a pinned commit."""

    def __init__(self, path, commit):
        self.path, self.commit = path, commit
        self.is_git = not os.path.isdir(os.path.join(path, "dataset")) and not os.path.isdir(
            os.path.join(path, "exploring-datasets"))
        if self.is_git:
            subprocess.run(["git", "--git-dir", path, "cat-file", "-e", commit + "^{commit}"],
                           check=True)

    def read(self, rel):
        if not self.is_git:
            with open(os.path.join(self.path, rel), "rb") as f:
                return f.read()
        return subprocess.run(["git", "--git-dir", self.path, "show", f"{self.commit}:{rel}"],
                              check=True, capture_output=True).stdout


def fars_jdate(link):
    nid = re.search(r"/news/(\d+)", link).group(1)
    s = ("13" + nid[:6]) if len(nid) == 10 else nid[:8]
    return int(s[:4]), int(s[4:6]), int(s[6:8])


def tidy(text):
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip("\n ")
    return re.sub(r"\n{4,}", "\n\n\n", text)


def render(item, title, body, outlet_en, outlet_native, date_iso, date_native, url):
    style, lang = item["style"], item["lang"]
    title = title.strip()
    body = tidy(body)
    if style == "header-en":
        head = [f"Title: {title}", f"Source: {outlet_en}"]
        if date_iso:
            head.append(f"Date: {date_iso}")
        head.append(f"URL: {url}")
        return "\n".join(head) + "\n\n" + body + "\n"
    if style == "header-native":
        if lang == "ar":
            head = [f"العنوان: {title}", f"المصدر: {outlet_native}"]
            if date_iso:
                head.append(f"التاريخ: {date_iso}")
            head.append(f"الرابط: {url}")
        else:
            head = [f"عنوان: {title}", f"منبع: {outlet_native}"]
            if date_native:
                head.append(f"تاریخ: {date_native}")
            head.append(f"نشانی: {url}")
        return "\n".join(head) + "\n\n" + body + "\n"
    if style == "footer":
        head = [f"Title: {title}"]
        if date_iso:
            head.append(f"Date: {date_iso}")
        return "\n".join(head) + "\n\n" + body + "\n\nSource: " + outlet_en + "\n"
    if style == "plain-dateline" and (date_iso or date_native):
        line = f"نشر في {date_iso}" if lang == "ar" else f"تاریخ انتشار: {date_native}"
        return title + "\n" + line + "\n\n" + body + "\n"
    return title + "\n\n" + body + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--saudinewsnet", required=True, help="SaudiNewsNet checkout or git dir")
    ap.add_argument("--language-ml", required=True,
                    help="course-nlp-ir-1-text-exploring checkout or git dir")
    ap.add_argument("--selection", default=os.path.join(HERE, "selection.json"),
                    help="selection file (default: the archive's selection.json); another eval "
                         "set, e.g. eval/heldout/selection.json, is built with --out beside it")
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    args = ap.parse_args()

    with open(args.selection, encoding="utf-8") as f:
        selection = json.load(f)
    snn = Source(args.saudinewsnet, PINS["saudinewsnet"]["commit"])
    lml = Source(args.language_ml, PINS["language-ml"]["commit"])

    days = {}

    def snn_day(day):
        if day not in days:
            z = zipfile.ZipFile(io.BytesIO(snn.read(f"dataset/{day}.zip")))
            name = next(n for n in z.namelist() if n.endswith(".json"))
            days[day] = json.loads(z.read(name).decode("utf-8"))
        return days[day]

    fars, v3 = {}, {}
    for i in range(1, 6):
        news = lml.read(f"exploring-datasets/news/fars-news-{i}.json").decode("utf-8")
        for a in json.loads(news):
            fars.setdefault(re.search(r"/news/(\d+)", a["link"]).group(1), a)
        sports = lml.read(f"exploring-datasets/sports/varzesh3-{i}.json").decode("utf-8")
        for a in json.loads(sports):
            v3.setdefault(a["code"], a)

    os.makedirs(args.out, exist_ok=True)
    written = []
    for item in selection:
        if item["src"] == "saudinewsnet":
            arts = snn_day(item["day"])
            a = arts[item["idx"]] if item["idx"] < len(arts) else None
            if not a or a["url"] != item["url"]:
                a = next(x for x in arts if x["url"] == item["url"])
            en, native = OUTLETS[a["source"]]
            text = render(item, a["title"], a["content"], en, native,
                          a["date_extracted"][:10], None, a["url"])
        elif item["src"] == "farsnews":
            a = fars[item["id"]]
            jy, jm, jd = fars_jdate(a["link"])
            gy, gm, gd = jalali_to_gregorian(jy, jm, jd)
            body = "\n".join([a.get("abstract") or ""] + a["paragraphs"])
            en, native = FA_OUTLETS["farsnews"]
            text = render(item, a["title"], body, en, native, f"{gy:04d}-{gm:02d}-{gd:02d}",
                          f"{jy:04d}/{jm:02d}/{jd:02d}".translate(FA_DIGITS), a["link"])
        elif item["src"] == "varzesh3":
            a = v3[item["id"]]
            body = "\n".join([a.get("abstract") or ""] + a["paragraphs"])
            en, native = FA_OUTLETS["varzesh3"]
            text = render(item, a["title"], body, en, native, None, None, a["link"])
        else:
            sys.exit(f"unknown source {item['src']}")
        with open(os.path.join(args.out, item["file"]), "w", encoding="utf-8") as f:
            f.write(text)
        written.append(item["file"])

    # The corpus is generated: keep it out of git (SaudiNewsNet is CC BY-NC-SA; see SOURCES.md).
    nc = [i["file"] for i in selection if i["src"] == "saudinewsnet"]
    # Paths as seen from the corpus directory: "../build.py", "../SOURCES.md" for the archive.
    builder = os.path.relpath(os.path.abspath(__file__), os.path.abspath(args.out))
    sources = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(args.selection)),
                                           "SOURCES.md"), os.path.abspath(args.out))
    with open(os.path.join(args.out, ".gitignore"), "w", encoding="utf-8") as f:
        f.write(f"# Generated by {builder} from pinned public snapshots (see {sources}).\n"
                "# SaudiNewsNet-derived files are CC BY-NC-SA 4.0 and must not be redistributed.\n"
                "*\n!.gitignore\n")
    print(f"wrote {len(written)} files to {args.out} "
          f"({len(nc)} from SaudiNewsNet, {len(written) - len(nc)} from language-ml)")


if __name__ == "__main__":
    main()
