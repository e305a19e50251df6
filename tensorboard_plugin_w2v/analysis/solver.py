"""The analogy solver of the evaluation: gensim's answers, many questions per matrix product.

Candidates are found with float32 matrix products over chunks of the vocabulary. When the
order that decides a question is closer than rounding error could explain (a near or exact
tie), that one question is solved again with gensim's own ``most_similar`` /
``most_similar_cosmul`` on the same arrays, so ties break exactly as gensim breaks them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from gensim.models import KeyedVectors

from tensorboard_plugin_w2v.analysis import arithmetic
from tensorboard_plugin_w2v.analysis.arithmetic import (
    COSMUL_EPSILON,
    METHOD_3COSADD,
    METHOD_3COSMUL,
    log_shifted,
)
from tensorboard_plugin_w2v.models.norms import model_norms
from tensorboard_plugin_w2v.search.topk import chunk_rows, dot_t, merge_sparse, top_columns

TOPN = 5  # gensim's evaluate_word_analogies asks most_similar for 5 words
_CANDIDATES = 10  # kept per question: gensim's 5 + 3 inputs, plus the next ones to detect ties
# Largest difference between a float32 cosine from one matrix product and gensim's own float32
# cosine for the same pair is about 1e-6 (measured: 9e-7); gaps below twice this bound on
# each side are treated as possible ties.
_COSINE_ERROR = 2e-6
_THREADS = 2  # threads scanning vocabulary chunks (the machines this serves have a few cores)


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

    def solve(
        self,
        idx: np.ndarray,
        block: list[tuple[str, str, str, str]],
        groups: np.ndarray | None = None,
        report: Callable[[float], None] | None = None,
    ) -> list[str | None]:
        """Predictions for questions ``block`` whose a, b, c words have model indices ``idx``.

        ``groups`` (the questions' sections) says which questions share their ``c`` words,
        for the bound that skips most of the vocabulary; ``report`` is told the fraction of
        the vocabulary scanned (it may raise to stop the scan).
        """
        groups = np.zeros(len(idx), dtype=np.int64) if groups is None else groups
        # A question asked twice (in two sections, say) is solved once.
        distinct, first, back = np.unique(idx, axis=0, return_index=True, return_inverse=True)
        back = back.reshape(-1)
        cand_index, cand_score, unsure = self._candidates(distinct, groups[first], report or (lambda f: None))
        cand_index, cand_score, unsure = cand_index[back], cand_score[back], unsure[back]
        self._inverse_length = self._inverse_length[back]
        if self._logs is not None:
            rows, wa, wb, wc = self._logs
            self._logs = (rows, wa[back], wb[back], wc[back])
        trusted_upto = self._trusted_prefix(idx, cand_index, cand_score)
        chosen, decisive = self._choose(idx, cand_index)
        trusted = trusted_upto[np.arange(len(idx)), decisive] & ~unsure
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

    def _candidates(
        self, idx: np.ndarray, groups: np.ndarray, report: Callable[[float], None]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top candidates of each question (a, b, c indices) over the first ``limit`` words,
        and which questions must be solved by gensim (too few finite scores to prune with).

        A question's score is ``(s_b - s_a) + s_c`` per word, from the rows ``s`` of
        :meth:`_chunk`: 3CosAdd's cosines (the cosine with gensim's normalised mean, times
        ``|u_b + u_c - u_a|``, a per-question constant applied at the end), or 3CosMul's
        ``log p_b - log(p_a + 1e-6) + log p_c`` (the logarithm of gensim's score, exponentiated
        at the end). The first chunk of the vocabulary is ranked for every question; its
        ``m``-th best score is the question's bar. Later chunks are scored section by section
        (see :class:`_Scan`), and only the questions whose best score in the chunk reaches
        their bar look at the chunk's words one by one.
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
        minus = wa if self.method == METHOD_3COSADD else n_w + wa  # 3CosMul: the log(p + 1e-6) rows
        # Question pairs (section, a, b), numbered in section order: a section's pairs are adjacent.
        _, section = np.unique(groups, return_inverse=True)
        pairs, pair_of = np.unique(np.stack([section.reshape(-1), wb, minus]), axis=1, return_inverse=True)
        pair_of = pair_of.reshape(-1)
        pair_group, pb, pm = pairs
        m = min(_CANDIDATES, self.limit)
        width = max(256, chunk_rows(n_w) // 4)  # vocabulary words per step (n_w × width cosines)
        first = min(self.limit, width)
        # Both steps run on a few threads (numpy releases the GIL in its loops).
        with ThreadPoolExecutor(_THREADS, thread_name_prefix="w2v-analogies") as pool:
            index, score, rows = self._rank_first(pool, units, (pair_of, pb, pm, wc), first, m)
            if first == self.limit and self.method == METHOD_3COSMUL:
                self._logs = (rows, wa, wb, wc)
            unsure = np.zeros(n_q, dtype=bool)
            if first < self.limit:
                unsure = ~np.isfinite(score[:, -1])  # fewer than m finite scores to prune with: gensim decides
                scan = _Scan(pair_of, pair_group, wc)
                bar = np.where(unsure, np.inf, score[:, -1])  # the scan raises the bars it reads
                self._scan(pool, scan, units, pairs[1:], (first, width), (index, score, bar), report)
        report(1.0)
        if self.method == METHOD_3COSMUL:
            with np.errstate(over="ignore"):
                return index, np.exp(score), unsure
        return index, score * self._inverse_length[:, None], unsure

    def _rank_first(self, pool, units: np.ndarray, questions: tuple, first: int, m: int):
        """``(index, score, rows)``: every question's best ``m`` of the first ``first`` words,
        a block of questions per task, and those words' rows (:meth:`_chunk`)."""
        pair_of, pb, pm, wc = questions
        n_q = len(pair_of)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            rows = self._chunk(units, 0, first)
            diff = rows[pb] - rows[pm]
            index = np.empty((n_q, m), dtype=np.int64)
            score = np.empty((n_q, m), dtype=np.float32)

        def rank(q: int) -> None:  # one block of questions
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                block = slice(q, q + chunk_rows(first))
                scores = diff[pair_of[block]]
                scores += rows[wc[block]]
                index[block], score[block] = top_columns(scores, m)

        list(pool.map(rank, range(0, n_q, chunk_rows(first))))
        return index, score, rows

    def _scan(self, pool, scan: _Scan, units: np.ndarray, pairs: np.ndarray, steps: tuple[int, int], best, report):
        """Chunks ``first + i·width …`` of the vocabulary through ``scan`` on ``pool``'s threads,
        merged into ``best`` (each question's candidates, scores and bar, updated in place) in
        order."""
        (pb, pm), (first, width), (index, score, bar) = pairs, steps, best

        def scan_chunk(start: int):
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                rows = self._chunk(units, start, min(start + width, self.limit))
                diff = rows[pb] - rows[pm]
                # Bars read while other chunks merge are at most the final ones: still bars.
                return scan.hits(rows, diff, bar.copy(), (start - first) // width)

        pending: deque = deque()
        try:
            for start in range(first, self.limit, width):
                pending.append((start, pool.submit(scan_chunk, start)))
                while len(pending) > 2 * _THREADS or (pending and start + width >= self.limit):
                    done_start, future = pending.popleft()
                    hits = future.result()
                    if hits is not None:
                        question, word, value = hits
                        merge_sparse(index, score, question, word + done_start, value)
                        bar[question] = np.maximum(bar[question], score[question, -1])
                    report(min(done_start + width, self.limit) / self.limit)
        finally:
            for _, future in pending:
                future.cancel()

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
            keys = self.kv.index_to_key  # a cached vocabulary's WordList makes a slice word by word
            shell.index_to_key = keys if n == len(keys) else keys[:n]
            shell.key_to_index = self.table
            self._shell = shell
        return self._shell


class _Scan:
    """Scores of a vocabulary chunk for every question, section by section, kept only where
    they reach the question's bar.

    A section's questions pair an (a, b) pair ``p`` with a ``c`` word; their scores are
    ``d_p + s_c``. Where the questions fill most of the pairs × ``c`` grid (the Google set:
    every pair with every other pair's first word), a block of pairs is scored by one
    broadcast sum; otherwise each question's rows are gathered. One comparison with each
    question's bar then finds the words that reach it.

    Before that, the words of the chunk that no question of the section can take are dropped:
    ``d_p + max_c s_c`` bounds the scores of pair ``p``'s questions and ``s_c + max_p d_p``
    those of ``c``'s (float addition is monotonic), so a word stays only if some pair's and
    some ``c``'s bound reach their questions' lowest bar. In the rare words of a large
    vocabulary that leaves few words; a section where it leaves most is scored whole.
    """

    _CELLS = 1 << 18  # scores per step: they stay in the CPU cache between the sum and the maximum

    def __init__(self, pair_of: np.ndarray, pair_group: np.ndarray, wc: np.ndarray):
        self.sections = []
        section_of = pair_group[pair_of]
        for section in np.unique(section_of):
            questions = np.flatnonzero(section_of == section)
            pair_local = pair_of[questions]
            lo = int(pair_local.min())
            pair_local = pair_local - lo
            c_words, c_local = np.unique(wc[questions], return_inverse=True)
            c_local = c_local.reshape(-1)
            n_pairs = int(pair_local.max()) + 1  # a section's pairs are numbered consecutively
            grid = None
            if n_pairs * len(c_words) <= 2 * len(questions):
                grid = np.full((n_pairs, len(c_words)), -1, dtype=np.int64)
                grid[pair_local, c_local] = questions
            self.sections.append(
                {
                    "pairs": slice(lo, lo + n_pairs),
                    "c_words": c_words,
                    "questions": questions,
                    "pair_local": pair_local,
                    "c_local": c_local,
                    "grid": grid,
                    "prune": True,
                    "retry": 0,
                }
            )

    def hits(self, rows: np.ndarray, diff: np.ndarray, bar: np.ndarray, chunk: int):
        """``(question, word, score)`` of chunk number ``chunk``'s scores at or above their
        question's ``bar`` (``inf``: never; words numbered from the chunk's start), or None."""
        found = []
        width = rows.shape[1]
        for sec in self.sections:
            if not sec["prune"] and sec["retry"] <= chunk:
                sec["prune"] = True
            d_rows, c_rows = diff[sec["pairs"]], rows[sec["c_words"]]
            grid, questions = sec["grid"], sec["questions"]
            cell_bar = bar[questions]
            columns = None
            if sec["prune"]:
                pair_bar = np.full(len(d_rows), np.inf, dtype=np.float32)
                np.minimum.at(pair_bar, sec["pair_local"], cell_bar)
                c_bar = np.full(len(c_rows), np.inf, dtype=np.float32)
                np.minimum.at(c_bar, sec["c_local"], cell_bar)
                # NaN scores (zero vectors) lose.
                keep = (d_rows + np.fmax.reduce(c_rows, axis=0) >= pair_bar[:, None]).any(axis=0)
                keep &= (c_rows + np.fmax.reduce(d_rows, axis=0) >= c_bar[:, None]).any(axis=0)
                columns = np.flatnonzero(keep)
                if not len(columns):
                    continue
                if len(columns) > width // 2:
                    sec["prune"] = False  # bounds that keep most words are not worth their cost
                    sec["retry"] = chunk + 8
                    columns = None
                else:
                    d_rows, c_rows = d_rows[:, columns], c_rows[:, columns]
            n = d_rows.shape[1]
            if grid is not None:
                cells = np.where(grid >= 0, bar[np.maximum(grid, 0)], np.inf)
                block = max(1, self._CELLS // (n * grid.shape[1]))
                steps = (
                    (
                        (d_rows[i : i + block, None, :] + c_rows[None, :, :]).reshape(-1, n),
                        grid[i : i + block].ravel(),
                        cells[i : i + block].ravel(),
                    )
                    for i in range(0, len(grid), block)
                )
            else:
                scores = d_rows[sec["pair_local"]]
                scores += c_rows[sec["c_local"]]
                steps = [(scores, questions, cell_bar)]
            for scores, question, limit in steps:
                # One comparison and one flat search (NaN fails it): on data whose bars stay low
                # (many hits per step) gathering the rows that reach them first cost 4× this.
                flat = np.flatnonzero(scores >= limit[:, None])
                if len(flat):
                    cell, word = np.divmod(flat, n)
                    value = scores.ravel()[flat]
                    found.append((question[cell], word if columns is None else columns[word], value))
        if not found:
            return None
        question, word, score = (np.concatenate(parts) for parts in zip(*found, strict=True))
        return question, word, score
