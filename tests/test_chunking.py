from conftest import SEEDS

from khabar.retrieval.ingest.chunking import Chunker, sentence_spans
from khabar.retrieval.ingest.corpus import parse


def test_passages_and_sentences_point_into_the_file():
    chunker = Chunker(300)
    for path in SEEDS.glob("*.txt"):
        text = path.read_text(encoding="utf-8")
        passages = list(chunker.passages(parse(path.name, text)))
        assert passages
        for p in passages:
            assert text[p.start:p.end] == p.text
            assert len(p.text) <= 300
            assert p.sentences
            for s in p.sentences:
                assert p.start <= s.start < s.end <= p.end
        assert [p.ordinal for p in passages] == list(range(len(passages)))


def test_sentence_boundaries_in_three_scripts():
    text = ("هل زار بوتين بيونغ يانغ؟ نعم، زارها. «این پیمان جدید نیست.» گفت. "
            "It cost 2.5 dollars. Done")
    parts = [text[s.start:s.end] for s in sentence_spans(text, 0, len(text))]
    assert parts == ["هل زار بوتين بيونغ يانغ؟", "نعم، زارها.", "«این پیمان جدید نیست.»", "گفت.",
                     "It cost 2.5 dollars.", "Done"]


def test_long_sentence_without_punctuation_is_still_cut():
    words = " ".join(["كلمة"] * 400)
    doc = parse("x.txt", words + ".")
    passages = list(Chunker(200).passages(doc))
    assert len(passages) > 5
    assert all(len(p.text) <= 200 for p in passages)
