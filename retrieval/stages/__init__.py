"""The answer pipeline's named stages, in the order a question passes them: ``analyse``
(question -> ``Query``), ``retrieve`` (candidates), ``rerank`` (a protocol; rerankers by name),
``compose`` (answer, citations, found) and ``generate`` (optional LLM, claim-checked). Each is
handed what it needs and reads nothing else; ``engine.Khabar`` runs them."""
