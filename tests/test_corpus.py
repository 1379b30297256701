import codecs

import pytest
from conftest import SEEDS

from khabar.retrieval.dates import parse_date
from khabar.retrieval.ingest.corpus import parse
from khabar.retrieval.ingest.decoding import UnreadableFileError, decode


def _doc(name: str):
    path = next(SEEDS.glob(name + "*"))
    return parse(path.name, path.read_text(encoding="utf-8"))


def _body(doc) -> str:
    return "\n".join(doc.text[b.start:b.end] for b in doc.blocks)


# (file prefix, title, date, outlet, url)
EXPECTED = [
    ("000", None, None, "الوكالة العربية السورية للأنباء", None),
    ("001", "داعياً إلى رفع العقوبات عن كوريا الشمالية.. بوتين: الغرب يحافظ على هيمنته من خلالها",
     None, None, None),
    ("002", "الاتفاقية بين روسيا وكوريا الشمالية تنص على المساعدة المتبادلة ضد أي عدوان",
     "2024-06-19", "نيسان", None),
    ("003", None, "2024-11-08", "روزنامه دن تری", "https://dantri.com.vn/"),  # from the URL
    ("004", "بوتين: الاتفاقيات بين روسيا وكوريا الشمالية ستسهم في الاستقرار الإقليمي",
     "2023-10-12", "الأسبوع", None),
]


@pytest.mark.parametrize(("prefix", "title", "date", "outlet", "url"), EXPECTED)
def test_seed_metadata(prefix, title, date, outlet, url):
    doc = _doc(prefix)
    if title:
        assert doc.title == title
    else:
        assert doc.title  # a fallback from the lead, never empty
    assert doc.date == date
    assert doc.outlet == outlet
    if url:
        assert doc.url.startswith(url)
    else:
        assert doc.url is None
    assert doc.lang == ("fa" if prefix == "003" else "ar")


CHROME = {
    "000": ["مقالات مشابهة", "زيلينسكي ينتقد غياب بوتين", "المصدر:"],
    "001": ["شاهد أيضاً", "قطر تهدد", "حذر وزير الطاقة القطري", "اترك تعليقاً", "بريدك الإلكتروني"],
    "002": ["اتصل بنا", "الكلمات الأكثر بحثاً", "نشر في"],
    "003": ["نظر (0)", "منبع:"],
    "004": ["البرلمان العراقي", "لافروف: وزراء خارجية", "الأمم المتحدة تُخصص", "كلمات دلالية",
            "تاريخ النشر", "أخبار ذات صلة", "إقرأ أيضاً"],
}
KEPT = {
    "000": ["وكالة سبوتنيك", "روسيا – أكد الرئيس الروسي فلاديمير بوتين أنه عاجلا أم آجلا"],
    "001": ["إنجاز حقيقي", "تكافح سياسة الهيمنة الإمبريالية"],
    "002": ["إنترفاكس", "1950 - 1953"],
    "003": ["تکذیب", "زلنسکی"],
    "004": ["مارشال شابوشنيكوف", "بيسكوف", "بوتين: روسيا ستحقق أهدافها بالقوة",
            "قال الرئيس الروسي فلاديمير بوتين، أمس"],
}


@pytest.mark.parametrize("prefix", sorted(CHROME))
def test_seed_body_drops_chrome_and_keeps_articles(prefix):
    body = _body(_doc(prefix))
    for phrase in CHROME[prefix]:
        assert phrase not in body, phrase
    for phrase in KEPT[prefix]:
        assert phrase in body, phrase


def test_blocks_are_offsets_into_the_file():
    for path in SEEDS.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        doc = parse(path.name, text)
        assert doc.blocks
        for b in doc.blocks:
            assert 0 <= b.start < b.end <= len(text)
            assert text[b.start:b.end].strip() == text[b.start:b.end]


@pytest.mark.parametrize(("text", "expected"), [
    ("نيسان ـ نشر في 2024-06-19 الساعة 14:49", "2024-06-19"),
    ("تاريخ النشر: 12th, October 2023 GMT", "2023-10-12"),
    ("Published March 3, 2024", "2024-03-03"),
    ("الثلاثاء 5 يونيو 2024", "2024-06-05"),
    ("١٩ حزيران ٢٠٢٤", "2024-06-19"),
    ("در تاریخ 7 نوامبر", None),
    ("2024-13-40", None),
    ("۱۴۰۳/۰۸/۱۷", "2024-11-07"),  # Solar Hijri
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_decode_encodings():
    arabic = "قال الرئيس إن المعاهدة جديدة."
    assert decode(arabic.encode("cp1256")) == arabic
    assert decode(codecs.BOM_UTF16_LE + arabic.encode("utf-16-le")) == arabic
    assert decode(codecs.BOM_UTF8 + arabic.encode("utf-8")) == "\ufeff" + arabic


@pytest.mark.parametrize(
    "data", [b"", b"  \n", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", bytes(range(1, 32)) * 20]
)
def test_decode_rejects_non_text(data):
    with pytest.raises(UnreadableFileError):
        decode(data)


METADATA_CASES = {
    "english header": ("Title: Storm closes Aqaba port\nSource: Jordan Times\nDate: 2021-06-06\n"
                       "URL: https://example.org/aqaba\n\nA storm closed the port of Aqaba on "
                       "Friday, officials said, and ships waited outside.\n"),
    "arabic header": ("العنوان: عاصفة تغلق ميناء العقبة\nالمصدر: الغد\nالتاريخ: 2021-06-06\n"
                      "الرابط: https://example.org/aqaba\n\nأغلقت عاصفة ميناء العقبة يوم "
                      "الجمعة، وقال مسؤولون إن السفن انتظرت في الخارج.\n"),
    "persian header and footer": ("عنوان: طوفان بندر عقبه را بست\nتاریخ: ۱۴۰۰/۰۳/۱۶\n\nطوفان "
                                  "بندر عقبه را روز جمعه بست و کشتی‌ها بیرون منتظر ماندند.\n\n"
                                  "منبع: خبرگزاری فارس\nنشانی: https://example.org/aqaba\n"),
    "yaml front matter": ("---\ntitle: \"Storm closes Aqaba port\"\ndate: 2021-06-06\n"
                          "source: Jordan Times\nurl: https://example.org/aqaba\n---\n\nA "
                          "storm closed the port of Aqaba on Friday, officials said, and ships "
                          "waited outside.\n"),
}


@pytest.mark.parametrize("case", sorted(METADATA_CASES))
def test_metadata_lines_are_metadata_never_text(case):
    text = METADATA_CASES[case]
    doc = parse("a.txt", text)
    assert doc.title and doc.date == "2021-06-06"
    assert doc.outlet and doc.url == "https://example.org/aqaba"
    body = _body(doc)
    for label in ("Title", "Date", "Source", "URL", "العنوان", "المصدر", "التاريخ", "عنوان",
                  "تاریخ", "منبع", "نشانی", "---", "2021-06-06", "https://"):
        assert label not in body, (case, label, body)
    assert "Aqaba" in body or "العقبة" in body or "عقبه" in body


def test_an_article_without_a_date_in_its_text_is_dated_by_its_address():
    doc = parse("a.txt", "Title: Putin on the treaty\nURL: https://dantri.com.vn/the-gioi/"
                         "putin-20241108073816961.htm\n\nPutin said the treaty was like others.\n")
    assert doc.date == "2024-11-08"
    dated = parse("b.txt", "Title: Putin on the treaty\nDate: 2024-11-09\nURL: https://dantri"
                           ".com.vn/putin-20241108073816961.htm\n\nPutin said the treaty was "
                           "like others.\n")
    assert dated.date == "2024-11-09"  # the text's own date wins


def test_metadata_lines_in_markdown_front_matter_and_txt_exports(tmp_path):
    from khabar.retrieval.ingest.formats import read_articles

    md = ("---\ntitle: Storm closes Aqaba port\ndate: 2021-06-06\nsource: Jordan Times\n---\n"
          "\nDate: 2021-06-06\n\nA storm closed the port of Aqaba on Friday, officials said.\n")
    doc = read_articles("a.md", md.encode()).documents[0]
    assert (doc.title, doc.date, doc.outlet) == ("Storm closes Aqaba port", "2021-06-06",
                                                 "Jordan Times")
    assert "Date:" not in _body(doc) and "Aqaba" in _body(doc)


FOOTER_CASES = {
    # An agency's end marker and filing time, each on its own line.
    "end marker": ("أصدرت وزارة المالية سندات تنمية حكومية بقيمة 20 مليار ريال سعودي اليوم.\n"
                   " // انتهى //\n 15:52 ت م\n", ("انتهى", "15:52")),
    "persian end marker": ("بانک مرکزی نرخ سود سپرده‌ها را برای سال آینده اعلام کرد.\n"
                           "پایان پیام\n", ("پایان پیام",)),
    # A link to the story itself, on its own line and run on after the last sentence.
    "self link": ("استقبل مطار الجوف اليوم أول رحلة دولية تابعة لشركة طيران النيل.\n"
                  "رابط الخبر بصحيفة الوئام: مطار الجوف يستقبل اليوم أول رحلة دولية\n",
                  ("رابط الخبر", "الوئام")),
    "run-on self link": ("أحالت النيابة العامة 41 متهماً إلى المحكمة الاتحادية العليا. رابط "
                         "الخبر بصحيفة الوئام: الإمارات: إحالة 41 متهماً للمحكمة العليا\n",
                         ("رابط الخبر",)),
    # Tags printed without a colon after the body, on their own line or run on.
    "bare tags": ("اختيرت العاصمة الصينية بكين لتنظيم دورة الألعاب الأولمبية الشتوية 2022 في "
                  "تصويت أجرته اللجنة الأولمبية الدولية.\n سمات الأولمبياد الصين بكين\n",
                  ("سمات",)),
    "run-on bare tags": ("وأضاف أن المطار نقل 24636 مسافرًا على متن 212 رحلة جوية خلال النصف "
                         "الأول. سمات الجوف رحلة دولية مطار الجوف\n", ("سمات", "رحلة دولية مطار")),
    "pager": ("Next Previous أوضحت وزارة الداخلية السعودية هوية منفذ التفجير في مسجد قوات "
              "الطوارئ في مدينة أبها جنوب المملكة اليوم.\n", ("Next", "Previous")),
}


@pytest.mark.parametrize("case", sorted(FOOTER_CASES))
def test_agency_footers_self_links_tags_and_pagers_are_never_text(case):
    text, gone = FOOTER_CASES[case]
    body = _body(parse("a.txt", text))
    assert body, case
    for fragment in gone:
        assert fragment not in body, (case, fragment, body)


def test_sentences_that_only_look_like_footers_are_kept():
    """The footer rules match whole lines or what follows a last sentence, nothing inside."""
    text = ("سمات القيادة في الجيش الحديث تغيرت كثيراً منذ الحرب الأخيرة.\n"
            "قال الوزير إن العمل انتهى في الموعد المحدد وإن الرابط بين المدينتين سيفتح غداً.\n"
            "The match ended at 21:30 and the end of the season is near.\n")
    body = _body(parse("a.txt", text))
    for kept in ("سمات القيادة", "العمل انتهى", "21:30", "the end of the season"):
        assert kept in body, kept


def test_a_dateline_under_metadata_lines_is_still_a_dateline():
    """Scraper exports put Title/Source/Date/URL lines first; the dateline after them is still
    in the article's header, so it is metadata, not the first words of every answer."""
    doc = parse("a.txt", "Title: بكين تفوز باستضافة الألعاب الشتوية\nSource: عين اليوم\n"
                         "Date: 2015-07-31\nURL: https://example.org/beijing\n\n"
                         "عين اليوم – هيفاء عبدالله\n"
                         "اختيرت العاصمة الصينية بكين لتنظيم دورة الألعاب الأولمبية الشتوية "
                         "2022 في تصويت أجرته اللجنة الأولمبية الدولية.\n")
    body = _body(doc)
    assert "هيفاء" not in body and body.startswith("اختيرت")
    assert doc.outlet == "عين اليوم"
