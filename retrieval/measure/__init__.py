"""Measuring tools: ``evaluate`` (khabar eval, quality on question sets) and ``bench``
(khabar bench, speed and scale as ratios to the bare embedder)."""
