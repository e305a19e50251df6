/** Odd one out: of three or more words, the one farthest from the mean of the others. */
import * as client from "../client";
import { h, setChildren } from "../dom";
import { splitWords } from "../expr";
import { button } from "../widgets";
import { WordInput } from "../wordinput";
import { ask, unknownWord } from "./common";
import { panel, type View, type ViewContext } from "./view";

export function oddView(ctx: ViewContext): View {
  const { store } = ctx;
  const out = h(
    "div",
    { class: "w2v-results", "aria-live": "polite", "data-testid": "odd-results" },
    h("p", { class: "w2v-muted" }, "Type three or more words; the one farthest from the mean of the others is picked."),
  );
  const input = new WordInput({ label: "Words (separated by spaces)", value: store.state.odd.join(" "), placeholder: "breakfast cereal dinner lunch", tokens: true, suggest: ctx.suggest, onEnter: run, testId: "odd-input", width: "360px" });

  function run(): void {
    const t = store.target();
    if (!t) return;
    const words = splitWords(input.value);
    store.setState({ odd: words });
    if (words.length < 3) {
      setChildren(out, h("p", { class: "w2v-muted" }, "Type at least three words."));
      return;
    }
    ask(ctx, out, {
      loading: "Loading…",
      request: (signal) => client.doesntMatch(t, words, signal),
      show: (res) =>
        setChildren(
          out,
          h("p", { class: "w2v-summary" }, "The word that fits least with the others is ", h("strong", { class: "w2v-answer", "data-testid": "odd-answer" }, res.word), "."),
          h(
            "div",
            { class: "w2v-chips" },
            words.map((w) => h("button", { type: "button", class: w === res.word ? "w2v-chip w2v-chip-odd" : "w2v-chip", onclick: () => ctx.queryWord(w), title: `Show the neighbours of “${w}”` }, w)),
          ),
        ),
      suggestion: (w, e) => {
        const bad = unknownWord(e);
        input.value = splitWords(input.value).map((x) => (x === bad ? w : x)).join(" ");
        run();
      },
    });
  }

  const el = panel(
    "odd",
    h("div", { class: "w2v-form" }, input.el, h("div", { class: "w2v-field w2v-field-end" }, button("Find the odd one out", run, { primary: true, testId: "run-odd" }))),
    out,
  );
  return {
    mode: "odd",
    label: "Odd one out",
    el,
    run() {
      if (store.state.odd.length) run();
    },
  };
}
