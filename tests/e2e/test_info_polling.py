"""The tab reads the plugin's limits from ``/info`` and refreshes one model's row, not the listing."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import PLUGIN_ROUTE, TensorBoard

pytestmark = pytest.mark.browser

ENTRY = "/data/plugin_entry.html?name=word2vec"


@pytest.fixture(scope="module")
def fresh_tensorboard(chromium_path, built_bundle, workdir):
    """A TensorBoard of its own, so that its model is not loaded yet when the page opens."""
    from gensim.models import Word2Vec
    from gensim.test.utils import common_texts

    logdir = os.path.join(workdir, "fresh-logs")
    os.makedirs(os.path.join(logdir, "run_fresh"), exist_ok=True)
    Word2Vec(common_texts, vector_size=16, min_count=1, seed=1, workers=1).save(
        os.path.join(logdir, "run_fresh", "w2v.model")
    )
    tb = TensorBoard(logdir, workdir)
    yield tb
    tb.stop()


def plugin_requests(requests: list[str], route: str) -> list[dict]:
    """The query strings of the page's requests to one plugin route."""
    found = []
    for url in requests:
        parts = urlsplit(url)
        if parts.path.endswith(PLUGIN_ROUTE + route):
            found.append(parse_qs(parts.query))
    return found


def test_limits_come_from_info_and_a_loaded_model_refreshes_only_its_row(page, fresh_tensorboard):
    info = fresh_tensorboard.get_json("/info")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(fresh_tensorboard.url + ENTRY + "#run=run_fresh&model=w2v.model")
    status = page.locator("[data-testid=model-info] .w2v-fact", has_text="Status")
    status.get_by_text("not loaded yet").wait_for()

    # The fields take their caps and labels from /info.
    assert page.get_by_test_id("k-input").get_attribute("max") == str(info["limits"]["k"])
    assert page.get_by_test_id("export-n").get_attribute("max") == str(info["limits"]["export_n"])
    page.get_by_test_id("tab-analogy").click()
    labels = page.get_by_test_id("method-switch").locator("label").all_inner_texts()
    assert labels == [m["label"] for m in info["methods"]]
    page.get_by_test_id("tab-neighbors").click()

    # A query loads the model; the tab then asks for that model's row only.
    page.get_by_test_id("query-input").fill("computer")
    page.get_by_test_id("query-input").press("Enter")
    page.locator("[data-testid=neighbors-table] tbody tr").first.wait_for()
    status.get_by_text("loaded", exact=True).wait_for()
    assert page.locator("[data-testid=model-info] .w2v-training summary").first.inner_text() == "Training parameters"

    assert len(plugin_requests(requests, "/info")) == 1
    listings = plugin_requests(requests, "/models")
    assert {} in listings, listings  # the listing, once at start
    rows = [q for q in listings if q]
    assert rows and all(q == {"run": ["run_fresh"], "model": ["w2v.model"]} for q in rows), listings
    assert listings.count({}) == 1, listings
