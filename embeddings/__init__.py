"""Embedders: text to unit vectors. ``base.Embedder`` is a LangChain ``Embeddings`` whose
backends implement one method; ``registry.get_embedder`` turns a spec string into a backend."""
