"""Text normalisation for matching (lexical index, queries, eval), never for display.

Arabic and Persian text reaches us with interchangeable letter forms (Arabic ي vs Persian ی,
ك vs ک, hamza-carrying alefs), optional diacritics, tatweel, ZWNJ and bidi marks, and three
digit systems. A reader treats all of these as the same word, so matching must too.
"""

from __future__ import annotations

import re
import unicodedata

_LETTERS = {
    "ی": "ي", "ى": "ي", "ئ": "ي",
    "ک": "ك",
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",
    "ة": "ه", "ۀ": "ه", "ە": "ه",
    "ؤ": "و",
}
_DIGITS = {chr(0x0660 + i): str(i) for i in range(10)}
_DIGITS |= {chr(0x06F0 + i): str(i) for i in range(10)}
# ZWNJ joins Persian morphemes ("می‌کند", "موفق‌ترین") that users often type with a space:
# mapping it to a space makes both spellings tokenise alike.
_SPACES = {"\u200c": " ", "\u00a0": " "}
_DROP = (
    "\u0640"  # tatweel
    "\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)
_TABLE = str.maketrans(_LETTERS | _DIGITS | _SPACES | dict.fromkeys(_DROP, ""))
_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")
_WS = re.compile(r"\s+")
# Word characters without "_": FTS5's tokenizer splits on underscores, and the term statistics
# must count exactly the tokens FTS5 indexes ("Super_Bowl_50" is three words to both).
_TOKEN = re.compile(r"[^\W_]+")
# Arabic's definite article and the particles glued before it; stripping them lets "الاتفاقية"
# match "اتفاقية" and "بالاتفاقية". Only applied when a real stem (3+ letters) remains.
_AR_PREFIXES = ("وبال", "وال", "بال", "كال", "فال", "لل", "ال")


# Function words of the three languages, in normalised form. They say nothing about whether the
# corpus covers a question, so coverage statistics leave them out.
STOPWORDS = frozenset(
    # Arabic
    "من في على الى عن ما ماذا متي كيف اين لماذا هل هو هي هم هن انا نحن انت الذي التي الذين "
    "اللذين ذلك تلك هذا هذه هولاء كان كانت يكون ان او ثم قد لقد لا لم لن مع بين عند كل بعض "
    "اي غير بعد قبل حتي اذا الا وهو وهي كما ايضا فيه فيها له لها منه منها به بها عليه"
    # Persian
    " از به با در را كه اين ان يا و هم نيز تا براي چه چرا كجا كي كدام ايا است بود شد "
    "هست نيست مي كرد كند شده اند ها هاي خود او ما شما انها يك چند چگونه چطور"
    # English
    " a an the of in on at to for from by with about as is are was were be been being do does "
    "did what which who whom whose when where why how that this these those it its and or not "
    "no into than then there their they he she his her we you i".split()
)

# Persian fuses "is" onto its question words ("پوتین کیست؟", "فوستوشني چیست؟", "زاهدان کجاست؟").
# They say what kind of answer is wanted, and matching keeps them (the lexicon reads كجاست near
# "located" words, which finds where-answers), but no passage about the subject holds them, so
# the "every word of the question is in the passage" test (``search``) leaves them out.
FUSED_QUESTION_WORDS = frozenset("كيست چيست كجاست".split())


# Words people type to try a bot, and values leaked from a client's empty fields: a message
# made only of these (and stop words, punctuation, emoji) asks nothing.
FILLER = frozenset(
    "test tests testing hello hi hey ping pong null none nil undefined nan true false ok okay "
    "yes no thanks thank asdf qwerty foo bar baz lorem ipsum"
    " سلام مرحبا اهلا تست اختبار تجربه شكرا مرسي ممنون ازمايش بله نه".split()
)


def asks_something(text: str) -> bool:
    """Whether ``text`` holds any word that could be looked up (not only stop words, filler,
    numbers, punctuation or emoji)."""
    return any(any(ch.isalpha() for ch in t) and t not in STOPWORDS and t not in FILLER
               for t in tokens(text))


def normalize(text: str) -> str:
    """Fold letter variants, digits, marks and case so equal words compare equal."""
    text = unicodedata.normalize("NFKC", text).translate(_TABLE)
    text = _DIACRITICS.sub("", text)
    return _WS.sub(" ", text).strip().casefold()


def light_stem(token: str) -> str:
    """Strip Arabic article prefixes; other tokens pass through unchanged."""
    for prefix in _AR_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 3:
            return token[len(prefix):]
    return token


def tokens(text: str) -> list[str]:
    """Normalised, lightly stemmed word tokens: the vocabulary of the lexical index."""
    return [light_stem(t) for t in _TOKEN.findall(normalize(text))]


def contains(haystack: str, needle: str) -> bool:
    """Whether ``needle`` occurs in ``haystack`` once both are normalised.

    Spaces are ignored on a second try because Persian writers vary between a space, a ZWNJ and
    nothing at all inside one word ("می کند", "می‌کند", "میکند").
    """
    h, n = normalize(haystack), normalize(needle)
    if not n:
        return False
    return n in h or n.replace(" ", "") in h.replace(" ", "")


_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")
_PERSIAN_ONLY = re.compile("[پچژگکی]")
_ARABIC_ONLY = re.compile("[ةيكى]")


def script(text: str) -> str:
    """The dominant script, ``arabic`` or ``latin`` (``other`` when neither has letters)."""
    arabic, latin = len(_ARABIC_SCRIPT.findall(text)), len(_LATIN.findall(text))
    if not arabic and not latin:
        return "other"
    return "arabic" if arabic >= latin else "latin"


# Words only one of the two languages uses often, spelled with Persian ی/ک: Persian typed on
# an Arabic keyboard (much older Iranian web text) uses ي and ك, so letters alone call it
# Arabic, while its function words stay Persian.
_PERSIAN_WORDS = frozenset("در از که را است این با برای می های شد کرد آن نیز شده کند بود "
                           "اند یک خود وی تا کنند گفت".split())
_ARABIC_WORDS = frozenset("فی علی الی إلی التی الذی أن عن هذا هذه کان قد مع ذلک قال الذین "
                          "وقال کما إن حیث".split())
_KEYBOARD = str.maketrans("يكى", "یکی")


def detect_lang(text: str) -> str:
    """A cheap language guess (``ar``, ``fa``, ``en`` or ``und``): by the function words of
    each language when a text has a few, else by the letters only one of them uses."""
    kind = script(text)
    if kind == "latin":
        return "en"
    if kind == "other":
        return "und"
    # Words, not space-separated runs: "است." ends most Persian sentences.
    words = re.findall(r"[^\W\d_]+", text.translate(_KEYBOARD))
    persian = sum(w in _PERSIAN_WORDS for w in words)
    arabic = sum(w in _ARABIC_WORDS for w in words)
    if persian + arabic >= 3:
        return "fa" if persian > arabic else "ar"
    persian, arabic = len(_PERSIAN_ONLY.findall(text)), len(_ARABIC_ONLY.findall(text))
    return "fa" if persian > arabic else "ar"


# Passages sharing at least this share of their three-word runs tell one story: a wire copy
# republished with a new headline or a trimmed paragraph, not two reports of one event.
_SAME_STORY = 0.5


def shingles(norm: str) -> frozenset[tuple[str, ...]]:
    """The three-word runs of a normalised text, what ``same_story`` compares."""
    words = norm.split()
    return frozenset(tuple(words[i:i + 3]) for i in range(max(1, len(words) - 2)))


def same_story(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> bool:
    """Whether two passages are one wire copy told twice (answers cite it once; a followed
    topic alerts once)."""
    return bool(a and b) and len(a & b) / len(a | b) >= _SAME_STORY
