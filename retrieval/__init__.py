"""The engine: articles in, cited answers out. ``engine.Khabar`` wires it together; the
sub-packages follow the data: ``ingest`` (files to passages), ``index`` (generations on disk),
``search``, ``answer``; ``measure`` holds eval and bench (see docs/architecture.md)."""
