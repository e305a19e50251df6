"""The analogy solver of the evaluation: gensim's answers, many questions per matrix product.

Candidates are found with float32 matrix products over chunks of the vocabulary. When the
order that decides a question is closer than rounding error could explain (a near or exact
tie), that one question is solved again with gensim's own ``most_similar`` /
``most_similar_cosmul`` on the same arrays, so ties break exactly as gensim breaks them.
"""

from __future__ import annotations

import numpy as np
from gensim.models import KeyedVectors
from scipy import sparse

from tensorboard_plugin_w2v.analysis import arithmetic
from tensorboard_plugin_w2v.analysis.arithmetic import (
    COSMUL_EPSILON,
    METHOD_3COSADD,
    METHOD_3COSMUL,
    log_shifted,
)
from tensorboard_plugin_w2v.models.norms import model_norms
from tensorboard_plugin_w2v.search.topk import TopK, chunk_rows, dot_t, top_columns

TOPN = 5  # gensim's evaluate_word_analogies asks most_similar for 5 words
_CANDIDATES = 10  # kept per question: gensim's 5 + 3 inputs, plus the next ones to detect ties
# Largest difference between a float32 cosine from one matrix product and gensim's own float32
# cosine for the same pair is about 1e-6 (measured: 9e-7); gaps below twice this bound on
# each side are treated as possible ties.
_COSINE_ERROR = 2e-6


class Solver:
    """Predicts analogy answers as gensim's evaluation does, many questions per matrix product."""

    def __init__(
        self,
        kv: KeyedVectors,
        table: dict[str, int],
        folded: np.ndarray,
        limit: int,
        method: str,
        case_insensitive: bool,
    ):
        self.kv, self.table, self.limit, self.method = kv, table, limit, method
        self.folded = folded
        self.case_insensitive = case_insensitive
        self.vectors = kv.vectors
        self.norms = model_norms(kv)
        self.rechecks = 0
        self._logs: tuple | None = None  # 3CosMul on one chunk: its log rows and word positions
        self._shell: KeyedVectors | None = None

    def solve(self, idx: np.ndarray, block: list[tuple[str, str, str, str]]) -> list[str | None]:
        """Predictions for questions ``block`` whose a, b, c words have model indices ``idx``."""
        cand_index, cand_score = self._candidates(idx)
        trusted_upto = self._trusted_prefix(idx, cand_index, cand_score)
        chosen, decisive = self._choose(idx, cand_index)
        trusted = trusted_upto[np.arange(len(idx)), decisive]
        # Fewer finite scores than gensim's window (tiny vocabularies, zero vectors, 3CosMul's
        # log 0): gensim's list then holds NaN or -inf words too, in an order only it knows.
        trusted &= np.isfinite(cand_score).sum(axis=1) >= TOPN + idx.shape[1]
        trusted = trusted.tolist()
        keys = self.kv.index_to_key
        out = []
        for i, ok, q in zip(chosen.tolist(), trusted, block, strict=True):
            if not ok:
                self.rechecks += 1
                out.append(self._decide_exactly(q))
            elif i < 0:
                out.append(None)
            else:
                out.append(keys[i].upper() if self.case_insensitive else keys[i])
        return out

    def _choose(self, idx: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """gensim's answer among each question's candidates: ``(row or -1, its position)``.

        gensim takes the top (5 + inputs) words, drops the inputs, keeps the first 5, and
        answers with the first of those whose case-folded key is not a question word, else with
        the last one. Every candidate's key is in gensim's table (candidates are among its first
        ``limit`` words), and a key equals a question word exactly when its table rows are equal.
        """
        a, b, c = idx[:, 0:1], idx[:, 1:2], idx[:, 2:3]
        if self.method == METHOD_3COSMUL:  # most_similar_cosmul counts distinct inputs
            excluded = 1 + (b != a) + ((c != a) & (c != b))
        else:
            excluded = idx.shape[1]
        window = np.arange(cand.shape[1]) < TOPN + excluded
        listed = window & (cand >= 0) & (cand != a) & (cand != b) & (cand != c)
        folded = self.folded[np.maximum(cand, 0)]
        fresh = (folded != a) & (folded != b) & (folded != c)
        answer = listed & (fresh | (np.cumsum(listed, axis=1) == TOPN))
        last = cand.shape[1] - 1 - np.argmax(listed[:, ::-1], axis=1)
        decisive = np.where(answer.any(axis=1), np.argmax(answer, axis=1), last)
        some = listed.any(axis=1)
        decisive[~some] = 0
        chosen = np.where(some, cand[np.arange(len(cand)), decisive], -1)
        return chosen, decisive

    def _candidates(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top candidates of each question (a, b, c indices) over the first ``limit`` words.

        Per vocabulary chunk, one dense product gives the cosines of the chunk's words with
        each distinct question word, and three of those rows are combined per question:
        3CosAdd ``(cos_b + cos_c - cos_a) / |u_b + u_c - u_a|`` (the cosine with gensim's
        normalised mean); 3CosMul ``log p_b + log p_c - log(p_a + 1e-6)`` with
        ``p = (1 + cos) / 2``, the logarithm of gensim's score (same order), exponentiated at
        the end. A vocabulary that fits in one chunk is combined with three row gathers and
        its best columns picked at once; larger ones go through a sparse product per chunk
        and a running :class:`TopK`.
        """
        vectors, norms = self.vectors, self.norms
        self._logs = None
        words, where = np.unique(idx, return_inverse=True)
        wa, wb, wc = where.reshape(idx.shape).T
        n_q, n_w = len(idx), len(words)
        with np.errstate(divide="ignore", invalid="ignore"):
            units = (vectors[words] / norms[words][:, None]).astype(np.float32)
            length = np.linalg.norm(units[wb] + units[wc] - units[wa], axis=1)
            self._inverse_length = (1 / np.where(length > 0, length, 1)).astype(np.float32)
        m = min(_CANDIDATES, self.limit)
        step = chunk_rows(n_q)
        if self.limit <= step:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                cosines = self._chunk(units, 0, self.limit)
                scores = self._combine(cosines, wa, wb, wc)
            if self.method == METHOD_3COSMUL:
                self._logs = (cosines, wa, wb, wc)
            index, score = top_columns(scores, m)
            return index, (np.exp(score) if self.method == METHOD_3COSMUL else score)
        rows = np.tile(np.arange(n_q), 3)
        if self.method == METHOD_3COSADD:
            il = self._inverse_length
            weights, columns, width = np.concatenate([il, il, -il]), np.concatenate([wb, wc, wa]), n_w
        else:
            weights = np.repeat(np.float32([1, 1, -1]), n_q)
            columns, width = np.concatenate([wb, wc, n_w + wa]), 2 * n_w
        combine = sparse.csr_matrix((weights, (rows, columns)), shape=(n_q, width), dtype=np.float32)
        topk = TopK(n_q, m)
        first = min(step, 1024)  # a small first chunk sets each question's bar early
        starts = [0, *range(first, self.limit, step)]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for start, stop in zip(starts, [*starts[1:], self.limit], strict=True):
                if start < stop:
                    cosines = self._chunk(units, start, stop)
                    topk.push(start, np.asarray(combine @ cosines, dtype=np.float32))
        index, score = topk.result()
        return index, (np.exp(score) if self.method == METHOD_3COSMUL else score)

    def _chunk(self, units: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Cosines of words ``start…stop`` with ``units``; for 3CosMul, the rows ``log p`` then
        the rows ``log(p + 1e-6)``."""
        cosines = dot_t(units, self.vectors[start:stop])
        cosines *= (1 / self.norms[start:stop]).astype(np.float32)
        if self.method == METHOD_3COSADD:
            return cosines
        n_w = len(units)
        logs = np.empty((2 * n_w, stop - start), dtype=np.float32)
        log_shifted(cosines, logs[:n_w], logs[n_w:])
        return logs

    def _combine(self, cosines: np.ndarray, wa: np.ndarray, wb: np.ndarray, wc: np.ndarray) -> np.ndarray:
        """Each question's scores from its three words' rows of :meth:`_chunk`'s cosines."""
        if self.method == METHOD_3COSADD:
            scores = cosines[wb]
            scores += cosines[wc]
            scores -= cosines[wa]
            scores *= self._inverse_length[:, None]
        else:
            scores = cosines[wb]
            scores += cosines[wc]
            scores -= cosines[len(cosines) // 2 + wa]
        return scores

    def _trusted_prefix(self, idx: np.ndarray, cand: np.ndarray, score: np.ndarray) -> np.ndarray:
        """``[q, j]``: the order of question ``q``'s candidates 0…j+1 is certain (no near tie)."""
        if self.method == METHOD_3COSADD:  # cosines combined, then divided by |u_b + u_c - u_a|
            error = np.repeat(
                _COSINE_ERROR * np.maximum(1, 2 * self._inverse_length)[:, None], score.shape[1], 1
            )
        else:  # 3CosMul multiplies and divides shifted cosines: each error counts relative to it
            safe = np.maximum(cand, 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                if self._logs is not None:  # the whole vocabulary's log p rows are at hand
                    logs, wa, wb, wc = self._logs
                    n_w = len(logs) // 2
                    pick = [logs[n_w + wa[:, None], safe], logs[wb[:, None], safe], logs[wc[:, None], safe]]
                    shifted = np.exp(np.stack(pick, axis=2))  # questions × m × (a + 1e-6, b, c)
                else:
                    units = self.vectors[idx] / self.norms[idx][..., None]  # questions × 3 × dim
                    rows = self.vectors[safe] / self.norms[safe][..., None]  # questions × m × dim
                    shifted = arithmetic.shifted(np.einsum("qmd,qwd->qmw", rows, units, dtype=np.float64))
                    shifted[:, :, 0] += COSMUL_EPSILON
                error = np.abs(score) * (_COSINE_ERROR / 2 / np.abs(shifted)).sum(axis=2) + _COSINE_ERROR
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(score)
            ok[:, :-1] &= (score[:, :-1] - score[:, 1:]) > error[:, :-1] + error[:, 1:]
        return np.logical_and.accumulate(ok, axis=1)

    def _key(self, index: int) -> str:
        key = self.kv.index_to_key[index]
        return key.upper() if self.case_insensitive else key

    def _decide_exactly(self, q: tuple[str, str, str, str]) -> str | None:
        """One question through gensim's own ``most_similar`` / ``most_similar_cosmul``."""
        shell = self._gensim_shell()
        a, b, c, _expected = q
        if self.method == METHOD_3COSADD:
            sims = shell.most_similar(positive=[b, c], negative=[a], topn=TOPN, restrict_vocab=self.limit)
        else:
            sims = shell.most_similar_cosmul(positive=[b, c], negative=[a], topn=TOPN)
        predicted = None
        for word, _sim in sims:
            predicted = word.upper() if self.case_insensitive else word
            if predicted in self.table and predicted not in {a, b, c}:
                break
        return predicted

    def _gensim_shell(self) -> KeyedVectors:
        """A private ``KeyedVectors`` over the same arrays, keyed like gensim's evaluation.

        gensim swaps ``key_to_index`` on the model itself while it evaluates; a shell keeps
        the shared model untouched for concurrent queries. 3CosMul's shell holds only the
        first ``limit`` words (views, not copies).
        """
        if self._shell is None:
            n = len(self.kv.index_to_key) if self.method == METHOD_3COSADD else self.limit
            shell = KeyedVectors(self.kv.vector_size, count=0, dtype=self.vectors.dtype)
            shell.vectors = self.vectors[:n]
            shell.norms = self.norms[:n]
            shell.index_to_key = self.kv.index_to_key[:n]
            shell.key_to_index = self.table
            self._shell = shell
        return self._shell
