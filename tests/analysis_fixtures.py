"""A Word2Vec model with a vocabulary wide enough for the built-in WEAT tests: trained on the
shortened English Wikipedia dump that ships inside the gensim wheel (106 articles, 450k words)."""

from __future__ import annotations

from functools import lru_cache

from gensim.corpora.wikicorpus import WikiCorpus
from gensim.models import Word2Vec
from gensim.test.utils import datapath

WIKI = datapath("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")


@lru_cache(maxsize=1)
def wiki_texts() -> tuple[tuple[str, ...], ...]:
    """The articles as gensim's WikiCorpus tokenises them (lower-cased)."""
    corpus = WikiCorpus(WIKI, dictionary={}, processes=1)
    return tuple(tuple(text) for text in corpus.get_texts())


@lru_cache(maxsize=2)
def wiki_word2vec(seed: int = 1) -> Word2Vec:
    """About 9,000 words (min_count 5), 50 dimensions, deterministic (one worker)."""
    texts = [list(t) for t in wiki_texts()]
    return Word2Vec(texts, vector_size=50, window=5, min_count=5, seed=seed, workers=1, epochs=5)


def rotated(kv, moved=(), rotation_seed: int = 3, seed: int = 1):
    """A copy of ``kv`` rotated by a random orthogonal matrix, with each of ``moved`` sent to a
    random direction of its own length (counts kept); returns ``(copy, rotation)``."""
    import numpy as np
    from gensim.models import KeyedVectors
    from scipy.stats import ortho_group

    rotation = ortho_group.rvs(kv.vector_size, random_state=rotation_seed)
    vectors = kv.vectors @ rotation
    rng = np.random.default_rng(seed)
    for word in moved:
        row = kv.key_to_index[word]
        direction = rng.standard_normal(kv.vector_size)
        vectors[row] = direction / np.linalg.norm(direction) * np.linalg.norm(vectors[row])
    out = KeyedVectors(kv.vector_size, count=0)
    out.add_vectors(list(kv.index_to_key), vectors.astype(np.float32))
    out.expandos["count"] = np.asarray(kv.expandos["count"]).copy()
    return out, rotation
