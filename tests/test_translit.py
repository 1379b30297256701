"""Names across scripts: the table of spellings the lexical side and the evidence checks rely
on, and words that must not pass for names."""

import pytest

from khabar.retrieval.normalize import normalize
from khabar.retrieval.translit import fold, folds, same_name, skeletons

SAME = [
    ("Putin", "بوتين"), ("Putin", "پوتین"), ("بوتين", "پوتین"), ("Vidal", "فيدال"),
    ("Vidal", "ویدال"), ("Tianjin", "تيانجين"), ("Peskov", "بيسكوف"), ("Zelensky", "زلنسکی"),
    ("Interfax", "إنترفاكس"), ("Sputnik", "سبوتنيك"), ("Messi", "ميسي"), ("Riyadh", "الرياض"),
    ("Mosul", "الموصل"), ("Kremlin", "الكرملين"), ("Shoigu", "شويغو"), ("Obama", "أوباما"),
    ("Korea", "كوريا"), ("Iran", "إيران"), ("Lavrov", "لافروف"), ("Madrid", "مادرید"),
    ("Netanyahu", "نتنياهو"), ("Pyongyang", "بيونغيانغ"), ("Vostochny", "فوستوشني"),
]
DIFFERENT = [("Putin", "بنات"), ("Vidal", "فضل"), ("Peskov", "بسكويت"), ("Messi", "مصر"),
             ("Korea", "كرة"), ("Obama", "باب"), ("Iran", "أرانب")]


@pytest.mark.parametrize("a, b", SAME)
def test_spellings_of_one_name_match(a, b):
    assert same_name(a, b)


@pytest.mark.parametrize("a, b", DIFFERENT)
def test_other_words_do_not(a, b):
    assert not same_name(a, b)


def test_short_words_are_not_compared():
    assert skeletons("Kim") == frozenset() and skeletons("كيم") == frozenset()
    assert skeletons("2015") == frozenset()


@pytest.mark.parametrize("persian, arabic", [
    ("جونگ", "جونغ"), ("جونگ", "جونج"), ("سونگ", "سونغ"), ("گاگارین", "غاغارين"),
    ("پوتین", "بوتين"), ("چین", "جين"), ("ژنرال", "جنرال"), ("چاوز", "تشاوز"),
    ("گوگل", "قوقل"),
])
def test_a_persian_spelling_is_looked_up_under_arabics_spellings(persian, arabic):
    # Short names too ("جونگ", 4 letters, is below the skeletons' reach for unknown words).
    assert fold(normalize(arabic)) in folds(normalize(persian))


def test_words_without_persian_letters_keep_their_one_fold():
    assert folds("بوتين") == {fold("بوتين")}
    # Too many respellings to be worth looking up: the plain fold alone.
    many = normalize("گگگگ")
    assert folds(many) == {fold(many)}


@pytest.mark.parametrize("persian, arabic", [
    ("استیو", "ستيف"), ("ولادیمیر", "فلاديمير"), ("ویدال", "فيدال"), ("ولودیمیر", "فولوديمير"),
])
def test_a_persian_questions_vav_is_read_as_v(persian, arabic):
    assert skeletons(persian, persian=True) & skeletons(arabic)
    # Read as Arabic (where و is mostly "and"), it is not: "الوصول" must not pass for "فيصلي".
    assert not skeletons(persian) & skeletons(arabic)
    assert not skeletons("الوصول") & skeletons("الفيصلي")
