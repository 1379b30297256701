"""Dates in articles: absolute ones read (Persian calendar included), relative ones resolved
against the publication date, in Arabic, Persian and English."""

import pytest

from khabar.retrieval.dates import date_from_url, may_mention, mentions, parse_date
from khabar.retrieval.normalize import tokens


@pytest.mark.parametrize("text, expected", [
    ("نشر في 2024-06-19 الساعة 14:49", "2024-06-19"),
    ("تاريخ النشر: 12th, October 2023 GMT", "2023-10-12"),
    ("تاریخ: ۱۳۹۲/۱۲/۱۷", "2014-03-08"),        # Solar Hijri, Persian digits
    ("۱۷ اسفند ۱۳۹۲", "2014-03-08"),
    ("1399/10/11", None),                        # no Persian mark: not taken for Solar Hijri
    ("در تاریخ 7 نوامبر", None),                  # no year: not a date we can state
    ("March 5, 2021", "2021-03-05"),
])
def test_absolute_dates(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text, published, expected", [
    ("قال بوتين، اليوم الأربعاء، عقب محادثات", "2024-06-19", [("اليوم الأربعاء", "2024-06-19")]),
    ("وصل بوتين ليل الثلاثاء", "2024-06-19", [("الثلاثاء", "2024-06-18")]),
    ("أعلن أمس أن", "2024-06-19", [("أمس", "2024-06-18")]),
    ("قمة الشهر الماضي في فوستوشني", "2023-10-12", [("الشهر الماضي", "2023-09")]),
    ("يومي الـ 18 والـ 19 من حزيران الماضي", "2024-11-08",
     [("18 والـ 19 من حزيران الماضي", "2024-06-18–2024-06-19")]),
    ("في الفترة من 12 إلى 17 سبتمبر", "2023-10-12",
     [("12 إلى 17 سبتمبر", "2023-09-12–2023-09-17")]),
    ("در تاریخ 7 نوامبر، رئیس جمهور", "2024-11-08", [("7 نوامبر", "2024-11-07")]),
    ("امروز سه‌شنبه اعلام شد", "2024-06-19", [("امروز سه‌شنبه", "2024-06-19")]),
    ("He arrived on Tuesday", "2024-06-19", [("on Tuesday", "2024-06-18")]),
    ("The talks were held last month", "2024-01-10", [("last month", "2023-12")]),
    ("in December 2019 and 3 January", "2020-01-05",
     [("December 2019", "2019-12"), ("3 January", "2020-01-03")]),
    ("نيسان ـ قال الرئيس", "2024-06-19", []),      # an outlet's name, not April
    ("قال اليوم الأربعاء", None, []),               # unknown publication date: not resolved
])
def test_relative_dates_are_resolved_against_publication(text, published, expected):
    found = [(m.text, m.resolved + (f"–{m.until}" if m.until else ""))
             for m in mentions(text, published)]
    assert found == expected
    assert may_mention(tokens(text)) or not found


@pytest.mark.parametrize("text, can", [
    ("بين ديسمبر ويناير الماضيين", True),    # a dual "last": no word boundary after the cue
    ("ووصل وأمس الرئيس", True),             # a clitic before the cue
    ("The port reopened after 3 days", True),
    ("وكانت موسكو وبيونغ يانغ أبرمتا اتفاقية شراكة", False),
    ("The leaders signed a partnership treaty", False),
])
def test_may_mention_is_a_quick_necessary_test(text, can):
    assert may_mention(tokens(text)) is can
    if not can:
        assert mentions(text, "2024-06-19") == []


def test_a_day_after_publication_is_last_years():
    # An article of 2024-01-05 reporting "on 28 December" means 2023.
    assert mentions("the vote on 28 December", "2024-01-05")[0].resolved == "2023-12-28"


@pytest.mark.parametrize("url, expected", [
    ("https://dantri.com.vn/the-gioi/putin-hiep-uoc-20241108073816961.htm", "2024-11-08"),
    ("https://www.bbc.com/news/2024/06/19/putin-pyongyang", "2024-06-19"),
    ("https://news.example/a/2024-6-9/b", "2024-06-09"),
    ("https://www.varzesh3.com/news/1482122", None),      # an article number, not a date
    ("https://news.example/2024/13/40/x", None),          # no such day
    ("https://news.example/2015/08/", None),              # a month section, not a day
    ("http://2024.example/a", None),                       # the host holds no date
    ("", None),
])
def test_dates_in_article_addresses(url, expected):
    assert date_from_url(url) == expected
