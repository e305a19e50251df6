"""The Word2Vec tab in headless Chromium against a real TensorBoard and real gensim models."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from frontend_fixtures import XSS_WORD

pytestmark = pytest.mark.browser

ENTRY = "/data/plugin_entry.html?name=word2vec"
MODEL = "w2v.model"


def open_tab(page, tensorboard, state: str = ""):
    """Opens the plugin's iframe document directly (what TensorBoard puts in its iframe)."""
    page.goto("about:blank")  # a new hash on the same URL would not reload the page
    page.goto(tensorboard.url + ENTRY + ("#" + state if state else ""))
    page.wait_for_selector("[data-testid=picker] select", state="attached")
    return page


def results_words(scope, testid: str) -> list[str]:
    scope.locator(f"[data-testid={testid}] tbody tr").first.wait_for()
    return scope.locator(f"[data-testid={testid}] tbody tr").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-word'))"
    )


def test_neighbours_query_with_autocomplete(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}")
    query = page.get_by_test_id("query-input")
    query.fill("gover")
    suggestions = page.locator("[role=listbox] [role=option]")
    suggestions.first.wait_for()
    texts = suggestions.all_inner_texts()
    assert any(t.startswith("government") for t in texts), texts
    assert any(re.search(r"\d", t) for t in texts), "suggestions show corpus counts"
    query.fill("government")
    query.press("Enter")

    words = results_words(page, "neighbors-table")
    expected = tensorboard.get_json(f"/neighbors?run=run_a&model={MODEL}&word=government&k=10")
    assert words == [n["word"] for n in expected["neighbors"]]
    # The 2-D view draws the query and its 10 neighbours, labelled.
    page.locator("[data-testid=plot] g.w2v-point").nth(10).wait_for()
    labels = page.locator("[data-testid=plot] g.w2v-point text").all_text_contents()
    assert set(labels) == {"government", *words}
    assert page.locator("[data-testid=plot] .w2v-role-query text").text_content() == "government"
    assert "PC1" in page.locator("[data-testid=plot] .w2v-axis-label").first.text_content()

    # Hover shows the similarity.
    page.locator("[data-testid=plot] .w2v-role-neighbor").first.hover()
    tooltip = page.locator(".w2v-tooltip")
    tooltip.wait_for()
    assert "similarity" in tooltip.inner_text()
    screenshot(page, "neighbours")

    # Zoom (button and mouse wheel) spreads the points; Reset view puts them back.
    where = (
        "[...document.querySelectorAll('[data-testid=plot] g.w2v-point')]"
        ".find(g => g.dataset.word === 'government').getAttribute('transform')"
    )
    before = page.evaluate(where)
    page.get_by_role("button", name="Zoom in").click()
    page.wait_for_function(f"{where} !== {before!r}")
    page.locator("[data-testid=plot] svg").hover()
    page.mouse.wheel(0, -300)
    page.get_by_role("button", name="Reset view").click()
    page.wait_for_function(f"{where} === {before!r}")

    # k is a setting and the state lands in the URL.
    k = page.get_by_test_id("k-input")
    k.fill("5")
    k.press("Enter")
    page.wait_for_function("document.querySelectorAll('[data-testid=neighbors-table] tbody tr').length === 5")
    assert "k=5" in page.evaluate("location.hash")

    # Clicking a neighbour makes it the new query.
    first = words[0]
    page.locator("[data-testid=neighbors-table] tbody tr").first.get_by_role("button").click()
    page.wait_for_function("w => document.querySelector('.w2v-query-word')?.textContent === w", arg=first)
    assert page.get_by_test_id("query-input").input_value() == first
    assert f"q={quote(first)}" in page.evaluate("location.hash")


def test_restrict_vocab(page, tensorboard):
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&q=police&rv=100")
    results_words(page, "neighbors-table")
    assert page.get_by_test_id("rv-input").input_value() == "100"
    expected = tensorboard.get_json(f"/neighbors?run=run_a&model={MODEL}&word=police&restrict_vocab=100")
    assert all(n["index"] < 100 for n in expected["neighbors"])
    assert results_words(page, "neighbors-table") == [n["word"] for n in expected["neighbors"]]


def test_broken_model_is_explained_and_the_rest_keeps_working(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_x_broken&model={MODEL}&q=police")
    error = page.get_by_test_id("neighbors-results").get_by_test_id("error")
    error.wait_for()
    assert "truncated or corrupt" in error.inner_text()
    page.get_by_test_id("model-error").wait_for()
    assert "could not be loaded" in page.get_by_test_id("model-error").inner_text()
    assert "(failed to load)" in page.get_by_test_id("model-select").inner_text()
    screenshot(page, "broken-model")
    # Switching to a good run works without reloading.
    page.get_by_test_id("run-select").select_option("run_a")
    results_words(page, "neighbors-table")
    assert page.get_by_test_id("model-error").count() == 0


def test_vectors_without_counts(page, tensorboard):
    open_tab(page, tensorboard, "run=run_text&model=vectors.txt&q=police&k=3")
    assert len(results_words(page, "neighbors-table")) == 3
    headers = page.locator("[data-testid=neighbors-table] th").all_inner_texts()
    assert "Count" not in headers
    info = page.get_by_test_id("model-info").inner_text()
    assert "word2vec text vectors" in info


def test_unknown_word_offers_clickable_suggestions(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&q=governmentt")
    error = page.get_by_test_id("error")
    error.wait_for()
    assert "governmentt" in error.inner_text()
    buttons = error.get_by_role("button")
    assert buttons.count() >= 1
    screenshot(page, "unknown-word")
    suggestion = buttons.first.inner_text()
    buttons.first.click()
    results_words(page, "neighbors-table")
    assert page.get_by_test_id("query-input").input_value() == suggestion
    # The rest of the page kept working: the model picker is still there.
    assert page.get_by_test_id("run-select").is_enabled()


def test_analogy_form_and_expression(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}")
    page.get_by_test_id("tab-analogy").click()
    page.get_by_test_id("analogy-a").fill("he")
    page.get_by_test_id("analogy-b").fill("his")
    page.get_by_test_id("analogy-c").fill("she")
    page.get_by_test_id("analogy-c").press("Enter")

    words = results_words(page, "analogy-table")
    expected = tensorboard.get_json(
        f"/analogy?run=run_a&model={MODEL}&positive=his&positive=she&negative=he&k=10&method=3cosadd"
    )
    assert words == [n["word"] for n in expected["neighbors"]]
    assert page.get_by_test_id("analogy-answer").inner_text() == words[0]
    # Offset arrows a→b and c→result are drawn.
    page.locator("[data-testid=plot] line.w2v-arrow-offset").wait_for()
    assert page.locator("[data-testid=plot] line.w2v-arrow-result").count() == 1
    labels = set(page.locator("[data-testid=plot] g.w2v-point text").all_text_contents())
    assert {"he", "his", "she", words[0]} <= labels
    screenshot(page, "analogy")

    # The free expression with 3CosMul gives what the API gives.
    page.get_by_test_id("analogy-form-switch").get_by_text("Expression").click()
    page.get_by_test_id("method-switch").get_by_text("3CosMul").click()
    expr = page.get_by_test_id("analogy-expr")
    expr.fill("his - he + she")
    expr.press("Escape")
    page.get_by_test_id("run-analogy").click()
    expected = tensorboard.get_json(
        f"/analogy?run=run_a&model={MODEL}&positive=his&positive=she&negative=he&k=10&method=3cosmul"
    )
    page.wait_for_function(
        "w => document.querySelector('[data-testid=analogy-table] tbody tr')?.dataset.word === w "
        "&& document.querySelector('.w2v-summary')?.textContent.includes('3CosMul')",
        arg=expected["neighbors"][0]["word"],
    )
    assert results_words(page, "analogy-table") == [n["word"] for n in expected["neighbors"]]
    # 3CosMul scores are not cosines (they can exceed 1): the column and tooltips say "3CosMul score".
    headers = page.locator("[data-testid=analogy-table] th").all_inner_texts()
    assert "3CosMul score" in headers and "Similarity" not in headers
    page.locator("[data-testid=plot] .w2v-role-result").first.hover()
    assert "3CosMul score to the analogy target" in page.locator(".w2v-tooltip").inner_text()
    state = page.evaluate("location.hash")
    assert "method=3cosmul" in state and "aform=expr" in state and "mode=analogy" in state

    # An unknown word: clicking a suggestion puts it in place of that word and solves again.
    expr.fill("hiss - he + she")
    expr.press("Escape")
    page.get_by_test_id("run-analogy").click()
    error = page.get_by_test_id("analogy-results").get_by_test_id("error")
    error.wait_for()
    suggestion = error.get_by_role("button").first
    replacement = suggestion.inner_text()
    suggestion.click()
    page.get_by_test_id("analogy-table").wait_for()
    assert expr.input_value() == f"{replacement} - he + she"

    # A malformed expression is reported where it happens.
    expr.fill("his she")
    page.get_by_test_id("run-analogy").click()
    assert "Missing" in page.get_by_test_id("analogy-results").get_by_test_id("error").inner_text()


def test_similarity_and_odd_one_out(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&mode=similarity")
    page.get_by_test_id("sim-a").fill("police")
    page.get_by_test_id("sim-b").fill("government")
    page.get_by_test_id("sim-b").press("Enter")
    value = page.get_by_test_id("similarity-value")
    value.wait_for()
    expected = tensorboard.get_json(f"/similarity?run=run_a&model={MODEL}&a=police&b=government")
    assert float(value.inner_text()) == pytest.approx(expected["similarity"], abs=1e-3)
    screenshot(page, "similarity")

    page.get_by_test_id("tab-odd").click()
    odd = page.get_by_test_id("odd-input")
    odd.fill("police government Sydney Melbourne")
    odd.press("Escape")
    page.get_by_test_id("run-odd").click()
    answer = page.get_by_test_id("odd-answer")
    answer.wait_for()
    expected = tensorboard.get_json(
        f"/doesnt_match?run=run_a&model={MODEL}&word=police&word=government&word=Sydney&word=Melbourne"
    )
    assert answer.inner_text() == expected["word"]
    screenshot(page, "odd-one-out")


def test_compare_two_runs_shows_overlap(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&mode=compare")
    targets = page.get_by_test_id("compare-targets")
    targets.get_by_test_id("compare-run-1").wait_for()
    assert targets.get_by_test_id("compare-run-1").input_value() == "run_b"
    query = page.get_by_test_id("compare-input")
    query.fill("government")
    query.press("Escape")
    query.press("Enter")
    page.get_by_test_id("compare-summary").wait_for()
    col_a = (
        page.get_by_test_id("compare-col-0")
        .locator("tbody tr")
        .evaluate_all("rows => rows.map(r => r.dataset.word)")
    )
    col_b = (
        page.get_by_test_id("compare-col-1")
        .locator("tbody tr")
        .evaluate_all("rows => rows.map(r => r.dataset.word)")
    )
    a = [
        n["word"]
        for n in tensorboard.get_json(f"/neighbors?run=run_a&model={MODEL}&word=government")["neighbors"]
    ]
    b = [
        n["word"]
        for n in tensorboard.get_json(f"/neighbors?run=run_b&model={MODEL}&word=government")["neighbors"]
    ]
    assert (col_a, col_b) == (a, b)
    shared = set(a) & set(b)
    jaccard = len(shared) / len(set(a) | set(b))
    assert float(page.get_by_test_id("jaccard").inner_text()) == pytest.approx(jaccard, abs=0.006)
    highlighted = set(
        page.locator("[data-testid=compare-col-0] tr.w2v-shared-all").evaluate_all(
            "rows => rows.map(r => r.dataset.word)"
        )
    )
    assert highlighted == shared
    assert "cmp=run_b" in page.evaluate("decodeURIComponent(location.hash)")
    screenshot(page, "compare")

    # A third column (the skip-gram run): a 3×3 Jaccard matrix appears.
    page.get_by_test_id("compare-add").click()
    assert targets.get_by_test_id("compare-run-2").input_value() == "run_c"
    page.get_by_test_id("run-compare").click()
    page.get_by_test_id("jaccard-matrix").wait_for()
    assert page.locator("[data-testid^=compare-col-]").count() == 3

    # A fourth model lacking the word shows its error in its own column; the others stay.
    page.get_by_test_id("compare-add").click()
    page.get_by_test_id("run-compare").click()
    page.get_by_test_id("compare-col-3").get_by_test_id("error").wait_for()
    assert page.get_by_test_id("compare-col-0").locator("tbody tr").count() == 10
    assert page.locator("[data-testid=jaccard-matrix] tbody tr").count() == 3
    screenshot(page, "compare-four")


def test_training_steps(page, tensorboard, screenshot):
    open_tab(page, tensorboard, "run=run_steps&model=lee&q=police&k=5")
    latest = results_words(page, "neighbors-table")
    step = page.get_by_test_id("step-select")
    assert step.is_enabled()
    assert step.locator("option").all_inner_texts() == ["latest (3)", "3", "2", "1"]
    step.select_option("1")
    page.wait_for_function("location.hash.includes('step=1')")
    expected = tensorboard.get_json("/neighbors?run=run_steps&model=lee&word=police&k=5&step=1")
    page.wait_for_function(
        "w => document.querySelector('[data-testid=neighbors-table] tbody tr')?.dataset.word === w",
        arg=expected["neighbors"][0]["word"],
    )
    assert results_words(page, "neighbors-table") == [n["word"] for n in expected["neighbors"]]
    assert latest == [
        n["word"]
        for n in tensorboard.get_json("/neighbors?run=run_steps&model=lee&word=police&k=5")["neighbors"]
    ]

    # Compare steps of the same model: the suggested second column is the latest step.
    page.get_by_test_id("tab-compare").click()
    assert page.get_by_test_id("compare-step-1").input_value() == "3"
    page.get_by_test_id("run-compare").click()
    page.get_by_test_id("compare-summary").wait_for()
    assert "@ 1" in page.get_by_test_id("compare-col-0").inner_text()
    assert "@ 3" in page.get_by_test_id("compare-col-1").inner_text()
    screenshot(page, "compare-steps")


def test_deep_link_reopens_the_view(page, tensorboard, screenshot):
    state = f"run=run_b&model={MODEL}&q=police&k=7"
    open_tab(page, tensorboard, state)
    words = results_words(page, "neighbors-table")
    assert len(words) == 7
    assert page.get_by_test_id("run-select").input_value() == "run_b"
    assert page.get_by_test_id("query-input").input_value() == "police"
    expected = tensorboard.get_json(f"/neighbors?run=run_b&model={MODEL}&word=police&k=7")
    assert words == [n["word"] for n in expected["neighbors"]]

    # The link also reopens an analogy view.
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&mode=analogy&a=he&b=his&c=she&k=3")
    assert len(results_words(page, "analogy-table")) == 3
    assert page.get_by_test_id("tab-analogy").get_attribute("aria-selected") == "true"


def test_through_the_tensorboard_shell(page, tensorboard, screenshot):
    """The real TensorBoard page: the tab loads in its iframe and mirrors its state into the top URL."""
    inner = f"run=run_a&model={MODEL}&q=police&k=4"
    page.goto(f"{tensorboard.url}/#word2vec&w2v={quote(inner, safe='')}")
    frame = page.frame_locator("iframe[src*='name=word2vec']")
    frame.locator("[data-testid=neighbors-table] tbody tr").nth(3).wait_for(timeout=30_000)
    assert frame.locator("[data-testid=neighbors-table] tbody tr").count() == 4
    screenshot(page, "tensorboard-shell", full_page=False)

    q = frame.get_by_test_id("query-input")
    q.fill("government")
    q.press("Enter")
    page.wait_for_function("decodeURIComponent(location.hash).includes('q=government')")
    top_url = page.url
    assert top_url.split("#")[1].startswith("word2vec&w2v=")

    # Visiting another tab and coming back puts the state back into the TensorBoard URL.
    page.evaluate("location.hash = '#projector'")
    page.wait_for_timeout(500)
    page.evaluate("location.hash = '#word2vec'")
    page.wait_for_function("decodeURIComponent(location.hash).includes('q=government')")

    # Navigating the page to another state of the tab reopens the tab with it.
    other_state = quote(f"run=run_b&model={MODEL}&q=police&k=3", safe="")
    page.evaluate(f"location.hash = '#word2vec&w2v={other_state}'")
    page.wait_for_function(
        "() => { const f = document.querySelector(\"iframe[src*='name=word2vec']\").contentDocument;"
        " return f && f.querySelectorAll('[data-testid=neighbors-table] tbody tr').length === 3; }"
    )
    assert frame.get_by_test_id("run-select").input_value() == "run_b"

    # Pasting that URL in a new tab reopens the same view.
    other = page.context.new_page()
    try:
        other.goto(top_url)
        frame = other.frame_locator("iframe[src*='name=word2vec']")
        frame.locator("[data-testid=neighbors-table] tbody tr").first.wait_for(timeout=30_000)
        assert frame.get_by_test_id("query-input").input_value() == "government"
        assert frame.locator("[data-testid=neighbors-table] tbody tr").count() == 4
    finally:
        other.close()


def test_under_a_path_prefix(page, prefixed_tensorboard):
    inner = quote(f"run=run_a&model={MODEL}&q=police&k=3", safe="")
    page.goto(f"{prefixed_tensorboard.url}/#word2vec&w2v={inner}")
    frame = page.frame_locator("iframe[src*='name=word2vec']")
    frame.locator("[data-testid=neighbors-table] tbody tr").nth(2).wait_for(timeout=30_000)
    assert frame.locator("[data-testid=neighbors-table] tbody tr").count() == 3


def test_vocabulary_words_render_as_text(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_xss&model={MODEL}&q={quote(XSS_WORD, safe='')}&k=5")
    words = results_words(page, "neighbors-table")
    assert "<script>window.__xss=2</script>" in words
    cell_texts = page.locator("[data-testid=neighbors-table] tbody td.w2v-word-cell").all_inner_texts()
    assert "<script>window.__xss=2</script>" in cell_texts
    assert page.locator(".w2v-query-word").inner_text() == XSS_WORD
    page.locator("[data-testid=plot] g.w2v-point").nth(5).wait_for()
    assert XSS_WORD in page.locator("[data-testid=plot] g.w2v-point text").all_text_contents()
    # Autocomplete lists it as text too.
    q = page.get_by_test_id("query-input")
    q.fill("<im")
    page.locator("[role=option]").first.wait_for()
    assert XSS_WORD in page.locator("[role=option]").first.inner_text()
    q.press("Escape")
    screenshot(page, "injection-as-text")
    page.get_by_test_id("tab-odd").click()
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("script:not([type=module])").count() == 0 or all(
        "__xss" not in (s or "") for s in page.locator("script").all_text_contents()
    )
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_model_details_and_empty_logdir(page, tensorboard, empty_tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&q=police")
    results_words(page, "neighbors-table")
    info = page.get_by_test_id("model-info")
    page.wait_for_function("document.querySelector('[data-testid=model-info]').innerText.includes('1,')")
    text = info.inner_text()
    assert "gensim" in text and "50" in text
    info.get_by_text("Training parameters").click()
    assert "CBOW" in info.inner_text()
    labels = info.locator(".w2v-facts-small dt").all_text_contents()
    assert "Max vocab size" in labels
    assert [label for label in labels if not label[:1].isupper()] == []

    page.goto(empty_tensorboard.url + ENTRY)
    empty = page.get_by_test_id("empty-state")
    empty.wait_for()
    assert "log_model(" in empty.inner_text()
    assert "from tensorboard_plugin_w2v.summary import log_model" in empty.inner_text()
    screenshot(page, "empty-logdir")


@pytest.mark.parametrize(
    "mode",
    ["neighbors", "analogy", "similarity", "odd", "compare", "models", "evaluate", "drift", "axes", "bias"],
)
def test_every_field_label_is_capitalised(page, tensorboard, mode):
    """Form labels and legends read as the rest of the tab: a capital first letter (no
    "max vocab size", "restrict_vocab" or "k" beside "Top k" and "Most frequent only"). The
    analogy form's three labels are one sentence, "a is to b as c is to ?"."""
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&mode={mode}")
    assert page.get_by_test_id(f"tab-{mode}").get_attribute("aria-selected") == "true"
    labels: list[str] = []
    for _ in range(20):  # until the view's form has rendered (it waits for /info and /models)
        seen = [t.strip() for t in page.locator(".w2v-label:visible").all_inner_texts() if t.strip()]
        if seen and seen == labels:
            break
        labels = seen
        page.wait_for_timeout(500)
    assert len(labels) > 3, labels  # more than the picker's Run, Model, Step
    sentence = ["a", "is to b", "as c"] if mode == "analogy" else []
    assert [t for t in labels if not t[:1].isupper() and t not in sentence] == [], labels


def test_keyboard_only(page, tensorboard):
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}")
    page.get_by_test_id("query-input").focus()
    page.keyboard.type("polic")
    page.locator("[role=option]").first.wait_for()
    page.keyboard.press("ArrowDown")
    assert page.locator("[role=option][aria-selected=true]").count() == 1
    picked = page.locator("[role=option][aria-selected=true] .w2v-suggest-word").inner_text()
    page.keyboard.press("Enter")  # picks the highlighted word and runs the query
    page.wait_for_function("w => document.querySelector('.w2v-query-word')?.textContent === w", arg=picked)
    assert page.get_by_test_id("query-input").input_value() == picked
    assert page.locator("[role=listbox]:visible").count() == 0
    # Tabs are reachable and switch with the arrow keys.
    page.get_by_test_id("tab-neighbors").focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.testid") == "tab-analogy"
    assert page.get_by_test_id("panel-analogy").is_visible()
    # Focus is visible (an outline ring).
    shadow = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert shadow and shadow != "none"


def test_slow_query_shows_loading_state(page, tensorboard):
    # Delay the plugin's neighbours answers inside the page to watch the loading state.
    page.add_init_script(
        """
        const realFetch = window.fetch.bind(window);
        window.fetch = async (url, opts) => {
          if (String(url).includes('/neighbors')) await new Promise(r => setTimeout(r, 1500));
          return realFetch(url, opts);
        };
        """
    )
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&q=police")
    loading = page.get_by_test_id("neighbors-results").get_by_role("status")
    loading.wait_for()
    assert "police" in loading.inner_text()
    results_words(page, "neighbors-table")
    assert loading.count() == 0


def test_follows_tensorboard_dark_mode(page, tensorboard, screenshot):
    page.goto(
        f"{tensorboard.url}/?darkMode=true#word2vec&w2v={quote(f'run=run_a&model={MODEL}&q=police', safe='')}"
    )
    frame = page.frame_locator("iframe[src*='name=word2vec']")
    frame.locator("[data-testid=neighbors-table] tbody tr").first.wait_for(timeout=30_000)
    assert "w2v-dark" in frame.locator("html").get_attribute("class")
    screenshot(page, "dark-mode", full_page=False)


def test_export_offers_tsv_downloads_when_logdir_is_read_only(page, tensorboard, screenshot):
    """The 409 answer of export_projector becomes two download links (route stubbed in the browser)."""
    body = (
        '{"error": "The log directory is not writable.", '
        '"tsv": {"tensor": "./export_tsv?part=tensor", "metadata": "javascript:alert(1)"}}'
    )
    page.route(
        "**/data/plugin/word2vec/export_projector*",
        lambda route: route.fulfill(status=409, content_type="application/json", body=body),
    )
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&q=police")
    results_words(page, "neighbors-table")
    page.get_by_test_id("export-n").fill("99999")
    page.get_by_test_id("export-button").click()
    box = page.get_by_test_id("export-tsv")
    box.wait_for()
    assert "not writable" in box.inner_text()
    href = page.get_by_test_id("download-tensor").get_attribute("href")
    assert href.startswith(tensorboard.url + "/data/plugin/word2vec/export_tsv")
    # A non-http link from the server is never rendered.
    assert page.get_by_test_id("download-metadata").count() == 0
    screenshot(page, "export-409")


def test_export_to_projector(page, tensorboard, screenshot):
    """The real export_projector route writes the neighbourhood as a run the Projector lists; the
    tab names the run to pick (copyable) and lists the export with a Remove button."""
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&q=police&n=5")
    results_words(page, "neighbors-table")
    assert page.get_by_test_id("export-n").input_value() == "5"
    page.get_by_test_id("export-button").click()
    ok = page.get_by_test_id("export-ok")
    ok.wait_for()
    assert "“police” and 5 neighbours of run_a / w2v.model" in ok.inner_text()
    assert "choose this run in the “Run” menu" in ok.inner_text()
    run = page.get_by_test_id("export-run").input_value()
    assert run.startswith("word2vec_exports/police-5-w2v-") and not set("+&#% ") & set(run)
    assert page.get_by_test_id("open-projector").get_attribute("href") == tensorboard.url + "/#projector"
    listed = tensorboard.get_json("/exports")["exports"]
    assert listed[0]["run"] == run and listed[0]["points"] == 6 and listed[0]["word"] == "police"
    row = page.locator(f"[data-testid=exports-table] tr[data-run='{run}']")
    row.wait_for()
    assert "police" in row.inner_text() and "6" in row.inner_text()
    # Copy: the Clipboard API or, where the page may not use it, the selected name.
    page.get_by_test_id("export-run-copy").click()
    page.wait_for_function(
        "['Copied', 'Press Ctrl+C'].includes(document.querySelector('[data-testid=export-run-copy]').textContent)"
    )
    screenshot(page, "export-ok")
    # The Projector lists the new run once TensorBoard has reloaded the logdir.
    runs: list[str] = []
    for _ in range(60):
        runs = json.loads(page.evaluate("fetch('/data/plugin/projector/runs').then(r => r.text())"))
        if run in runs:
            break
        page.wait_for_timeout(1000)
    assert run in runs
    # The Word2Vec tab does not offer the export as a model.
    assert run not in page.get_by_test_id("run-select").locator("option").all_inner_texts()

    # Remove: the run leaves the list, the logdir and the Projector's runs.
    row.get_by_test_id("export-remove").click()
    row.wait_for(state="detached")
    assert page.get_by_test_id("export-ok").count() == 0
    assert all(e["run"] != run for e in tensorboard.get_json("/exports")["exports"])
    for _ in range(60):
        runs = json.loads(page.evaluate("fetch('/data/plugin/projector/runs').then(r => r.text())"))
        if run not in runs:
            break
        page.wait_for_timeout(1000)
    assert run not in runs


def test_failed_query_clears_the_plot_title(page, tensorboard):
    """After a failed query the 2-D view no longer names the previous word."""
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&q=police")
    page.locator("[data-testid=plot] g.w2v-point").first.wait_for()
    assert "police" in page.get_by_test_id("plot-title").inner_text()
    query = page.get_by_test_id("query-input")
    query.fill("policce")
    query.press("Escape")
    query.press("Enter")
    page.get_by_test_id("neighbors-results").get_by_test_id("error").wait_for()
    assert page.get_by_test_id("plot-title").inner_text() == "2-D view (PCA)"
    assert page.locator("[data-testid=plot] .w2v-plot-message").inner_text() == "Nothing to show."


def test_crowded_labels_are_counted(page, tensorboard, screenshot):
    """Labels dropped where words crowd are counted under the plot, with how to read them."""
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&q=police&k=100")
    page.locator("[data-testid=plot] g.w2v-point").nth(100).wait_for()
    hidden = page.locator("[data-testid=plot] g.w2v-point text[visibility=hidden]").count()
    assert hidden > 0
    note = page.get_by_test_id("plot-hidden-labels")
    assert note.is_visible()
    assert note.inner_text().startswith(f"{hidden} of 101 words are not labelled")
    assert "hover" in note.inner_text() and "zoom" in note.inner_text()
    screenshot(page, "plot-hidden-labels")
    # Few words, every label shown: no note.
    k = page.get_by_test_id("k-input")
    k.fill("5")
    k.press("Enter")
    page.wait_for_function("document.querySelectorAll('[data-testid=plot] g.w2v-point').length === 6")
    assert page.locator("[data-testid=plot] g.w2v-point text[visibility=hidden]").count() == 0
    assert not note.is_visible()
