"""User-facing strings in every language (placeholder until the front-end catalogue lands)."""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "not_found": {
        "ar": "لا تغطي المقالات المفهرسة هذا السؤال. أقرب ما وُجد:",
        "fa": "مقاله‌های نمایه‌شده به این پرسش نمی‌پردازند. نزدیک‌ترین موارد:",
        "en": "The indexed articles do not cover this question. Closest passages:",
    },
    "nothing_to_ask": {
        "ar": "لم أجد في رسالتك سؤالاً عن الأخبار. اسأل عن شيء في المقالات، مثلاً: من وقّع "
              "المعاهدة؟",
        "fa": "در پیام شما پرسشی درباره خبرها نیافتم. درباره چیزی در مقاله‌ها بپرسید، مثلاً: "
              "چه کسی پیمان را امضا کرد؟",
        "en": "There is no question about the news in that. Ask about something in the "
              "articles, e.g. \"Who signed the treaty?\"",
    },
    "date_label": {"en": "Date", "ar": "التاريخ", "fa": "تاریخ"},
    "date_context": {"en": "in an article of", "ar": "في مقال بتاريخ",
                     "fa": "در مقاله‌ای به تاریخ"},
}


def say(key: str, lang: str, **values: object) -> str:
    table = STRINGS[key]
    return table.get(lang, table["en"]).format(**values)
