"""Prometheus metrics: requests, latency per endpoint, answers found or abstained, topics
followed and alerts delivered, the index.

With ``--workers N`` every worker counts in files under ``PROMETHEUS_MULTIPROC_DIR`` (set by
``khabar serve`` before the workers start) and any worker's ``/metrics`` sums them all, so a
scrape sees the whole server whichever worker answers it. The index gauges are read from the
live generation at scrape time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from khabar.retrieval.errors import KhabarError
from khabar.retrieval.index.records import Manifest

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A ``_created`` series per label set would double the output for nothing a dashboard uses.
disable_created_metrics()

REQUESTS = Counter("khabar_http_requests", "HTTP requests answered",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("khabar_http_request_duration_seconds", "Time to answer an HTTP request",
                    ["endpoint"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                                           5.0, 10.0))
ANSWERS = Counter("khabar_answers", "Questions answered, by outcome", ["outcome"])
FOLLOWS = Counter("khabar_follows", "Topics followed and unfollowed over HTTP", ["action"])
ALERTS = Counter("khabar_alerts_delivered", "Alerts of followed stories handed to HTTP callers")


def observe(endpoint: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(endpoint, method, str(status)).inc()
    LATENCY.labels(endpoint).observe(seconds)


def answered(found: bool) -> None:
    ANSWERS.labels("found" if found else "abstained").inc()


def followed(action: str) -> None:
    FOLLOWS.labels(action).inc()


def alerts_delivered(count: int) -> None:
    ALERTS.inc(count)


class IndexCollector(Collector):
    """The generation this process answers from, read when scraped."""

    def __init__(self, manifest: Callable[[], Manifest]) -> None:
        self.manifest = manifest

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            m = self.manifest()
        except KhabarError:
            yield GaugeMetricFamily("khabar_index_ready", "1 when an index is loaded", value=0)
            return
        yield GaugeMetricFamily("khabar_index_ready", "1 when an index is loaded", value=1)
        yield GaugeMetricFamily("khabar_index_generation", "Number of the live index generation",
                                value=m.generation)
        yield GaugeMetricFamily("khabar_index_age_seconds", "Seconds since the live generation "
                                "was built", value=max(0.0, time.time() - m.created))
        yield GaugeMetricFamily("khabar_index_documents", "Articles in the live generation",
                                value=m.documents)
        yield GaugeMetricFamily("khabar_index_passages", "Passages in the live generation",
                                value=m.passages)


def render(index: IndexCollector) -> bytes:
    """The exposition text: this server's counters (all workers'), then the index gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    else:
        counters = REGISTRY
    gauges = CollectorRegistry()
    gauges.register(index)
    return generate_latest(counters) + generate_latest(gauges)
