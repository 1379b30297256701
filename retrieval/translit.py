"""Names across scripts: Putin / بوتين / پوتین, Vidal / فيدال / ویدال, Tianjin / تيانجين.

A name written in Latin, Arabic or Persian letters is reduced to its consonant skeleton in one
shared alphabet (vowels, which Arabic script mostly does not write, are dropped; letters that
stand for the same sound across the scripts share a class: p/b/پ/ب, v/f/ف, g/گ/غ, ...). Two
spellings of one name have the same skeleton. Letters whose reading is ambiguous (و is "w",
"v" or a vowel; c is "k" or "s") give several skeletons, and two words match when any of
theirs agree.

Skeletons of one consonant are never compared, and words of fewer than ``MIN_LETTERS`` letters
are not either ("Kim", "Un"): they would match too many unrelated words. This feeds the
lexical side of search and the answer's evidence checks; it is not a translator.
"""

from __future__ import annotations

import itertools
import math
import re
from functools import lru_cache

from khabar.retrieval.normalize import STOPWORDS, tokens

MIN_CLASSES = 2
# Latin letter groups, longest first, to their classes ("" = a vowel, dropped).
_LATIN = (
    ("sch", ("S",)), ("tch", ("C",)), ("kh", ("K",)), ("gh", ("G",)), ("sh", ("S",)),
    ("ch", ("C", "S", "K")), ("zh", ("Z",)), ("th", ("T", "S")), ("ph", ("F",)),
    ("dj", ("J",)), ("ck", ("K",)), ("ou", ("",)), ("ee", ("",)), ("oo", ("",)),
    ("a", ("",)), ("e", ("",)), ("i", ("",)), ("o", ("",)), ("u", ("",)),
    ("y", ("", "Y")), ("w", ("W", "")), ("b", ("B",)), ("p", ("B",)), ("t", ("T",)),
    ("d", ("D",)), ("s", ("S",)), ("z", ("Z",)), ("c", ("K", "S")), ("k", ("K",)),
    ("q", ("K",)), ("g", ("G", "J")), ("j", ("J", "Y")), ("f", ("F",)), ("v", ("F", "W")),
    ("m", ("M",)), ("n", ("N",)), ("l", ("L",)), ("r", ("R",)), ("h", ("H", "")),
    ("x", ("KS",)),
)
# Arabic-script letters, after ``normalize`` (ی->ي, ک->ك, hamza seats -> ا, ة->ه).
_ARABIC = {
    "ب": ("B",), "پ": ("B",), "ت": ("T",), "ث": ("S", "T"), "ج": ("J", "G"), "چ": ("C", "S"),
    "ح": ("H",), "خ": ("K",), "د": ("D",), "ذ": ("Z", "D"), "ر": ("R",), "ز": ("Z",),
    "ژ": ("Z", "J"), "س": ("S",), "ش": ("S",), "ص": ("S",), "ض": ("D",), "ط": ("T",),
    "ظ": ("Z",), "ع": ("",), "غ": ("G",), "ف": ("F",), "ق": ("K", "G"), "ك": ("K",),
    "گ": ("G",), "ل": ("L",), "م": ("M",), "ن": ("N",), "ه": ("H", ""), "و": ("W", ""),
    "ي": ("Y", ""), "ا": ("",), "ء": ("",),
}
# A word with more spelling variants than this is too ambiguous to be worth expanding.
_MAX_VARIANTS = 64


MIN_LETTERS = 4


# Persian writes "v" with و (ولادیمیر, استیو), where Arabic writes ف (فلاديمير, ستيف).
_PERSIAN_V = {"و": ("W", "", "F")}


@lru_cache(maxsize=65536)
def skeletons(word: str, persian: bool = False) -> frozenset[str]:
    """The consonant skeletons ``word`` may have (empty for a word too short to compare);
    ``persian`` also reads its و as "v" (only for a Persian question's words: in Arabic, و is
    most often "and", and reading it as ف would match unrelated words)."""
    parts = tokens(word)
    text = "".join(parts)  # Arabic's article is already off ("الرياض" is "رياض")
    if len(text) < MIN_LETTERS or not text.isalpha():
        return frozenset()
    options: list[tuple[str, ...]] = []
    i = 0
    latin = text.isascii()
    while i < len(text):
        if latin:
            for group, classes in _LATIN:
                if text.startswith(group, i):
                    options.append(classes)
                    i += len(group)
                    break
            else:
                i += 1
        else:
            letter = text[i]
            options.append(_PERSIAN_V[letter] if persian and letter in _PERSIAN_V
                           else _ARABIC.get(letter, ("",)))
            i += 1
    if not options:
        return frozenset()
    # A final h (Arabic ة/ه, Latin "-ah") is rarely pronounced.
    if "H" in options[-1]:
        options[-1] = ("",)
    if math.prod(map(len, options)) > _MAX_VARIANTS:
        options = [o[:1] for o in options]
    out = set()
    for choice in itertools.product(*options):
        collapsed = [c for c in "".join(choice)]
        skeleton = "".join(c for j, c in enumerate(collapsed) if j == 0 or c != collapsed[j - 1])
        if len(skeleton) >= MIN_CLASSES:
            out.add(skeleton)
    return frozenset(out)


# Persian letters Arabic spells with its own (پوتین / بوتين, چین / جين), each as Arabic writes it:
# گ as ك, غ (جونغ), ج (جونج) or ق; چ as ج, تش or ش; ژ as ز or ج. Folded to the first, a Persian
# and an Arabic spelling of one word are equal, which is far more precise than a skeleton; a
# question's word is also looked up under the others (``folds``: "جونگ" finds "جونغ").
_RESPELL = {"گ": ("ك", "غ", "ج", "ق"), "چ": ("ج", "تش", "ش"), "ژ": ("ز", "ج"), "پ": ("ب",)}
_FOLD = str.maketrans({letter: spellings[0] for letter, spellings in _RESPELL.items()})
FOLD_PREFIX = "="
# Capitalised words that name no one.
_NOT_NAMES = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split())
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")


def fold(term: str) -> str:
    """The key under which Arabic-script spellings of a word meet (``FOLD_PREFIX`` marks it
    apart from skeletons in one lookup table)."""
    return FOLD_PREFIX + term.translate(_FOLD)


def folds(term: str) -> frozenset[str]:
    """The fold keys of ``term`` and of its Arabic respellings (``_RESPELL``); its fold alone
    when it has too many."""
    options = [_RESPELL.get(ch, (ch,)) for ch in term]
    if math.prod(map(len, options)) > _MAX_VARIANTS:
        return frozenset({fold(term)})
    return frozenset(FOLD_PREFIX + "".join(c) for c in itertools.product(*options))


def lookup_keys(term: str) -> frozenset[str]:
    """What the store files a corpus term under: its fold (Arabic script) and skeletons."""
    keys = set(skeletons(term))
    if not term.isascii():
        keys.add(fold(term))
    return frozenset(keys)


def latin_names(text: str) -> list[str]:
    """The capitalised words of a Latin-script question, as tokens: the names worth looking up
    in other scripts (sentence-initial question words and months are not names)."""
    out = []
    for word in _CAPITALISED.findall(text):
        for token in tokens(word):
            if token.isascii() and token not in _NOT_NAMES and token not in STOPWORDS:
                out.append(token)
    return out


def same_name(a: str, b: str) -> bool:
    """Whether two words, in any of the three scripts, can be spellings of one name."""
    return bool(skeletons(a) & skeletons(b))
