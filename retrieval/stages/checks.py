"""Claim checks on a generated answer, before any of it is shown.

A model that is handed numbered passages still invents: a citation to a passage it was not
given, a sentence with no source, a number or a name the cited passage does not contain, a
"quotation" that paraphrases. Each sentence of the answer is checked on its own, against the
passages it cites (their title, outlet and date included, since the model saw those too), and
removed with a reason when it fails:

- it cites nothing, cites a passage number that was not given, or states nothing: citations
  alone, or with words that only point at them ("Passage [1].", "See the source [2].");
- a number in it (any digits: ASCII, Arabic-Indic, Persian) is not in its cited passages;
- a name in it (a capitalised Latin-script word) is not in its cited passages, in the same
  script or transliterated into Arabic script (``same_name``);
- a quotation in it is not a verbatim span of a cited passage (after ``normalize``).

Names written in Arabic script inside an Arabic or Persian answer cannot be told from other
words without a name list, so only their numbers and quotes are checked. The checks are
deliberately strict: a removed true sentence costs a little recall, a kept false one costs the
reader's trust.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from khabar.retrieval.normalize import STOPWORDS, contains, light_stem, normalize
from khabar.retrieval.types import Removed

# "[1]", "[1, 3]", "[١]", "[1][2]": citation groups, with digits of any of the three systems.
_CITE = re.compile(r"\[\s*([0-9٠-٩۰-۹]+(?:\s*[,،;]\s*[0-9٠-٩۰-۹]+)*)\s*\]")
# A sentence ends at terminal punctuation (with any citations written after it) before a space
# or the end, or at a line break. A period after a single capital ("U.S.", "J. Smith") does not.
_END = re.compile(r"(?<![\s.][A-Z])[.!?؟…]+(?:\s*\[[^\]\n]*\])*(?=\s|$)|\n+")
_MARKUP = re.compile(r"^\s*(?:[-*•#>]+|\d+[.)])\s+|\*\*|__", re.MULTILINE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Quotation marks a model uses for a quotation; single quotes are left out (apostrophes).
_QUOTE = re.compile(r"“([^”]+)”|«([^»]+)»|\"([^\"]+)\"|„([^“”]+)[“”]")
_LATIN_NAME = re.compile(r"\b[A-Z][a-zA-Z'’-]+(?:\s+(?:[A-Z][a-zA-Z'’-]+|al-|bin|ibn|de|van|von))*")
# Capitalised words that are not names: they open sentences (a model's usual openers), or name
# months and days, whose numbers are checked anyway.
_NOT_NAMES = STOPWORDS | frozenset(
    "according after also although an but during however in meanwhile no not on since "
    "some still there these this those while yes officials authorities reports sources "
    "experts analysts residents witnesses police troops forces passage passages january "
    "february march april may june july august september october november december monday "
    "tuesday wednesday thursday friday saturday sunday".split())
# Words that only point at the passages: a sentence of these, stopwords and citations states
# nothing. The real 1.5B model measured in docs/llm.md answered an English seed question with
# just "Passage [1]", and it passed as a cited sentence.
_POINTERS = frozenset(normalize(w) for w in (
    "passage passages paragraph source sources see refer reference references article "
    "articles text document documents answer according above below mentioned following "
    "given provided information details context snippet "
    "المقطع المقاطع الفقرة النص المصدر المصادر انظر راجع المقال الخبر الوثيقة المعلومات "
    "المذكور المذكورة وفقا حسب "
    "بخش متن منبع منابع ببینید مراجعه کنید نگاه مقاله قطعه بند سند اطلاعات مطابق طبق").split())
# Stopwords that answer, all the same: "No [1]." states something.
_ANSWERING = frozenset(normalize(w) for w in
                       "yes no not never none نعم لا كلا ليس لم لن بله نه خیر آری هرگز".split())
# Written-out numbers in the passages count as those numbers (a model writes "30" for
# "ثلاثين"); a few, in the three languages, in normalised form.
_NUMBER_WORDS = {
    **dict.fromkeys(["two", "اثنان", "اثنين", "دو"], "2"),
    **dict.fromkeys(["three", "ثلاثه", "ثلاث", "سه"], "3"),
    **dict.fromkeys(["four", "اربعه", "اربع", "چهار"], "4"),
    **dict.fromkeys(["five", "خمسه", "خمس", "پنج"], "5"),
    **dict.fromkeys(["six", "سته", "ست", "شش"], "6"),
    **dict.fromkeys(["seven", "سبعه", "سبع", "هفت"], "7"),
    **dict.fromkeys(["eight", "ثمانيه", "ثماني", "هشت"], "8"),
    **dict.fromkeys(["nine", "تسعه", "تسع", "نه"], "9"),
    **dict.fromkeys(["ten", "عشره", "عشر", "ده"], "10"),
    **dict.fromkeys(["twenty", "عشرين", "عشرون", "بيست"], "20"),
    **dict.fromkeys(["thirty", "ثلاثين", "ثلاثون", "سي"], "30"),
    **dict.fromkeys(["forty", "اربعين", "اربعون", "چهل"], "40"),
    **dict.fromkeys(["fifty", "خمسين", "خمسون", "پنجاه"], "50"),
    **dict.fromkeys(["hundred", "مئه", "مائه", "صد"], "100"),
    **dict.fromkeys(["thousand", "الف", "هزار"], "1000"),
}
# A generated answer with fewer of its sentences left than this share is not shown.
MIN_KEPT_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Checked:
    """What survives the checks: the kept sentences (citations in place), what was removed
    and why, and ``fallback``, the reason the answer must not be shown, if it must not."""

    kept: tuple[str, ...]
    removed: tuple[Removed, ...]
    fallback: str | None

    @property
    def text(self) -> str:
        return " ".join(self.kept)


def split_sentences(text: str) -> list[str]:
    """The answer's sentences, each with the citations written at its end."""
    text = _MARKUP.sub(" ", text)
    out, start = [], 0
    for m in _END.finditer(text):
        out.append(text[start:m.end()])
        start = m.end()
    out.append(text[start:])
    return [" ".join(s.split()) for s in out if s.strip()]


def citations(sentence: str) -> list[int]:
    """The passage numbers a sentence cites, in order."""
    found = []
    for group in _CITE.findall(sentence):
        for n in re.split(r"[,،;]", normalize(group)):
            found.append(int(n))
    return list(dict.fromkeys(found))


def _numbers(text: str) -> set[str]:
    """Every number in ``text``, canonical: digits folded to ASCII, thousands separators and
    leading zeros dropped, each part of "2024-06-19" or "3.5" counted on its own as well."""
    norm = normalize(text).replace("٫", ".").replace("٬", ",")
    out: set[str] = set()
    for m in _NUMBER.finditer(norm):
        value = m.group()
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+", value):
            value = value.replace(",", "")
        out.add(value.lstrip("0") or "0")
        out.update(part.lstrip("0") or "0" for part in re.split(r"[.,]", value))
    return out


def _claimed_numbers(sentence: str) -> list[str]:
    """Numbers a sentence states (its citation marks are not claims)."""
    norm = normalize(_CITE.sub(" ", sentence)).replace("٫", ".").replace("٬", ",")
    out = []
    for m in _NUMBER.finditer(norm):
        value = m.group()
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+", value):
            value = value.replace(",", "")
        out.append(value.lstrip("0") or "0")
    return list(dict.fromkeys(out))


def _source_numbers(text: str) -> set[str]:
    numbers = _numbers(text)
    numbers.update(_NUMBER_WORDS[t] for t in _words(text) if t in _NUMBER_WORDS)
    return numbers


def names(sentence: str) -> list[str]:
    """Latin-script names in a sentence: runs of capitalised words, less sentence openers,
    months and days."""
    out = []
    for m in _LATIN_NAME.finditer(_CITE.sub(" ", sentence)):
        words = [w for w in m.group().split() if w.lower() not in _NOT_NAMES]
        if words:
            out.append(" ".join(words))
    return list(dict.fromkeys(out))


# Latin letters and digraphs, and Arabic-script letters, to one consonant class each; vowels
# and the letters that write them (ا و ي ع ء ...) are dropped. Transliteration between the
# scripts keeps consonants far better than vowels: Putin/بوتين, Peskov/بيسكوف, Kim Jong
# Un/كيم جونغ أون all share a skeleton.
_LATIN_DIGRAPHS = (("sch", "S"), ("sh", "S"), ("ch", "S"), ("kh", "X"), ("gh", "G"), ("th", "T"),
                   ("ph", "F"), ("zh", "Z"), ("ck", "K"), ("ts", "S"), ("tz", "S"))
_LATIN_LETTERS = {
    "b": "B", "p": "B", "t": "T", "d": "D", "k": "K", "c": "K", "q": "K", "g": "G", "j": "G",
    "f": "F", "v": "F", "s": "S", "z": "Z", "x": "KS", "h": "H", "l": "L", "m": "M", "n": "N",
    "r": "R",
}
_ARABIC_LETTERS = {
    "ب": "B", "پ": "B", "ت": "T", "ط": "T", "ث": "S", "د": "D", "ض": "D", "ذ": "Z", "ظ": "Z",
    "ك": "K", "ک": "K", "ق": "K", "گ": "G", "غ": "G", "ج": "G", "ف": "F", "س": "S", "ص": "S",
    "ش": "S", "چ": "S", "ز": "Z", "ژ": "Z", "خ": "X", "ح": "H", "ه": "H", "ل": "L", "م": "M",
    "ن": "N", "ر": "R",
}


_DEMONYM_SUFFIXES = ("ians", "ian", "ans", "an", "ese", "is", "i")


def _skeleton(word: str) -> str:
    """A word's consonant classes, doubled letters collapsed."""
    word = word.lower()
    out = []
    if word.isascii():
        i = 0
        while i < len(word):
            for digraph, cls in _LATIN_DIGRAPHS:
                if word.startswith(digraph, i):
                    out.append(cls)
                    i += len(digraph)
                    break
            else:
                out.append(_LATIN_LETTERS.get(word[i], ""))
                i += 1
    else:
        out = [_ARABIC_LETTERS.get(ch, "") for ch in word]
    skeleton = "".join(out)
    return re.sub(r"(.)\1+", r"\1", skeleton)


def _near(a: str, b: str) -> bool:
    """Equal skeletons, or one letter apart when both are long enough for that to be safe
    (Washington/واشنطن loses its g)."""
    if a == b:
        return True
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", normalize(text))


def same_name(name: str, text: str) -> bool:
    """Whether the one-word ``name`` occurs in ``text``: as a word in the same script, or
    transliterated into Arabic script (one word or two written apart: "بيونغ يانغ").

    This is the swappable part of the name check: a general transliteration table can replace
    it without touching the rest.
    """
    key = normalize(name)
    words = _words(text)
    if key in words or any(light_stem(w) == key for w in words):
        return True
    if not name.isascii():
        return False
    # "Russian", "Korean", "Iranian": a people's name is checked by its country's
    targets = {_skeleton(name)} | {_skeleton(key[:-len(suffix)])
                                   for suffix in _DEMONYM_SUFFIXES if key.endswith(suffix)}
    targets = {t for t in targets if len(t) >= 2}
    for i, word in enumerate(words):
        if word.isascii():
            continue
        stem = light_stem(word)
        candidates = [stem, stem[1:] if stem[:1] in "وبلف" else stem]
        if i + 1 < len(words) and not words[i + 1].isascii():
            candidates.append(stem + words[i + 1])
        if any(_near(_skeleton(c), t) for c in candidates if c for t in targets):
            return True
    return False


def _name_supported(name: str, text: str) -> bool:
    """A name of several words is supported when at least half of its words of three letters
    or more occur ("Vladimir Putin" in a passage that says only "بوتين")."""
    words = [w for w in re.split(r"[\s'’-]+", name) if len(w) >= 3]
    if not words:
        return True
    found = sum(same_name(w, text) for w in words)
    return found >= 1 and found * 2 >= len(words)


def quotes(sentence: str) -> list[str]:
    """The quoted spans of a sentence."""
    out = []
    for m in _QUOTE.finditer(sentence):
        span = next(g for g in m.groups() if g is not None).strip(" .,،؛:!?؟")
        if len(span) >= 3:
            out.append(span)
    return out


def check_sentence(sentence: str, sources: Sequence[str]) -> str | None:
    """Why ``sentence`` must be removed, or None. ``sources[i]`` is passage ``[i + 1]`` as the
    model saw it (header and text)."""
    cited = citations(sentence)
    if not cited:
        return "no citation"
    said = _CITE.sub(" ", sentence)
    stated = [w for w in _words(said) if w not in STOPWORDS or w in _ANSWERING]
    if not (any(w not in _POINTERS for w in stated) or _NUMBER.search(said)):
        return "cites without stating anything"  # "[1][3]", "Passage [1].", "انظر المقطع [2]"
    missing = [n for n in cited if not 1 <= n <= len(sources)]
    if missing:
        return f"cites [{missing[0]}], which was not given"
    evidence = "\n".join(sources[n - 1] for n in cited)
    marks = "".join(f"[{n}]" for n in cited)
    available = _source_numbers(evidence)
    for number in _claimed_numbers(sentence):
        if number not in available:
            return f"number {number} is not in {marks}"
    for name in names(sentence):
        if not _name_supported(name, evidence):
            return f"name {name} is not in {marks}"
    for quoted in quotes(sentence):
        if not any(contains(sources[n - 1], quoted) for n in cited):
            return f"quote is not verbatim in {marks}"
    return None


def check(answer: str, sources: Sequence[str]) -> Checked:
    """Check every sentence of ``answer`` against ``sources``; decide whether enough is left."""
    kept, removed = [], []
    sentences = split_sentences(answer)
    for sentence in sentences:
        reason = check_sentence(sentence, sources)
        if reason is None:
            kept.append(sentence)
        else:
            removed.append(Removed(sentence, reason))
    fallback = None
    if not kept:
        fallback = "no sentence of the generated answer passed the checks"
    elif len(kept) < MIN_KEPT_SHARE * len(sentences):
        fallback = f"only {len(kept)} of {len(sentences)} generated sentences passed the checks"
    return Checked(tuple(kept), tuple(removed), fallback)
