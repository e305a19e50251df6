"""The Drift, Axes and Bias views in headless Chromium, against a real TensorBoard.

The figures the tab shows are checked against the plugin's own answers (/drift, /trajectory,
/axes, /weat; themselves checked against scipy and the definitions in tests/test_alignment.py,
test_axes.py and test_weat.py) on a logdir of real gensim models, and every view is reopened
from its URL.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import quote, urlencode

import numpy as np
import pytest

from tests.e2e.conftest import TensorBoard

pytestmark = pytest.mark.browser

ENTRY = "/data/plugin_entry.html?name=word2vec"
MOVED = ["government", "police", "Sydney"]
XSS = "<img src=x onerror=window.__xss=1>"


@pytest.fixture(scope="module")
def analysis_tb(chromium_path, built_bundle, workdir):
    """A TensorBoard on its own logdir: two seeds and a rotated copy with moved words, a
    training run logged with snapshots, and a model trained on gensim's Wikipedia sample."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from analysis_fixtures import rotated, wiki_word2vec
    from fixtures import train_word2vec

    from tensorboard_plugin_w2v.writers.summary import TrainingLogger

    logdir = os.path.join(workdir, "analysis-logs")
    seeds = os.path.join(logdir, "seeds")
    os.makedirs(seeds)
    a = train_word2vec(seed=1, epochs=10)
    a.save(os.path.join(seeds, "a.model"))
    train_word2vec(seed=2, epochs=10).save(os.path.join(seeds, "b.model"))
    moved, _rotation = rotated(a.wv, MOVED)
    moved.save(os.path.join(seeds, "moved.kv"))
    logger = TrainingLogger(os.path.join(logdir, "training"), name="lee", snapshot_every=1, log_loss=False)
    train_word2vec(seed=5, epochs=4, callbacks=[logger])
    os.makedirs(os.path.join(logdir, "wiki"))
    wiki_word2vec().save(os.path.join(logdir, "wiki", "w2v.model"))
    tb = TensorBoard(logdir, workdir)
    yield tb
    tb.stop()


def open_tab(page, tb, state: dict | str):
    query = state if isinstance(state, str) else urlencode(state, quote_via=quote)
    page.goto("about:blank")
    page.goto(f"{tb.url}{ENTRY}#{query}")
    page.wait_for_selector("[data-testid=picker] select", state="attached")
    return page


def hash_state(page) -> str:
    return page.evaluate("decodeURIComponent(location.hash)")


def test_drift_view_lists_the_moved_words(page, analysis_tb, screenshot):
    open_tab(
        page,
        analysis_tb,
        {"run": "seeds", "model": "a.model", "mode": "drift", "d2": "seeds|moved.kv|", "dtop": 5},
    )
    most = page.get_by_test_id("drift-most").locator("li")
    most.first.wait_for(timeout=60_000)
    expected = analysis_tb.get_json("/drift?run=seeds&model=a.model&model2=moved.kv&top=5")
    got = most.evaluate_all("items => items.map(li => [li.dataset.word, Number(li.dataset.drift)])")
    assert [w for w, _ in got] == [r["word"] for r in expected["most_changed"]]
    assert {w for w, _ in got[:3]} == set(MOVED)
    np.testing.assert_allclose([d for _, d in got], [r["drift"] for r in expected["most_changed"]], rtol=1e-6)
    least = page.get_by_test_id("drift-least").locator("li")
    assert least.count() == 5 and float(least.first.get_attribute("data-drift")) < 0.01
    assert page.get_by_test_id("drift-shared").inner_text() == f"{expected['shared']:,}"

    # Click a moved word: its drift and rank (1-3), and no trajectory for a model without steps.
    most.first.locator("button").click()
    asked = page.get_by_test_id("drift-asked")
    asked.wait_for()
    assert int(asked.get_attribute("data-rank")) == 1
    assert page.get_by_test_id("trajectory-none").is_visible()
    state = hash_state(page)
    assert "mode=drift" in state and "d2=seeds|moved.kv|" in state and f"dword={got[0][0]}" in state

    # Another model B through the picker: the lists follow.
    page.get_by_test_id("dr-model").select_option("b.model")
    page.get_by_test_id("run-drift").click()
    page.wait_for_function(
        "w => { const li = document.querySelector('[data-testid=drift-most] li'); return li && li.dataset.word !== w; }",
        arg=got[0][0],
        timeout=60_000,
    )
    other = analysis_tb.get_json("/drift?run=seeds&model=a.model&model2=b.model&top=5")
    assert most.first.get_attribute("data-word") == other["most_changed"][0]["word"]
    assert "d2=seeds|b.model|" in hash_state(page)

    # A word missing from the models: the plugin's message.
    page.get_by_test_id("drift-word").fill("Qwxzzy")
    page.get_by_test_id("run-trajectory").click()
    page.get_by_test_id("drift-results").get_by_test_id("error").wait_for()
    assert "Qwxzzy" in page.get_by_test_id("drift-results").get_by_test_id("error").inner_text()
    screenshot(page, "drift")


def test_trajectory_over_training_steps(page, analysis_tb, screenshot):
    state = {"run": "training", "model": "lee", "mode": "drift", "d2": "training|lee|1", "dword": "police"}
    open_tab(page, analysis_tb, state)
    table = page.get_by_test_id("trajectory-table")
    table.wait_for(timeout=60_000)
    expected = analysis_tb.get_json("/trajectory?run=training&model=lee&word=police&k=10")
    rows = table.locator("tbody tr")
    assert rows.evaluate_all("rs => rs.map(r => Number(r.dataset.step))") == [1, 2, 3, 4]
    points = page.locator("[data-testid=trajectory-chart] circle.w2v-step-point")
    assert points.count() == 4
    np.testing.assert_allclose(
        points.evaluate_all("ps => ps.map(p => Number(p.dataset.value))"),
        [s["drift"] for s in expected["steps"]],
        rtol=1e-6,
    )
    # The neighbours that came and went between steps, as the route's lists say.
    for i in range(1, 4):
        before = [n["word"] for n in expected["steps"][i - 1]["neighbors"]]
        now = [n["word"] for n in expected["steps"][i]["neighbors"]]
        chips = rows.nth(i).get_by_test_id("trajectory-changes").locator("span").all_inner_texts()
        assert chips == [f"+ {w}" for w in now if w not in before] + [
            f"− {w}" for w in before if w not in now
        ]
    # The asked word's drift between step 4 (A) and step 1 (B), as /drift gives it.
    asked = page.get_by_test_id("drift-asked")
    asked.wait_for(timeout=60_000)
    drift = analysis_tb.get_json("/drift?run=training&model=lee&step2=1&top=0&word=police")
    assert float(asked.get_attribute("data-drift")) == pytest.approx(drift["words"][0]["drift"], rel=1e-6)
    screenshot(page, "drift-trajectory")


def test_axes_view_scatter_and_bars(page, analysis_tb, screenshot):
    state = {
        "run": "seeds",
        "model": "a.model",
        "mode": "axes",
        "axx": "police - government",
        "axy": "Sydney - Australia",
        "axw": "officers minister Qwxzzy",
        "axn": "fire",
        "axk": "5",
    }
    open_tab(page, analysis_tb, state)
    table = page.get_by_test_id("axes-table")
    table.wait_for(state="attached", timeout=60_000)
    query = urlencode(
        [("run", "seeds"), ("model", "a.model"), ("x", "police - government"), ("y", "Sydney - Australia"),
         ("word", "officers"), ("word", "minister"), ("word", "Qwxzzy"), ("neighbors_of", "fire"), ("k", "5")],
        quote_via=quote,
    )  # fmt: skip
    expected = analysis_tb.get_json(f"/axes?{query}")
    got = table.locator("tbody tr").evaluate_all(
        "rs => rs.map(r => [r.dataset.word, Number(r.dataset.x), Number(r.dataset.y), r.dataset.kind])"
    )
    assert [(w, k) for w, _, _, k in got] == [(p["word"], p["kind"]) for p in expected["points"]]
    np.testing.assert_allclose(
        [[x, y] for _, x, y, _ in got], [[p["x"], p["y"]] for p in expected["points"]], rtol=1e-9
    )
    plot_points = page.locator("[data-testid=axes-results] g.w2v-point")
    assert plot_points.count() == len(expected["points"])
    assert "Qwxzzy" in page.get_by_test_id("axes-missing").inner_text()
    screenshot(page, "axes-scatter")

    # Click a word in the picture: its neighbours are placed on the same axes.
    page.locator("[data-testid=axes-results] g.w2v-point[data-word=officers]").click()
    page.wait_for_function("() => decodeURIComponent(location.hash).includes('axn=officers')")
    page.wait_for_selector(
        "[data-testid=axes-table] tr[data-kind=query][data-word=officers]", state="attached"
    )

    # One axis: words as signed bars, sorted along it.
    open_tab(
        page,
        analysis_tb,
        {
            "run": "seeds",
            "model": "a.model",
            "mode": "axes",
            "axx": "police",
            "axw": "officers cricket minister fire",
        },
    )
    bars = page.get_by_test_id("axes-bars").locator("li")
    bars.first.wait_for(timeout=60_000)
    xs = bars.evaluate_all("ls => ls.map(l => Number(l.dataset.x))")
    assert xs == sorted(xs, reverse=True) and len(xs) == 4
    one = analysis_tb.get_json(
        "/axes?run=seeds&model=a.model&x=police&word=officers&word=cricket&word=minister&word=fire"
    )
    np.testing.assert_allclose(sorted(xs), sorted(p["x"] for p in one["points"]), rtol=1e-9)

    # A malformed axis: the plugin's message.
    page.get_by_test_id("axes-x").fill("police -")
    page.get_by_test_id("run-axes").click()
    error = page.get_by_test_id("axes-results").get_by_test_id("error")
    error.wait_for()
    assert "ends with an operator" in error.inner_text()


def test_bias_view_builtin_custom_and_table(page, analysis_tb, screenshot):
    open_tab(page, analysis_tb, {"run": "wiki", "model": "w2v.model", "mode": "bias", "btest": "weat8"})
    effect = page.get_by_test_id("bias-effect")
    effect.wait_for(timeout=60_000)
    expected = analysis_tb.get_json("/weat?run=wiki&model=w2v.model&test=weat8&wait=60")
    assert effect.inner_text() == f"{expected['effect_size']:.3f}"
    assert page.get_by_test_id("bias-p").inner_text() == f"{expected['p_value']:.4f}"
    assert "12,870" in page.get_by_test_id("bias-summary").inner_text()
    for key in ("x", "y"):
        got = (
            page.get_by_test_id(f"bias-assoc-{key}")
            .locator("li")
            .evaluate_all("ls => ls.map(l => [l.dataset.word, Number(l.dataset.s)])")
        )
        want = sorted(((t["word"], t["s"]) for t in expected["targets"][key]), key=lambda t: -t[1])
        assert [w for w, _ in got] == [w for w, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-9)
    assert page.get_by_test_id("bias-missing").is_visible() == bool(expected["missing"])
    page.get_by_text("The test’s words").click()
    assert "Caliskan" in page.get_by_test_id("bias-source").inner_text()
    screenshot(page, "bias")

    # Your own lists (a word that is HTML stays text), in the URL.
    page.get_by_test_id("bias-test").select_option("custom")
    lists = {
        "x": "science\nphysics\nchemistry",
        "y": "poetry\nart\ndance",
        "a": "he, his, man",
        "b": f"she, her, woman, {XSS}",
    }
    for key, text in lists.items():
        page.get_by_test_id(f"bias-list-{key}").fill(text)
    page.get_by_test_id("run-bias").click()
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=bias-missing]') || {}).textContent?.includes('img')"
    )
    words = {k: [w.strip() for w in v.replace(",", "\n").split("\n") if w.strip()] for k, v in lists.items()}
    query = urlencode(
        [("run", "wiki"), ("model", "w2v.model"), ("wait", "60")]
        + [(k, w) for k in "xyab" for w in words[k]],
        quote_via=quote,
    )
    custom = analysis_tb.get_json(f"/weat?{query}")
    assert effect.inner_text() == f"{custom['effect_size']:.3f}" and custom["splits"] == 20
    assert page.locator("img[src=x]").count() == 0 and page.evaluate("window.__xss") is None
    state = hash_state(page)
    assert "btest=custom" in state and "bx=science" in state

    # Every built-in test on every model: the wiki row's cells are the route's effect sizes.
    page.get_by_test_id("run-bias-all").click()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=bias-table-progress]') && document.querySelector('[data-testid=bias-models-table]')",
        timeout=180_000,
    )
    table = page.get_by_test_id("bias-models-table")
    models = analysis_tb.get_json("/models")["models"]
    assert table.locator("tbody tr").count() == len(models)
    every = analysis_tb.get_json("/weat?run=wiki&model=w2v.model&test=all&wait=60")["tests"]
    cells = table.locator("tr[data-run=wiki] td[data-test]").evaluate_all(
        "cs => cs.map(c => [c.dataset.test, c.dataset.effect || null])"
    )
    assert [t for t, _ in cells] == [f"weat{i}" for i in range(1, 11)]
    for (name, shown), row in zip(cells, every, strict=True):
        assert row["test"] == name
        if "error" in row:
            assert shown is None
        else:
            assert float(shown) == pytest.approx(row["effect_size"], rel=1e-9)
    assert sum(shown is not None for _, shown in cells) >= 5
    # The Lee models know too few of the tests' words: every cell says so in its title.
    lee = table.locator("tr[data-run=seeds][data-model='a.model'] td[data-test]")
    assert all("at least 2 are needed" in t for t in lee.evaluate_all("cs => cs.map(c => c.title)"))
    screenshot(page, "bias-table")
