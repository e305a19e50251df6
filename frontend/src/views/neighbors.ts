/** Neighbours: the nearest words of one word, drawn in 2-D, and sending them to the Projector. */
import * as client from "../client";
import { h, setChildren } from "../dom";
import { targetLabel } from "../store";
import { button, numberField, resultsTable } from "../widgets";
import { WordInput } from "../wordinput";
import { ask, kField } from "./common";
import { projectorExport } from "./export";
import { followQuery, panel, type View, type ViewContext } from "./view";

export function neighborsView(ctx: ViewContext): View {
  const { store, plot } = ctx;
  const s = store.state;
  const out = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "neighbors-results" });
  const qInput = new WordInput({
    label: "Word",
    value: s.q,
    placeholder: "e.g. government",
    suggest: ctx.suggest,
    onEnter: () => run(),
    testId: "query-input",
    width: "180px",
  });
  followQuery(ctx, qInput);
  const rv = numberField("Most frequent only", s.rv, {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    placeholder: "all words",
    width: "112px",
    onChange: (v) => store.setState({ rv: v }),
    onEnter: () => run(),
    testId: "rv-input",
    title: "restrict_vocab: search only among the N most frequent words",
  });
  const exact = h("input", { type: "checkbox", id: "w2v-exact", checked: s.exact, onchange: (ev: Event) => store.setState({ exact: (ev.target as HTMLInputElement).checked }) });
  const exactField = h(
    "div",
    { class: "w2v-field w2v-check", title: "Scan every vector instead of using the model's approximate search index" },
    exact,
    h("label", { for: "w2v-exact" }, "Exact search"),
  );
  const exporter = projectorExport(ctx, () => qInput.value || store.state.q);
  const view: Omit<View, "el"> = {
    mode: "neighbors" as const,
    label: "Neighbours",
    plot: true,
    run() {
      if (store.state.q) run();
      else plot.clear("Run a query to see its neighbourhood in 2-D.");
    },
    modelsChanged() {
      exactField.hidden = !store.current()?.index;
    },
    /** Makes `word` the query, runs it and puts the focus in the word field. */
    query(word: string) {
      qInput.value = word;
      store.setState({ q: word });
      run();
      qInput.focus();
    },
  };
  const el = panel(
    "neighbors",
    // The word and its button share a row, the settings have their own: the form never wraps
    // the button under the word's suggestion list (the Exact search box appears once a model
    // with an index has loaded).
    h(
      "div",
      { class: "w2v-form w2v-form-query" },
      qInput.el,
      h("div", { class: "w2v-field w2v-field-end" }, button("Find neighbours", () => run(), { primary: true, testId: "run-neighbors" })),
    ),
    h("div", { class: "w2v-form", "data-testid": "neighbors-settings" }, kField(ctx, () => view.run(), "k-input"), rv.el, exactField),
    out,
    exporter.el,
  );

  function run(): void {
    const t = store.target();
    const word = qInput.value;
    store.setState({ q: word });
    if (!t) return;
    if (!word) {
      setChildren(out, h("p", { class: "w2v-muted" }, "Type a word and press Enter."));
      return;
    }
    plot.plot.setLoading();
    exporter.clear();
    const st = store.state;
    ask(ctx, out, {
      loading: `Finding the neighbours of “${word}”…`,
      request: (signal) => client.neighbors(t, word, st.k, { restrict_vocab: st.rv, exact: st.exact && !!store.current()?.index }, signal),
      show: (res) => {
        const rows = res.neighbors ?? [];
        setChildren(
          out,
          h("p", { class: "w2v-summary" }, "Nearest neighbours of ", h("strong", { class: "w2v-query-word" }, res.word ?? word), ` by cosine similarity (${targetLabel(t)})`),
          resultsTable(rows, { onPick: (w) => ctx.queryWord(w), onHover: (w) => plot.plot.highlight(w), testId: "neighbors-table" }),
        );
        const sims = new Map(rows.map((r) => [r.word, r.similarity]));
        const query = res.word ?? word;
        void plot.project(t, {
          words: [query, ...rows.map((r) => r.word)],
          role: (w) => (w === query ? "query" : "neighbor"),
          similarity: (w) => (w === query ? 1 : sims.get(w) ?? null),
          arrows: [],
          similarityTo: `“${query}”`,
          title: `Neighbourhood of “${query}”`,
        });
      },
      suggestion: (w) => ctx.queryWord(w),
      failed: () => plot.clear("Nothing to show."),
    });
  }

  return { ...view, el };
}
