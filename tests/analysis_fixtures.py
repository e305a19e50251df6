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
