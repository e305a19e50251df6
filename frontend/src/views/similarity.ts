/** Similarity: the cosine similarity of two words, on a −1 … 1 scale. */
import * as client from "../client";
import { h, setChildren } from "../dom";
import { formatSim } from "../format";
import { button } from "../widgets";
import { WordInput } from "../wordinput";
import { ask, unknownWord } from "./common";
import { panel, type View, type ViewContext } from "./view";

export function similarityView(ctx: ViewContext): View {
  const { store } = ctx;
  const s = store.state;
  const out = h(
    "div",
    { class: "w2v-results", "aria-live": "polite", "data-testid": "similarity-results" },
    h("p", { class: "w2v-muted" }, "Cosine similarity of two word vectors: 1 for the same direction, 0 for unrelated, −1 for opposite."),
  );
  const s1Input = new WordInput({ label: "First word", value: s.s1, suggest: ctx.suggest, onEnter: run, testId: "sim-a", width: "180px" });
  const s2Input = new WordInput({ label: "Second word", value: s.s2, suggest: ctx.suggest, onEnter: run, testId: "sim-b", width: "180px" });

  function run(): void {
    const t = store.target();
    if (!t) return;
    const a = s1Input.value;
    const b = s2Input.value;
    store.setState({ s1: a, s2: b });
    if (!a || !b) {
      setChildren(out, h("p", { class: "w2v-muted" }, "Type two words."));
      return;
    }
    ask(ctx, out, {
      loading: "Loading…",
      request: (signal) => client.similarity(t, a, b, signal),
      show: (res) => setChildren(out, result(a, b, res.similarity)),
      suggestion: (w, e) => {
        if (s1Input.value === unknownWord(e)) s1Input.value = w;
        else s2Input.value = w;
        run();
      },
    });
  }

  const el = panel(
    "similarity",
    h("div", { class: "w2v-form" }, s1Input.el, s2Input.el, h("div", { class: "w2v-field w2v-field-end" }, button("Compute similarity", run, { primary: true, testId: "run-similarity" }))),
    out,
  );
  return {
    mode: "similarity",
    label: "Similarity",
    el,
    run() {
      if (store.state.s1 && store.state.s2) run();
    },
  };
}

function result(a: string, b: string, sim: number): HTMLElement {
  // Cosine similarity runs from -1 to 1; draw it on that full range.
  const pct = Math.max(0, Math.min(100, ((sim + 1) / 2) * 100));
  return h(
    "div",
    { class: "w2v-sim-result" },
    h("p", { class: "w2v-summary" }, "Cosine similarity of ", h("strong", null, a), " and ", h("strong", null, b)),
    h("div", { class: "w2v-big-number", "data-testid": "similarity-value" }, formatSim(sim)),
    h(
      "div",
      { class: "w2v-scale", "aria-hidden": "true" },
      h("div", { class: "w2v-scale-track" }, h("div", { class: "w2v-scale-mark", style: `left:${pct.toFixed(1)}%` })),
      h("div", { class: "w2v-scale-labels" }, h("span", null, "−1 opposite"), h("span", null, "0 unrelated"), h("span", null, "1 same")),
    ),
  );
}
