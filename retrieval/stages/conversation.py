"""Follow-up questions, without a language model: the question as understood in its context.

"And which frigate?" or "ومن الذي فرضها؟" cannot be searched alone, but gluing the previous
question to every new one drags a self-contained question ("Who won the 2022 World Cup?")
towards the old topic. So a question is read on its own unless it shows that it leans on the
conversation: a pronoun or demonstrative, a leading "and / وما / و" that continues the last turn,
or too few words of its own that the articles use. Only then are the previous turn's content
words (themselves already resolved, so a chain of follow-ups keeps its subject) added to it.

Deciding from the text and the corpus vocabulary costs a dictionary lookup, not a second
embedding, so a question with history is as fast as one without.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from khabar.retrieval.normalize import STOPWORDS, detect_lang, normalize, tokens

# Words that point back at something said before, per question language, in normalised form
# (see ``normalize``): Arabic "اين" is "where" but Persian "این" is "this", so they differ.
# A pronoun that comes before the question has named anyone ("Where did he die?", "Which court
# restored his patents?", "او کجا سخنرانی کرد؟") points back. After a name it usually refers to
# that name ("How old was Manning when he played?"), and so do demonstratives and Arabic's
# resumptive pronouns ("الحرب التي ... فيها"): those count only when the question says little
# else. Arabic "هو"/"هي" are left out: in "من هو ...؟" they are the copula, not a pointer.
_POINTERS = {
    "en": frozenset("he she they him her them his its their".split()),
    "fa": frozenset("او وي ايشان انها اينها".split()),
}
_WEAK_POINTERS = {
    "en": frozenset("he she they him them it his hers its their theirs this these those "
                    "former latter".split()),
    "ar": frozenset("ذلك تلك هذا هذه هولاء اولئك هناك حينها انذاك عندها نفسه "
                    "نفسها عنه عنها عنهم منه منها منهم فيه فيها فيهم له لها لهم به بها بهم عليه "
                    "عليها عليهم اليه اليها معه معها".split()),
    "fa": frozenset("او وي ايشان انها اينها ان اين انجا اينجا همين همان".split()),
}
# A question that opens by continuing the last turn: "And ...", "What about ...", "وما ...".
_CONTINUES = re.compile(
    r"^(?:and|also|what about|how about|so|then)\b"
    r"|^[وف](?:ما|من|متي|كم|اين|هل|لماذا|كيف|اي|لاي|باي|ماذا|بماذا|الي|في|عن|لم|اذا|هو|هي"
    r"|وفقا|بحسب|حسب)(?:\s|$)"
    r"|^ماذا عن|^(?:و|پس|چطور|درباره)\s",
    re.IGNORECASE,
)
# Question words and other words that say nothing about the subject of a question.
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how many much long old did does do is are was "
    "were say said tell told happen happened".split()
    + "ما ماذا متي كيف اين لماذا هل كم اي من قال قالت".split()
    + "چه چرا كجا كي كدام ايا چند چگونه چطور گفت".split()
)
# A question with a pronoun but more words of its own than this names its own subject.
_POINTER_MAX_WORDS = 4
_MAX_CONTEXT_WORDS = 12
_WORD = re.compile(r"[^\W_]+")
_STOP = frozenset(normalize(w) for w in STOPWORDS) | frozenset(
    # English function words the shared list leaves out
    "according after before during between under besides about would could should can will "
    "also only has had have having one ones kind sort since use used first last "
    # Persian
    "درباره کسي چيزي هر بار داد كرد شد دارد كردند دادند اند بود شده مي".split()
    # Arabic
    + "حسب وفقا بحسب نحو كان كانت يكون".split())


def _content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its subject, in their original spelling and order."""
    out = []
    for word in _WORD.findall(text):
        token = tokens(word)
        if not token:
            continue
        norm = normalize(word)
        if {norm, token[0]} & (_STOP | _QUESTION_WORDS):
            continue
        if len(norm) < 2 and not norm.isdigit():
            continue
        out.append(word)
    return out


def leans_on_context(question: str, vocabulary: Callable[[list[str]], dict[str, int]]) -> bool:
    """Whether ``question`` needs the conversation to be understood (see the module text).

    It does when it opens by continuing the last turn; when it uses a personal pronoun; when it
    uses a possessive or demonstrative and says little of its own (a long question that names
    its subject uses "his" or "their" for something it names itself); or when it has at most one
    word of its own, unless that word is one the articles use (a name: "Who is Peskov?" asks
    about Peskov, whatever came before).
    """
    norm = normalize(question)
    if _CONTINUES.search(norm):
        return True
    own = list(dict.fromkeys(normalize(w) for w in _content_words(question)))
    lang = detect_lang(question)
    words = [w.strip("؟?!.،,:;\"'()") for w in question.split()]
    folded = [normalize(w).replace(" ", "") for w in words]
    for i, word in enumerate(folded):
        if word in _POINTERS.get(lang, ()) and not _named_before(words, i, lang):
            return True
    if set(folded) & _WEAK_POINTERS.get(lang, frozenset()):
        return len(own) <= _POINTER_MAX_WORDS
    if len(own) > 1:
        return False
    return not own or not vocabulary([t for w in own for t in tokens(w)])


def _named_before(words: list[str], i: int, lang: str) -> bool:
    """Whether the question names someone before its ``i``-th word: a capitalised word after
    the first in English, any two words in Persian."""
    if lang == "en":
        return any(w[:1].isupper() for w in words[1:i])
    return i >= 2


@dataclass(frozen=True, slots=True)
class Turn:
    """A question as understood in its conversation.

    ``text`` is what is searched: the question, plus the content words of the turn it leans on
    (``context``) when it leans on one. The search vector of a follow-up is its own embedding
    mixed with its context turn's vector, so a chain of follow-ups keeps its subject and only the
    new question is embedded (the context's vector is the one the last turn searched with).
    """

    question: str
    text: str
    context: Turn | None = None


def read(question: str, history: Sequence[str],
         vocabulary: Callable[[list[str]], dict[str, int]]) -> Turn:
    """``question`` as understood after ``history`` (earlier questions, oldest first).

    ``vocabulary`` maps terms to how many passages hold them (absent terms left out): the
    store's document frequencies.
    """
    previous: Turn | None = None
    for earlier in history:
        previous = _resolve(earlier, previous, vocabulary)
    return _resolve(question, previous, vocabulary)


def _resolve(question: str, previous: Turn | None,
             vocabulary: Callable[[list[str]], dict[str, int]]) -> Turn:
    if previous is None or not leans_on_context(question, vocabulary):
        return Turn(question, question)
    own = {t for w in _content_words(question) for t in tokens(w)}
    added: list[str] = []
    seen: set[str] = set(own)
    for word in _content_words(previous.text):
        key = tuple(tokens(word))
        if not key or key[0] in seen:
            continue
        seen.add(key[0])
        added.append(word)
    text = f"{question} ({' '.join(added[:_MAX_CONTEXT_WORDS])})" if added else question
    return Turn(question, text, previous)
