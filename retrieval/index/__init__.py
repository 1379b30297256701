"""The index on disk: immutable generations (SQLite store + FAISS vectors + manifest), the
incremental indexer that writes them, and the watcher that keeps them current."""
