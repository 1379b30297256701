"""The translator's table: every sentence in every language, with the same placeholders."""

from __future__ import annotations

import string

import pytest

from khabar.retrieval.strings import LANGS, STRINGS, say, ui_lang


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("key", sorted(STRINGS))
def test_every_key_has_every_language_with_the_same_placeholders(key):
    entry = STRINGS[key]
    assert set(entry) == set(LANGS) == {"ar", "fa", "en"}
    assert all(entry[lang].strip() for lang in LANGS)
    assert {lang: _placeholders(entry[lang]) for lang in LANGS} == {
        lang: _placeholders(entry["en"]) for lang in LANGS}


def test_a_language_without_a_translation_reads_english():
    assert say("rate", "de", s=3) == say("rate", "en", s=3)
    assert "3" in say("rate", "fa", s=3)
    assert [ui_lang(code) for code in ("fa-IR", "AR", "de", None)] == ["fa", "ar", "en", "en"]
