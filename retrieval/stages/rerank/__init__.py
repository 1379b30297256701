"""Rerankers: the protocol (``base``), the name registry (``registry``), one module each."""
