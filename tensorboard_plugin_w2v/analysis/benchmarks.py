"""Benchmark files: which exist, what kind each is, and their questions parsed as gensim parses them.

Analogy files hold ``: section`` lines followed by questions of four words
(``questions-words.txt``); pair files hold tab-separated word pairs with a human score
(``wordsim353.tsv``). Parsed files are kept per file version, so a server parses each one once.
"""

from __future__ import annotations

import io
import itertools
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tensorboard_plugin_w2v.errors import BenchmarkError, NotFound
from tensorboard_plugin_w2v.io import fileio

logger = logging.getLogger(__name__)

KIND_ANALOGIES = "analogies"
KIND_PAIRS = "pairs"
DEFAULT_RESTRICT_VOCAB = 300_000  # gensim's default: evaluations use the most frequent words only
SOURCE_BUILTIN = "builtin"
SOURCE_FILE = "file"

# Built-in benchmarks: the files shipped inside the gensim wheel.
BUILTINS = {
    "analogies": (KIND_ANALOGIES, "questions-words.txt"),
    "wordsim353": (KIND_PAIRS, "wordsim353.tsv"),
    "simlex999": (KIND_PAIRS, "simlex999.txt"),
}


@dataclass(frozen=True)
class Benchmark:
    """A benchmark file: ``kind`` is ``"analogies"`` or ``"pairs"``."""

    name: str
    kind: str
    path: str
    source: str = SOURCE_BUILTIN

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "source": self.source}


def builtin(name: str) -> Benchmark:
    """One of :data:`BUILTINS` (``analogies``, ``wordsim353``, ``simlex999``)."""
    if name not in BUILTINS:
        raise NotFound(f"unknown benchmark {name!r}", known_benchmarks=sorted(BUILTINS))
    from gensim.test.utils import datapath

    kind, filename = BUILTINS[name]
    return Benchmark(name, kind, datapath(filename), SOURCE_BUILTIN)


def benchmark_file(path: str, name: str | None = None, source: str = SOURCE_FILE) -> Benchmark:
    """A user's benchmark file; its kind is read from its content.

    A file with ``: section`` lines holds analogies (``questions-words.txt`` format); any other
    file holds tab-separated word pairs with a score (``wordsim353.tsv`` format).
    """
    try:
        head = fileio.read_head(path, 1 << 16)
    except FileNotFoundError:
        raise BenchmarkError(f"benchmark file not found: {path}") from None
    except OSError as exc:
        raise BenchmarkError(f"cannot read benchmark file {path}: {exc.strerror or exc}") from None
    kind = KIND_PAIRS
    for line in head.split(b"\n"):
        if line.startswith(b": "):
            kind = KIND_ANALOGIES
            break
        if line.strip() and not line.startswith(b"#"):
            break
    return Benchmark(name or path.replace("\\", "/").rsplit("/", 1)[-1], kind, path, source)


def find_benchmarks(folders: Sequence[tuple[str, str]]) -> dict[str, Benchmark]:
    """Built-in benchmarks plus the files in ``folders`` (``(folder, source)`` pairs, later wins).

    File benchmarks are named by their file name, e.g. ``my_questions.txt``.
    """
    found = {name: builtin(name) for name in BUILTINS}
    for folder, source in folders:
        if not fileio.isdir(folder):
            continue
        for _dir, _subdirs, files in fileio.walk(folder):
            for name in sorted(files):
                if not name.startswith(".") and name not in BUILTINS:
                    try:
                        found[name] = benchmark_file(fileio.join(folder, name), name, source)
                    except BenchmarkError as exc:  # one unreadable file must not hide the others
                        logger.warning("skipping benchmark %s: %s", name, exc.message)
            break
    return found


def section_category(name: str) -> str:
    """``syntactic`` for the Google set's ``gram*`` sections, else ``semantic``."""
    return "syntactic" if name.lower().startswith("gram") else "semantic"


@dataclass(frozen=True)
class AnalogyFile:
    """A parsed analogy file: question ``q`` is ``words[ids[q]]`` in section ``sections[section_of[q]]``."""

    sections: tuple[str, ...]
    words: tuple[str, ...]
    ids: np.ndarray
    section_of: np.ndarray

    def question(self, q: int) -> tuple[str, str, str, str]:
        a, b, c, d = self.ids[q]
        return self.words[a], self.words[b], self.words[c], self.words[d]


@dataclass(frozen=True)
class PairSet:
    pairs: tuple[tuple[str, str, float], ...]


def _read_bytes(path: str) -> bytes:
    try:
        with fileio.open_binary(path) as f:
            return f.read()
    except FileNotFoundError:
        raise BenchmarkError(f"benchmark file not found: {path}") from None
    except OSError as exc:
        raise BenchmarkError(f"cannot read benchmark file {path}: {exc.strerror or exc}") from None


def _identity(path: str) -> fileio.FileIdentity:
    try:
        return fileio.stat(path)
    except FileNotFoundError:
        raise BenchmarkError(f"benchmark file not found: {path}") from None
    except OSError as exc:
        raise BenchmarkError(f"cannot read benchmark file {path}: {exc.strerror or exc}") from None


def read_analogies(path: str, case_insensitive: bool = True) -> AnalogyFile:
    """An analogy file parsed as gensim parses it (lines not of 4 words are skipped).

    >>> read_analogies(builtin("analogies").path).sections[:2]
    ('capital-common-countries', 'capital-world')
    """
    return _read_analogies_cached(_identity(path), case_insensitive)


@lru_cache(maxsize=32)
def _read_analogies_cached(identity: fileio.FileIdentity, case_insensitive: bool) -> AnalogyFile:
    data = _read_bytes(identity.path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        raise BenchmarkError(f"{identity.path}: line {line_no} is not valid UTF-8") from None
    return _parse_analogies(text, case_insensitive, identity.path)


def _parse_analogies(text: str, case_insensitive: bool, path: str) -> AnalogyFile:
    """gensim's reading of an analogy file, a whole file per call rather than a line per step.

    Lines are the pieces between ``\n`` (gensim reads the file in binary mode); a line starting
    with ``": "`` opens a section; any other line before the first section is an error (except
    the empty piece after a final newline); lines of other than 4 words are skipped.
    """
    starts = [0] if text.startswith(": ") else []
    at = text.find("\n: ")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\n: ", at + 1)
    headers, sections, line_no = [], [], 0
    for before, at in itertools.pairwise([0, *starts]):
        line_no += text.count("\n", before, at)
        end = text.find("\n", at)
        headers.append(line_no)
        sections.append(text[at : end if end >= 0 else None].lstrip(": ").strip())
    # Upper-casing the whole text equals upper-casing each word: no character upper-cases to
    # white space or to a line break, so line numbers are those of the original text.
    folded = text.upper() if case_insensitive else text
    if folded.isascii():  # one split of the whole text; words per line counted in numpy
        words, per_line = folded.split(), _words_per_line(folded)
    else:
        parts = [line.split() for line in folded.split("\n")]
        words = list(itertools.chain.from_iterable(parts))
        per_line = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    if not headers or headers[0] > 0:
        if not headers and len(per_line) == 1 and not per_line[0]:
            raise BenchmarkError(f"{path}: no ': section' lines; not an analogy file")
        raise BenchmarkError(f"{path}: missing ': section' header before line 1")
    question = per_line == 4  # gensim skips lines of other lengths
    question[headers] = False
    flat = itertools.compress(words, np.repeat(question, per_line).tolist())
    index: defaultdict[str, int] = defaultdict(itertools.count().__next__)  # word → first-seen number
    ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int64).reshape(-1, 4)
    return AnalogyFile(
        tuple(sections),
        tuple(index),
        np.asfortranarray(ids),  # a column per word of the questions: cheap column lookups
        np.searchsorted(headers, np.flatnonzero(question)) - 1,
    )


def _words_per_line(ascii_text: str) -> np.ndarray:
    """How many words ``line.split()`` finds on each line of ``ascii_text.split("\\n")``."""
    chars = np.frombuffer(ascii_text.encode("ascii"), dtype=np.uint8)
    # str.split()'s white space in ASCII: 9-13 and 28-32 (uint8 arithmetic wraps below 0).
    space = ((chars - np.uint8(9)) <= 4) | ((chars - np.uint8(28)) <= 4)
    starts = np.flatnonzero(~space[1:] & space[:-1]) + 1  # where words begin
    if len(chars) and not space[0]:
        starts = np.concatenate(([0], starts))
    before_break = np.searchsorted(starts, np.flatnonzero(chars == 10))  # words before each "\\n"
    return np.diff(before_break, prepend=0, append=len(starts))


def read_pairs(path: str, case_insensitive: bool = True, delimiter: str = "\t") -> PairSet:
    """Word pairs with a human score, parsed as gensim parses them (``#`` lines are comments)."""
    return _read_pairs_cached(_identity(path), case_insensitive, delimiter)


@lru_cache(maxsize=32)
def _read_pairs_cached(identity: fileio.FileIdentity, case_insensitive: bool, delimiter: str) -> PairSet:
    try:
        text = _read_bytes(identity.path).decode("utf-8")
    except UnicodeDecodeError:
        raise BenchmarkError(f"{identity.path}: the file is not valid UTF-8") from None
    pairs = []
    for line in io.StringIO(text, newline=None):
        if not line or line.startswith("#"):
            continue
        parts = line.split(delimiter)
        if len(parts) != 3:
            continue
        a, b, score = (p.upper() for p in parts) if case_insensitive else parts
        try:
            value = float(score)
        except ValueError:
            continue
        pairs.append((a, b, value))
    return PairSet(tuple(pairs))
