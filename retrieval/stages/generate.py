"""The generate stage: with ``KHABAR_LLM`` set, a chat model writes the answer from the composed
citations, and every sentence it writes is checked against the passages it cites
(``checks.py``); on any failure the extractive answer stands, with the reason. The model is
asked only when the compose stage found the question covered."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from khabar.retrieval.stages.compose import Composed
from khabar.retrieval.stages.llm import LLM
from khabar.retrieval.types import Answer, Query


def generate(llm: LLM, answer: Answer, query: Query, composed: Composed, started: float,
             condense_ms: float, on_text: Callable[[str], None] | None) -> Answer:
    """The model's checked answer from the composed citations, or the extractive ``answer``
    with the reason; ``condense_ms`` (the model reading a follow-up) is counted as its time."""
    timings = answer.timings_ms
    llm_ms = condense_ms
    changes: dict = {}
    if composed.found:
        generated = llm.answer(answer.question, query.lang, composed.citations, on_text)
        llm_ms += generated.ms
        changes = {"removed": generated.removed, "fallback": generated.fallback}
        if generated.fallback is None:
            changes |= {"found": generated.found, "answer": generated.text, "mode": "llm"}
    timings = {**timings, "embed": timings["embed"] - condense_ms, "llm": llm_ms,
               "total": (time.perf_counter() - started) * 1000}
    return replace(answer, timings_ms=timings, **changes)
