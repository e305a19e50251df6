"""Bad input never breaks the server: property-based fuzzing of every route, response headers,
and vocabulary words that look like markup or control characters.

Requests go through TensorBoard's own WSGI application (``TensorBoardWSGI``) wrapping the real
plugin over the real logdir fixture, via ``werkzeug.test.Client``, so every layer that a browser's
request crosses (routing, query-string decoding, the plugin, gensim) is the real one.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from urllib.parse import quote

import numpy as np
import pytest
from fixtures import make_client
from gensim.models import KeyedVectors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PREFIX = "/data/plugin/word2vec"
REQUESTS_PER_ROUTE = 500  # × every route (10 today) ≥ 5,000 requests in all
# Every parameter name any route reads, plus names no route knows.
PARAM_NAMES = (
    "run",
    "model",
    "step",
    "word",
    "k",
    "restrict_vocab",
    "expr",
    "positive",
    "negative",
    "method",
    "a",
    "b",
    "prefix",
    "offset",
    "limit",
    "n",
    "part",
    "benchmark",
    "wait",
    "run2",
    "model2",
    "step2",
    "scope",
    "words",
    "dataset",
    "format",
    "run[]",
    "",
)
NASTY = (
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "a\tb",
    "line\nbreak",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "&amp;&lt;",
    "\u202eevil\u202c",
    "\u05e9\u05dc\u05d5\u05dd",
    "مرحبا",
    "🙂",
    "👨\u200d👩\u200d👧",
    "\ufeff",
    "\\",
    "'",
    '"',
    "%",
    "%00",
    "../..",
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\windows",
    ".",
    "-1",
    "-0",
    "0",
    "1e309",
    "NaN",
    "inf",
    "-inf",
    "0x10",
    "1_000",
    "٣",
    "9" * 400,
    "-" + "9" * 400,
    "9" * 5000,
    "x" * 1001,
    "x" * 100_000,
    "king - man + woman",
    "- - -",
    "+",
    "3cosmul",
    "3COSADD",
    "true",
)


@pytest.fixture(scope="module")
def app(logdir, tmp_path_factory):
    client, plugin = make_client(logdir, cache_dir=str(tmp_path_factory.mktemp("cache")))
    listing = client.get(f"{PREFIX}/models").json["models"]
    words: dict[tuple[str, str], list[str]] = {}
    for row in listing:
        r = client.get(
            f"{PREFIX}/vocab", query_string={"run": row["run"], "model": row["model"], "limit": 20}
        )
        words[(row["run"], row["model"])] = (
            [w["word"] for w in r.json["words"]] if r.status_code == 200 else []
        )
    return plugin, client, words


def _value(draw, words: list[str]) -> str:
    """One percent-encoded parameter value."""
    kind = draw(st.integers(0, 6))
    if kind == 0 and words:
        text = draw(st.sampled_from(words))
    elif kind == 1:
        text = draw(st.sampled_from(NASTY))
    elif kind == 2:
        text = str(draw(st.integers(-(2**80), 2**80)))
    elif kind == 3:
        text = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
    elif kind == 4:  # bytes that are not UTF-8, percent-encoded
        raw = draw(st.binary(min_size=1, max_size=12))
        return "".join(f"%{b:02X}" for b in raw)
    elif kind == 5 and words:  # several real words as an expression
        picked = draw(st.lists(st.sampled_from(words), min_size=1, max_size=4))
        text = draw(st.sampled_from([" - ", " + ", "-", " "])).join(picked)
    else:
        text = draw(st.sampled_from(NASTY)) + draw(st.sampled_from(words or ["x"]))
    return quote(text, safe="")


# What each route reads when asked properly: (name, kind, how many times).
ROUTE_PARAMS = {
    "/neighbors": [("word", "word", 1), ("k", "int", 1), ("restrict_vocab", "int", 1)],
    "/analogy": [
        ("positive", "word", 2),
        ("negative", "word", 1),
        ("expr", "expr", 1),
        ("k", "int", 1),
        ("method", "method", 1),
        ("restrict_vocab", "int", 1),
    ],
    "/similarity": [("a", "word", 1), ("b", "word", 1)],
    "/doesnt_match": [("word", "word", 3)],
    "/vocab": [("prefix", "prefix", 1), ("offset", "int", 1), ("limit", "int", 1)],
    "/vector": [("word", "word", 1)],
    "/project": [("word", "word", 4)],
    "/export_tsv": [("word", "word", 1), ("n", "int", 1), ("part", "part", 1)],
    "/export_projector": [("word", "word", 1), ("n", "int", 1)],
    "/evaluate": [
        ("benchmark", "benchmark", 1),
        ("method", "method", 1),
        ("restrict_vocab", "int", 1),
        ("wait", "wait", 1),
    ],
    "/evaluate/cancel": [
        ("benchmark", "benchmark", 1),
        ("method", "method", 1),
        ("restrict_vocab", "int", 1),
    ],
    "/compare": [
        ("model2", "model2", 1),
        ("word", "word", 3),
        ("n", "int", 1),
        ("k", "int", 1),
        ("scope", "scope", 1),
    ],
    "/drift": [
        ("model2", "model2", 1),
        ("step2", "int", 1),
        ("anchors", "int", 1),
        ("restrict_vocab", "int", 1),
        ("top", "int", 1),
        ("word", "word", 2),
    ],
    "/trajectory": [("word", "word", 1), ("k", "int", 1)],
    "/axes": [
        ("x", "expr", 1),
        ("y", "expr", 1),
        ("word", "word", 3),
        ("neighbors_of", "word", 1),
        ("k", "int", 1),
    ],
    "/weat": [
        ("test", "weat_test", 1),
        ("x", "word", 3),
        ("y", "word", 3),
        ("a", "word", 3),
        ("b", "word", 3),
        ("wait", "wait", 1),
    ],
}


# Second models for /compare (names in the logdir fixture's runs, some in another run or none).
MODEL2 = ("w2v.model", "vectors.kv", "vectors.bin", "fasttext.model", "lee", "nope")

# What becomes of each parameter of a proper request (Hypothesis shrinks towards the first).
FATES = ("kept",) * 14 + ("hostile", "hostile", "missing", "repeated")


def _good(draw, kind: str, vocab: list[str]) -> str:
    if kind == "word" and vocab:
        return quote(draw(st.sampled_from(vocab)), safe="")
    if kind == "int":
        return str(draw(st.integers(1, 60)))
    if kind == "benchmark":
        return draw(st.sampled_from(["wordsim353", "simlex999", "analogies", "", "nope"]))
    if kind == "wait":
        return draw(st.sampled_from(["0", "1"]))
    if kind == "weat_test":
        return draw(st.sampled_from(["weat1", "weat7", "all", "", "weat11"]))
    if kind == "scope":
        return draw(st.sampled_from(["shared", "all", "none"]))
    if kind == "model2":
        return quote(draw(st.sampled_from(MODEL2)), safe="")
    if kind == "part":
        return draw(st.sampled_from(["tensor", "metadata"]))
    if kind == "method":
        return draw(st.sampled_from(["3cosadd", "3cosmul", "3CosMul"]))
    if kind == "prefix" and vocab:
        return quote(draw(st.sampled_from(vocab))[:2], safe="")
    if kind == "expr" and vocab:
        picked = draw(st.lists(st.sampled_from(vocab), min_size=1, max_size=3))
        return quote(" - ".join(picked), safe="")
    return _value(draw, vocab)


@st.composite
def query_strings(draw, route: str, listing: list[tuple[str, str]], words: dict) -> str:
    """A proper request for ``route`` on a real model, then mutated: parameters dropped,
    repeated, replaced by hostile values, and unknown ones added, in any order."""
    run, model = draw(st.sampled_from(listing))
    vocab = words.get((run, model), [])
    wanted = [("run", None, 1), ("model", None, 1), *ROUTE_PARAMS.get(route, [])]
    if route == "/analogy":  # words or an expression; both at once is refused
        drop = draw(st.sampled_from(["expr", "positive"]))
        wanted = [w for w in wanted if w[0] != drop and (drop == "positive" or w[0] != "negative")]
    if run == "training" and draw(st.booleans()):
        wanted.append(("step", "int", 1))
    pairs: list[tuple[str, str]] = []
    for name, kind, times in wanted:
        for _ in range(draw(st.integers(1, times))):
            fate = draw(st.sampled_from(FATES))
            if fate == "missing":
                continue
            if name == "run":
                value = quote(run, safe="")
            elif name == "model":
                value = quote(model, safe="")
            else:
                value = _good(draw, kind, vocab)
            if fate == "hostile":
                value = _value(draw, vocab)
            pairs.append((name, value))
            if fate == "repeated":
                pairs.append((name, _value(draw, vocab)))
    for _ in range(draw(st.integers(0, 2))):
        pairs.append((quote(draw(st.sampled_from(PARAM_NAMES)), safe=""), _value(draw, vocab)))
    order = draw(st.permutations(range(len(pairs))))
    return "&".join(f"{pairs[i][0]}={pairs[i][1]}" for i in order)


@st.composite
def static_paths(draw) -> str:
    parts = draw(
        st.lists(
            st.sampled_from(
                [
                    "..",
                    "%2e%2e",
                    "..%2f..",
                    "%2F",
                    "index.js",
                    ".hidden",
                    "plugin.py",
                    "%00",
                    "a" * 300,
                    "",
                    "~",
                ]
            )
            | st.text(st.characters(blacklist_categories=("Cs",)), max_size=10).map(
                lambda t: quote(t, safe="")
            ),
            max_size=4,
        )
    )
    return "/static/" + "/".join(parts)


def check_response(response, method: str, route: str) -> None:
    """The contract every response keeps, whatever was asked."""
    status = response.status_code
    assert status < 500, f"{route}: {status} {response.get_data(as_text=True)[:500]}"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    content_type = response.headers.get("Content-Type", "")
    is_static = route in ("/index.js", "/static/*")
    if is_static and status == 404 and content_type.startswith("text/plain"):
        # TensorBoard's router drops a trailing slash, so ".../static/" never reaches the plugin.
        assert response.get_data() in (b"Not found", b""), response.get_data()[:200]
        return
    if route == "/export_tsv" and status == 200:
        assert content_type.split(";")[0] == "text/tab-separated-values", content_type
        assert response.headers["Content-Disposition"].startswith("attachment;")
        return
    if status >= 400 or not is_static:
        assert content_type.split(";")[0] == "application/json", content_type
    if method == "HEAD":
        return
    if content_type.startswith("application/json"):
        body = json.loads(response.get_data(as_text=True))
        assert isinstance(body, dict)
        if status >= 400:
            assert isinstance(body.get("error"), str) and body["error"].strip(), body
            assert "internal error" not in body["error"]
        else:
            assert "error" not in body or body["error"] is None


@pytest.mark.slow
def test_every_route_answers_generated_requests_with_json_and_no_5xx(app):
    plugin, client, words = app
    routes = sorted(plugin.get_plugin_apps())
    assert len(routes) * REQUESTS_PER_ROUTE >= 5000
    listing = sorted(words) + [("no-such-run", "nothing"), (".", "x"), ("../lee", "w2v.model")]
    sent: Counter = Counter()
    statuses: Counter = Counter()

    @settings(
        max_examples=REQUESTS_PER_ROUTE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def one_batch(data):
        for route in routes:
            method = data.draw(st.sampled_from(["GET"] * 8 + ["HEAD", "POST"]))
            path = data.draw(static_paths()) if route == "/static/*" else route
            query = data.draw(query_strings(route, listing, words))
            response = client.open(PREFIX + path, method=method, query_string=query)
            sent[route] += 1
            statuses[(route, response.status_code)] += 1
            check_response(response, method, route)

    one_batch()
    assert sum(sent.values()) >= 5000, sent
    assert min(sent.values()) >= REQUESTS_PER_ROUTE, sent
    # The generator must reach both outcomes, or it tests nothing: real answers and refusals.
    ok = sum(n for (_, s), n in statuses.items() if s == 200)
    refused = sum(n for (_, s), n in statuses.items() if 400 <= s < 500)
    assert ok > 1000 and refused > 1000, statuses


def _good_and_bad(run: str, model: str, word: str) -> dict[str, tuple[str, str]]:
    base = f"run={quote(run)}&model={quote(model)}"
    return {
        "/models": ("", "run=x&run=y"),  # run and model name one model's row: given once
        "/neighbors": (f"{base}&word={word}", f"{base}&word={word}&k=-1"),
        "/analogy": (f"{base}&positive={word}", f"{base}&expr=+"),
        "/similarity": (f"{base}&a={word}&b={word}", f"{base}&a={word}"),
        "/doesnt_match": (f"{base}&word={word}&word=of", f"{base}&word={word}"),
        "/vocab": (f"{base}&prefix=t", f"{base}&limit=many"),
        "/vector": (f"{base}&word={word}", f"{base}&word=notaword%C3%A9%F0%9F%99%82"),
        "/project": (f"{base}&word={word}&word=of", f"run=nope&model={quote(model)}&word=x"),
    }


def test_every_route_sends_nosniff_and_the_right_content_type(app):
    plugin, client, _ = app
    cases = _good_and_bad("lee", "w2v.model", "the")
    for route in plugin.get_plugin_apps():
        if route in ("/index.js", "/static/*"):
            for path in ("/index.js", "/static/nothing.css", "/static/..%2f..%2fplugin.py"):
                r = client.get(PREFIX + path)
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                if r.status_code == 200:
                    assert r.headers["Content-Type"].startswith("text/javascript")
                else:
                    assert r.status_code == 404
                    assert r.headers["Content-Type"] == "application/json"
                    assert "error" in r.json
            continue
        if route not in cases:  # a route added later: at least its missing-parameter error
            r = client.get(PREFIX + route, query_string="run=nope&model=nope")
            check_response(r, "GET", route)
            continue
        good, bad = cases[route]
        r = client.get(PREFIX + route, query_string=good)
        assert r.status_code == 200, (route, r.get_data(as_text=True))
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        r = client.get(PREFIX + route, query_string=bad)
        assert r.status_code in (400, 404), (route, r.status_code)
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        check_response(r, "GET", route)
    r = client.post(f"{PREFIX}/neighbors", query_string="run=lee&model=w2v.model&word=the")
    assert r.status_code == 405 and r.headers["Content-Type"] == "application/json"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


# Words a model may well hold (scraped text, tokenizer quirks) that are markup or control characters.
HOSTILE_WORDS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "a\tb",
    "line\nbreak",
    "carriage\rreturn",
    "\u202eevil",
    "שלום",
    "🙂",
    '{"json": true}',
    "back\\slash",
    "&amp;",
    "nul\x00byte",
    "plain",
]


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """A gensim KeyedVectors (native format keeps any string as a key) of hostile words."""
    root = tmp_path_factory.mktemp("hostile")
    run = root / "run"
    os.makedirs(run)
    rng = np.random.default_rng(0)
    kv = KeyedVectors(8)
    kv.add_vectors(HOSTILE_WORDS, rng.normal(size=(len(HOSTILE_WORDS), 8)).astype(np.float32))
    kv.save(str(run / "hostile.kv"))
    return make_client(str(root), cache_dir=str(tmp_path_factory.mktemp("cache")))[0]


def test_vocabulary_words_are_data_in_json(hostile_app):
    r = hostile_app.get(f"{PREFIX}/vocab", query_string={"run": "run", "model": "hostile.kv", "limit": 100})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    body = r.get_data(as_text=True)
    assert "\n" not in body and "\t" not in body and "\r" not in body  # escaped inside JSON strings
    assert [w["word"] for w in json.loads(body)["words"]] == HOSTILE_WORDS
    for word in HOSTILE_WORDS:
        if "\x00" in word:
            continue  # a NUL cannot be sent as a parameter (refused with 400)
        r = hostile_app.get(
            f"{PREFIX}/neighbors", query_string={"run": "run", "model": "hostile.kv", "word": word, "k": 100}
        )
        assert r.status_code == 200, (word, r.json)
        assert r.json["word"] == word
        assert {n["word"] for n in r.json["neighbors"]} == set(HOSTILE_WORDS) - {word}
    r = hostile_app.get(
        f"{PREFIX}/neighbors", query_string={"run": "run", "model": "hostile.kv", "word": "<b>x"}
    )
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/json"
    assert r.json["word"] == "<b>x"


def test_vocabulary_words_are_data_in_tsv_exports(hostile_app):
    """The Projector reads one label a line and one cell a tab: a word can never add either."""
    query = {"run": "run", "model": "hostile.kv", "word": "plain", "n": len(HOSTILE_WORDS) - 1}
    r = hostile_app.get(f"{PREFIX}/export_tsv", query_string={**query, "part": "metadata"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith("text/tab-separated-values")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    lines = r.get_data(as_text=True).split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(HOSTILE_WORDS)
    assert all("\t" not in line and "\r" not in line and line.strip() for line in lines[:-1])
    assert lines[0] == "plain" and "<script>alert(1)</script>" in lines
    tensor = hostile_app.get(f"{PREFIX}/export_tsv", query_string={**query, "part": "tensor"})
    rows = tensor.get_data(as_text=True).rstrip("\n").split("\n")
    assert len(rows) == len(HOSTILE_WORDS) and all(len(row.split("\t")) == 8 for row in rows)
