"""The Evaluate and Compare models modes in headless Chromium, against a real TensorBoard.

Figures shown in the tab are checked against gensim's own evaluation of the same model files
and against the plugin's /evaluate and /compare answers.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.browser

ENTRY = "/data/plugin_entry.html?name=word2vec"
MODEL = "w2v.model"


def open_tab(page, tensorboard, state: str = ""):
    page.goto("about:blank")
    page.goto(tensorboard.url + ENTRY + ("#" + state if state else ""))
    page.wait_for_selector("[data-testid=picker] select", state="attached")
    return page


def gensim_kv(tensorboard, run: str):
    from gensim.models import Word2Vec

    return Word2Vec.load(os.path.join(tensorboard.logdir, run, MODEL)).wv


def percent(x: float) -> str:
    return f"{x * 100:.2f}%"


def evaluate_json(tensorboard, query: str) -> dict:
    data = tensorboard.get_json(f"/evaluate?{query}&wait=60")
    assert data["status"] == "done"
    return data


def test_analogy_evaluation_matches_gensim(page, tensorboard, screenshot):
    from gensim.test.utils import datapath

    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&mode=evaluate")
    assert page.get_by_test_id("tab-evaluate").get_attribute("aria-selected") == "true"
    accuracy = page.get_by_test_id("eval-accuracy")
    accuracy.wait_for(timeout=60_000)

    kv = gensim_kv(tensorboard, "run_a")
    score, sections = kv.evaluate_word_analogies(datapath("questions-words.txt"))
    assert accuracy.inner_text() == percent(score)
    # gensim's sections: the 14 of the file, then "Total accuracy".
    rows = page.locator("[data-testid=eval-sections] tbody tr")
    assert rows.count() == 14 == len(sections) - 1
    names = rows.evaluate_all("rows => rows.map(r => r.dataset.section)")
    assert names == [s["section"] for s in sections[:-1]]
    first = rows.first.locator("td.w2v-num").all_inner_texts()
    asked = len(sections[0]["correct"]) + len(sections[0]["incorrect"])
    with open(datapath("questions-words.txt")) as f:  # the first section's questions, then the next header
        in_file = next(i for i, line in enumerate(list(f)[1:]) if line.startswith(": "))
    skipped = f"{in_file - asked:,}"
    coverage = f"{100 * asked / in_file:.1f}%"
    assert first == [coverage, str(len(sections[0]["correct"])), str(len(sections[0]["incorrect"])), skipped]
    # Coverage beside accuracy: the questions answered, of those in the file.
    answered = sum(len(s["correct"]) + len(s["incorrect"]) for s in sections[:-1])
    assert page.get_by_test_id("eval-coverage").inner_text() == f"{100 * answered / 19544:.1f}%"
    assert "correct" in rows.first.get_attribute("title")
    semantic = [s for s in sections[:5]]
    sem_ok = sum(len(s["correct"]) for s in semantic)
    sem_n = sem_ok + sum(len(s["incorrect"]) for s in semantic)
    assert page.get_by_test_id("eval-semantic").inner_text() == percent(sem_ok / sem_n)
    assert "mode=evaluate" in page.evaluate("location.hash")
    # Wrong answers, as the plugin keeps them, behind a keyboard-reachable disclosure.
    mistakes = page.get_by_test_id("eval-mistakes")
    mistakes.locator("summary").focus()
    page.keyboard.press("Enter")
    first_wrong = sections[[i for i, s in enumerate(sections) if s["incorrect"]][0]]["incorrect"][0]
    assert first_wrong[3] in mistakes.locator("dd").first.inner_text()
    screenshot(page, "evaluate-analogies")

    # 3CosMul and a smaller restrict_vocab land in the URL and give the route's figure. Changing
    # the method starts nothing: the result shown says it is for the earlier settings.
    page.get_by_test_id("eval-method").get_by_text("3CosMul").click()
    page.get_by_test_id("eval-stale").wait_for()
    assert page.get_by_test_id("eval-running").count() == 0
    assert accuracy.inner_text() == percent(score)
    rv = page.get_by_test_id("eval-rv")
    rv.fill("500")
    rv.press("Enter")
    expected = evaluate_json(
        tensorboard, f"run=run_a&model={MODEL}&benchmark=analogies&method=3cosmul&restrict_vocab=500"
    )
    page.wait_for_function(
        "t => document.querySelector('[data-testid=eval-accuracy]')?.textContent === t",
        arg=percent(expected["total"]["accuracy"]),
    )
    state = page.evaluate("location.hash")
    assert "method=3cosmul" in state and "erv=500" in state

    # A word-pair benchmark: Pearson, Spearman and the OOV ratio as gensim computes them.
    page.get_by_test_id("eval-benchmark").select_option("wordsim353")
    rv.fill("300000")
    page.get_by_test_id("run-evaluate").click()
    spearman = page.get_by_test_id("eval-spearman")
    spearman.wait_for()
    pearson, rho, oov = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))
    assert spearman.inner_text() == f"{rho.statistic:.3f}"
    assert page.get_by_test_id("eval-pearson").inner_text() == f"{pearson.statistic:.3f}"
    assert page.get_by_test_id("eval-oov").inner_text() == f"{oov:.1f}%"
    assert page.get_by_test_id("eval-method").is_hidden()
    assert "bench=wordsim353" in page.evaluate("location.hash")
    screenshot(page, "evaluate-pairs")


def test_running_state_polls_until_done(page, tensorboard, screenshot):
    """While the plugin answers 202 the tab says it is running, then shows the result."""
    asked = []

    def slow(route):
        asked.append(route.request.url)
        if len(asked) <= 2:
            route.fulfill(status=202, content_type="application/json", body=json.dumps({"status": "running"}))
        else:
            route.continue_()

    page.route("**/evaluate?*benchmark=*", slow)
    open_tab(page, tensorboard, f"run=run_b&model={MODEL}&mode=evaluate")
    running = page.get_by_test_id("eval-running")
    running.wait_for()
    page.wait_for_function(
        "document.querySelector('[data-testid=eval-running]')?.textContent.includes('checked')"
    )
    screenshot(page, "evaluate-running")
    page.get_by_test_id("eval-accuracy").wait_for(timeout=30_000)
    assert len(asked) == 3
    expected = evaluate_json(tensorboard, f"run=run_b&model={MODEL}&benchmark=analogies")
    assert page.get_by_test_id("eval-accuracy").inner_text() == percent(expected["total"]["accuracy"])
    # The answer after the 202s is this run's own result, not one "computed earlier".
    summary = page.get_by_test_id("eval-analogies").locator(".w2v-summary").inner_text()
    assert "computed earlier" not in summary
    # Asked again, the plugin answers at once from what it kept, and the tab says so.
    page.unroute("**/evaluate?*benchmark=*")
    page.get_by_test_id("run-evaluate").click()
    page.wait_for_function(
        "document.querySelector('[data-testid=eval-analogies] .w2v-summary')?.textContent.includes('computed earlier')"
    )

    # Cancel: while running, the Cancel button stops polling and says so.
    asked.clear()
    page.unroute("**/evaluate?*benchmark=*")
    running_body = '{"status": "running", "progress": {"done": 4900, "total": 19544, "fraction": 0.2507}}'
    page.route(
        "**/evaluate?*benchmark=*",
        lambda route: (
            asked.append(route.request.url),
            route.fulfill(status=202, content_type="application/json", body=running_body),
        ),
    )
    cancels = []
    page.on(
        "request",
        lambda r: (
            cancels.append((r.method, r.url, r.headers.get("x-requested-with")))
            if "/evaluate/cancel?" in r.url
            else None
        ),
    )
    page.get_by_test_id("run-evaluate").click()
    page.wait_for_function(  # the 202 answers' progress is shown
        "document.querySelector('[data-testid=eval-progress]')?.textContent.includes('25% done (4,900 of 19,544')"
    )
    page.get_by_test_id("eval-cancel").click()
    page.get_by_text("Cancelled.").wait_for()
    page.wait_for_timeout(300)
    assert len(cancels) == 1 and cancels[0][0] == "POST" and cancels[0][2]
    assert "run=run_b" in cancels[0][1] and "benchmark=analogies" in cancels[0][1]
    n = len(asked)
    page.wait_for_timeout(1500)
    assert len(asked) == n

    # Picking another model stops polling for the old one.
    page.get_by_test_id("run-evaluate").click()
    page.get_by_test_id("eval-running").wait_for()
    page.get_by_test_id("run-select").select_option("run_c")
    page.wait_for_function("decodeURIComponent(location.hash).includes('run=run_c')")
    page.wait_for_timeout(300)
    old = [u for u in asked if "run=run_b" in u]
    page.wait_for_timeout(1500)
    assert [u for u in asked if "run=run_b" in u] == old

    # The table across models shows its progress and can be cancelled too.
    page.get_by_test_id("run-eval-all").click()
    page.get_by_test_id("eval-table-progress").wait_for()
    screenshot(page, "evaluate-table-running")
    page.get_by_test_id("eval-table-cancel").click()
    page.wait_for_function("!document.querySelector('[data-testid=eval-table-progress]')")
    errors = page.get_by_test_id("eval-row-error").all_inner_texts()
    assert "cancelled" in errors


def test_table_across_models(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&mode=evaluate")
    page.get_by_test_id("eval-accuracy").wait_for(timeout=60_000)
    page.get_by_test_id("run-eval-all").click()
    table = page.get_by_test_id("eval-models-table")
    page.wait_for_function(
        "() => { const t = document.querySelector('[data-testid=eval-models-table]');"
        " return t && ![...t.querySelectorAll('td')].some(td => td.textContent === '…'); }",
        timeout=120_000,
    )
    models = tensorboard.get_json("/models")["models"]
    rows = table.locator("tbody tr")
    assert rows.count() == len(models)
    got = rows.evaluate_all("rows => rows.map(r => [r.dataset.run, r.dataset.model, r.dataset.score])")
    scores = {}
    for run, model, score in got:
        info = next(m for m in models if m["run"] == run and m["model"] == model)
        if info["status"] == "error" or run == "run_x_broken":
            assert score == ""
            continue
        expected = evaluate_json(tensorboard, f"run={quote(run)}&model={quote(model)}&benchmark=analogies")
        if expected["total"]["accuracy"] is None:  # no question in the vocabulary (run_xss)
            assert score == "", (run, model)
            continue
        assert float(score) == pytest.approx(expected["total"]["accuracy"]), (run, model)
        scores[(run, model)] = float(score)
    # Sorted by score, best first; the best row is marked.
    ordered = [float(s) for _, _, s in got if s != ""]
    assert ordered == sorted(ordered, reverse=True)
    assert scores[(got[0][0], got[0][1])] == max(scores.values())
    # Coverage beside accuracy: the share of the questions each model answered.
    coverage = {}
    for run, model, cov in rows.evaluate_all(
        "rows => rows.map(r => [r.dataset.run, r.dataset.model, r.dataset.coverage])"
    ):
        if (run, model) in scores:
            expected = evaluate_json(
                tensorboard, f"run={quote(run)}&model={quote(model)}&benchmark=analogies"
            )
            assert float(cov) == pytest.approx(expected["total"]["total"] / expected["questions"])
            coverage[(run, model)] = float(cov)
    headers = [h.rstrip(" ▲▼") for h in table.locator("thead th").all_inner_texts()]
    assert headers.index("Coverage (questions answered)") == headers.index("Accuracy") + 1
    # "best": the top score (ties included) among models that answered at least half as many
    # questions as the model that answered most.
    eligible = {key: v for key, v in scores.items() if coverage[key] >= 0.5 * max(coverage.values())}
    marked = table.locator("tr.w2v-best").evaluate_all(
        "rows => rows.map(r => [r.dataset.run, r.dataset.model])"
    )
    assert {tuple(m) for m in marked} == {key for key, v in eligible.items() if v == max(eligible.values())}
    assert "at least 50%" in page.get_by_test_id("eval-best-rule").inner_text()
    assert "Google analogies" in table.locator("caption").inner_text()
    # The broken model says why in its row.
    broken = table.locator("tr[data-run=run_x_broken]")
    assert broken.get_by_test_id("eval-row-error").inner_text() != ""
    screenshot(page, "evaluate-table")

    # Sorting by score again flips the order (keyboard: Enter on the header button).
    page.get_by_test_id("eval-sort-score").focus()
    page.keyboard.press("Enter")
    assert page.locator("th[aria-sort=ascending]").count() == 1
    again = [float(s) for s in rows.evaluate_all("rows => rows.map(r => r.dataset.score)") if s != ""]
    assert again == sorted(again)

    # Only some models: the choice lands in the URL and the table has just those rows.
    page.get_by_text("Models to include").click()
    for run in ("run_c", "run_text", "run_x_broken", "run_xss", "run_steps"):
        page.locator(f"[data-testid^='eval-pick-{run}/']").uncheck()
    assert "esel=" in page.evaluate("location.hash")
    page.get_by_test_id("run-eval-all").click()
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=eval-models-table] tbody tr').length === 2"
    )
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.run)")) == ["run_a", "run_b"]


def test_accuracy_over_training_steps(page, tensorboard, screenshot):
    open_tab(page, tensorboard, "run=run_steps&model=lee&mode=evaluate")
    page.get_by_test_id("eval-accuracy").wait_for(timeout=60_000)
    page.get_by_test_id("run-eval-steps").click()
    chart = page.get_by_test_id("eval-steps-chart")
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=eval-steps-chart] circle.w2v-step-point').length === 3"
        " && !document.querySelector('[data-testid=eval-steps-progress]')",
        timeout=120_000,
    )
    points = chart.locator("circle.w2v-step-point").evaluate_all(
        "cs => cs.map(c => [Number(c.dataset.step), Number(c.dataset.value), Number(c.getAttribute('cx'))])"
    )
    assert [p[0] for p in points] == [1, 2, 3]
    assert points[0][2] < points[1][2] < points[2][2]
    for step, value, _ in points:
        expected = evaluate_json(tensorboard, f"run=run_steps&model=lee&step={step}&benchmark=analogies")
        assert value == pytest.approx(expected["total"]["accuracy"])
    # d3 axes with integer step ticks and a line through the points.
    ticks = chart.locator(".w2v-axis").first.locator(".tick text").all_text_contents()
    assert {"1", "2", "3"} <= set(ticks)
    # The accuracy axis ends a little above the best step, not at double it.
    y_ticks = [float(t.rstrip("%")) / 100 for t in chart.locator(".w2v-grid .tick text").all_text_contents()]
    top = max(p[1] for p in points)
    assert top <= max(y_ticks) <= top * 1.5 + 1e-9, (y_ticks, top)
    steps_table = page.get_by_test_id("eval-steps-table")
    assert steps_table.locator("thead th").all_inner_texts()[:3] == ["Step", "Accuracy", "Coverage"]
    assert chart.locator("path.w2v-line").get_attribute("d").count("L") == 2
    assert page.get_by_test_id("eval-steps-table").locator("tbody tr").count() == 3
    # Keyboard: a point takes focus and tells its value.
    chart.locator("circle.w2v-step-point").nth(1).focus()
    assert "step 2" in chart.locator(".w2v-tooltip").inner_text()
    screenshot(page, "evaluate-steps")
    page.evaluate("document.documentElement.classList.add('w2v-dark')")
    screenshot(page, "evaluate-steps-dark")


def test_compare_models(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&mode=models")
    assert page.get_by_test_id("tab-models").inner_text().lower() == "compare models"
    assert page.get_by_test_id("tab-compare").inner_text().lower() == "compare a query"
    assert page.get_by_test_id("cm-run").input_value() == "run_b"
    mean = page.get_by_test_id("cm-mean-jaccard")
    mean.wait_for(timeout=60_000)
    expected = tensorboard.get_json(f"/compare?run=run_a&model={MODEL}&run2=run_b&model2={MODEL}&n=1000&k=10")
    assert mean.inner_text() == f"{expected['mean_jaccard']:.3f}"
    assert page.get_by_test_id("cm-compared").inner_text() == f"{expected['compared']:,}"
    assert page.get_by_test_id("cm-shared-vocab").inner_text() == f"{expected['shared_vocab']:,}"
    changed = page.get_by_test_id("cm-changed").locator("li")
    assert changed.count() == 20
    listed = changed.evaluate_all("ls => ls.map(l => [l.dataset.word, Number(l.dataset.jaccard)])")
    assert [w for w, _ in listed] == [w["word"] for w in expected["most_changed"]]
    jaccards = [j for _, j in listed]
    assert jaccards == sorted(jaccards)

    # The most changed word's lists side by side, shared neighbours highlighted.
    detail = page.get_by_test_id("cm-detail")
    word = expected["most_changed"][0]["word"]
    assert detail.get_attribute("data-word") == word
    row = next(w for w in expected["words"] if w["word"] == word)
    col_a = detail.get_by_test_id("cm-col-a").locator("tbody tr")
    assert col_a.evaluate_all("rs => rs.map(r => r.dataset.word)") == [n["word"] for n in row["a"]]
    shared = set(
        detail.get_by_test_id("cm-col-b")
        .locator("tr.w2v-shared-all")
        .evaluate_all("rs => rs.map(r => r.dataset.word)")
    )
    assert shared == {n["word"] for n in row["b"] if n["shared"]}
    screenshot(page, "compare-models")

    # Another word from the list (keyboard) shows its lists.
    other = changed.nth(3).get_by_role("button")
    other.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "w => document.querySelector('[data-testid=cm-detail]')?.dataset.word === w", arg=listed[3][0]
    )

    # Any compared word can be looked up: its lists show, and the list grows to reach it.
    last = min(expected["words"], key=lambda w: -w["jaccard"])["word"]
    find = page.get_by_test_id("cm-find")
    find.fill(last)
    find.press("Enter")
    page.wait_for_function(
        "w => document.querySelector('[data-testid=cm-detail]')?.dataset.word === w", arg=last
    )
    assert page.locator(".w2v-cm-word-on").inner_text().startswith(last)
    find.fill("zzznotaword")
    find.press("Enter")
    page.get_by_text("“zzznotaword” was not compared.").wait_for()

    # Own words, one unknown: compared and missing are reported; the state is in the URL.
    page.get_by_test_id("cm-words").fill("government police zzzunknown")
    page.get_by_test_id("cm-k").fill("5")
    page.get_by_test_id("cm-k").press("Enter")
    page.get_by_test_id("cm-missing").wait_for()
    assert "zzzunknown" in page.get_by_test_id("cm-missing").inner_text()
    mine = tensorboard.get_json(
        f"/compare?run=run_a&model={MODEL}&run2=run_b&model2={MODEL}&k=5&words=government%20police%20zzzunknown"
    )
    assert mean.inner_text() == f"{mine['mean_jaccard']:.3f}"
    assert page.get_by_test_id("cm-changed").locator("li").count() == 2
    for word in ("government", "police"):
        page.locator(f"[data-testid=cm-changed] li[data-word={word}] button").click()
        page.wait_for_function(
            "w => document.querySelector('[data-testid=cm-detail]')?.dataset.word === w", arg=word
        )
        row = next(w for w in mine["words"] if w["word"] == word)
        for side in ("a", "b"):
            col = detail.get_by_test_id(f"cm-col-{side}")
            assert col.locator("tbody tr").evaluate_all("rs => rs.map(r => r.dataset.word)") == [
                n["word"] for n in row[side]
            ]
            highlighted = col.locator("tr.w2v-shared-all").evaluate_all("rs => rs.map(r => r.dataset.word)")
            assert highlighted == [n["word"] for n in row[side] if n["shared"]]
    state = page.evaluate("decodeURIComponent(location.hash)")
    assert "mode=models" in state and "ck=5" in state and "m2=run_b" in state

    # Neighbours from each model's whole vocabulary instead of the shared one.
    page.get_by_test_id("cm-scope").get_by_text("All words").click()
    every = tensorboard.get_json(
        f"/compare?run=run_a&model={MODEL}&run2=run_b&model2={MODEL}&k=5&scope=all"
        "&words=government%20police%20zzzunknown"
    )
    page.wait_for_function("decodeURIComponent(location.hash).includes('cscope=all')")
    page.wait_for_function(
        "t => document.querySelector('[data-testid=cm-mean-jaccard]')?.textContent === t",
        arg=f"{every['mean_jaccard']:.3f}",
    )


def test_compare_two_steps_of_one_model(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_steps&model=lee&step=1&mode=models&m2={quote('run_steps|lee|3')}")
    mean = page.get_by_test_id("cm-mean-jaccard")
    mean.wait_for(timeout=60_000)
    assert page.get_by_test_id("cm-step").input_value() == "3"
    expected = tensorboard.get_json("/compare?run=run_steps&model=lee&step=1&step2=3&n=1000&k=10")
    assert mean.inner_text() == f"{expected['mean_jaccard']:.3f}"
    screenshot(page, "compare-models-steps")


def test_model_words_are_text_in_compare_models(page, tensorboard):
    from frontend_fixtures import XSS_WORD

    m2 = quote(f"run_xss|{MODEL}|")
    open_tab(page, tensorboard, f"run=run_xss&model={MODEL}&mode=models&m2={m2}&ck=3")
    page.get_by_test_id("cm-mean-jaccard").wait_for(timeout=60_000)
    assert page.get_by_test_id("cm-mean-jaccard").inner_text() == "1.000"
    words = page.get_by_test_id("cm-changed").locator("li").evaluate_all("ls => ls.map(l => l.dataset.word)")
    assert XSS_WORD in words
    assert XSS_WORD in page.get_by_test_id("cm-changed").inner_text()
    assert page.evaluate("window.__xss") is None
    assert page.locator("[data-testid=cm-results] img, [data-testid=cm-results] script").count() == 0


def test_user_benchmark_file(page, tensorboard, screenshot):
    """A benchmark file in the run's plugins/word2vec/benchmarks/ is offered and scored as gensim does."""
    folder = os.path.join(tensorboard.logdir, "run_a", "plugins", "word2vec", "benchmarks")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "family-small.txt")
    with open(path, "w") as f:
        f.write(
            ": family\nhe she his her\nman woman he she\nhe she him her\n: <b>odd</b>\nsaid says told tells\n"
        )
    kv = gensim_kv(tensorboard, "run_a")
    score, sections = kv.evaluate_word_analogies(path)

    open_tab(page, tensorboard, f"run=run_a&model={MODEL}&mode=evaluate&bench=family-small.txt")
    accuracy = page.get_by_test_id("eval-accuracy")
    accuracy.wait_for(timeout=60_000)
    assert accuracy.inner_text() == percent(score)
    option = page.get_by_test_id("eval-benchmark").locator("option:checked").inner_text()
    assert option == "family-small.txt (analogies, this run)"
    names = page.locator("[data-testid=eval-sections] tbody tr").evaluate_all(
        "rs => rs.map(r => r.dataset.section)"
    )
    assert names == [s["section"] for s in sections[:-1]] == ["family", "<b>odd</b>"]
    assert page.locator("[data-testid=eval-sections] b").count() == 0
    # Sections of one kind only: no semantic/syntactic split.
    assert page.get_by_test_id("eval-syntactic").count() == 0
    screenshot(page, "evaluate-user-benchmark")


def test_evaluate_through_the_tensorboard_shell(page, tensorboard, screenshot):
    """In TensorBoard's own page the Evaluate state reaches the top URL and a link reopens it."""
    inner = f"run=run_a&model={MODEL}&mode=evaluate&bench=simlex999"
    page.goto(f"{tensorboard.url}/#word2vec&w2v={quote(inner, safe='')}")
    frame = page.frame_locator("iframe[src*='name=word2vec']")
    frame.get_by_test_id("eval-spearman").wait_for(timeout=60_000)
    assert frame.get_by_test_id("eval-benchmark").input_value() == "simlex999"
    screenshot(page, "evaluate-tensorboard-shell", full_page=False)
    frame.get_by_test_id("eval-benchmark").select_option("analogies")
    frame.get_by_test_id("eval-accuracy").wait_for(timeout=60_000)
    page.wait_for_function(
        "() => { const s = decodeURIComponent(location.hash);"
        " return s.includes('mode=evaluate') && !s.includes('bench='); }"
    )


def test_broken_model_error_in_place(page, tensorboard, screenshot):
    open_tab(page, tensorboard, f"run=run_x_broken&model={MODEL}&mode=evaluate")
    error = page.get_by_test_id("evaluate-results").get_by_test_id("error")
    error.wait_for(timeout=30_000)
    assert "truncated or corrupt" in error.inner_text()
    page.get_by_test_id("model-error").wait_for()
    assert page.get_by_test_id("eval-benchmark").input_value() == "analogies"
    screenshot(page, "evaluate-broken-model")
    page.get_by_test_id("run-select").select_option("run_a")
    page.get_by_test_id("eval-accuracy").wait_for(timeout=60_000)
    assert page.get_by_test_id("evaluate-results").get_by_test_id("error").count() == 0
