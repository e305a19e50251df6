/** Analogy: a : b :: c : ? or an expression like `king - man + woman`, with offset arrows in 2-D. */
import type { WordRow } from "../api";
import * as client from "../client";
import { h, setChildren } from "../dom";
import { analogyTerms, ExpressionError, formatExpression, parseExpression } from "../expr";
import type { PlotArrow, PointRole } from "../plot";
import { button, errorBox, resultsTable, segmented } from "../widgets";
import { WordInput } from "../wordinput";
import { ask, kField, methodSwitch, unknownWord } from "./common";
import { panel, type View, type ViewContext } from "./view";

export function analogyView(ctx: ViewContext): View {
  const { store, plot } = ctx;
  const s = store.state;
  const out = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "analogy-results" });
  const word = (label: string, value: string, placeholder: string, testId: string) =>
    new WordInput({ label, value, placeholder, suggest: ctx.suggest, onEnter: run, testId, width: "140px" });
  const aInput = word("a", s.a, "man", "analogy-a");
  const bInput = word("is to b", s.b, "king", "analogy-b");
  const cInput = word("as c", s.c, "woman", "analogy-c");
  const exprInput = new WordInput({ label: "Expression", value: s.expr, placeholder: "king - man + woman", tokens: true, suggest: ctx.suggest, onEnter: run, testId: "analogy-expr", width: "320px" });
  const abcForm = h("div", { class: "w2v-form", "data-testid": "analogy-abc" }, aInput.el, bInput.el, cInput.el, h("div", { class: "w2v-field w2v-field-end w2v-is-to" }, "is to ?"));
  const exprForm = h(
    "div",
    { class: "w2v-form", "data-testid": "analogy-expr-form" },
    exprInput.el,
    h("p", { class: "w2v-hint w2v-field-end" }, "Separate + and − from words with spaces."),
  );
  const showForm = (f: "abc" | "expr") => {
    abcForm.hidden = f !== "abc";
    exprForm.hidden = f !== "expr";
  };
  showForm(s.aform);

  /** The terms the form holds (and puts them in the state). */
  function query(): { positive: string[]; negative: string[] } {
    if (store.state.aform === "abc") {
      const [a, b, c] = [aInput.value, bInput.value, cInput.value];
      store.setState({ a, b, c });
      if (!a || !b || !c) throw new ExpressionError("Fill in all three words: a is to b as c is to ?");
      return analogyTerms(a, b, c);
    }
    const expr = exprInput.value;
    store.setState({ expr });
    return parseExpression(expr);
  }

  function run(): void {
    const t = store.target();
    if (!t) return;
    let terms: { positive: string[]; negative: string[] };
    try {
      terms = query();
    } catch (e) {
      setChildren(out, errorBox(e));
      return;
    }
    const st = store.state;
    plot.plot.setLoading();
    ask(ctx, out, {
      loading: "Solving…",
      request: (signal) => client.analogy(t, terms, st.k, st.method, signal),
      show: (res) => {
        const rows: WordRow[] = res.neighbors ?? [];
        const pos = res.positive ?? terms.positive;
        const neg = res.negative ?? terms.negative;
        const top = rows[0]?.word;
        const cosmul = (res.method ?? st.method) === "3cosmul";
        const summary =
          pos.length === 2 && neg.length === 1
            ? [h("strong", null, neg[0]), " is to ", h("strong", null, pos[0]), " as ", h("strong", null, pos[1]), " is to ", h("strong", { class: "w2v-answer", "data-testid": "analogy-answer" }, top ?? "?")]
            : [h("code", null, formatExpression(pos, neg)), " ≈ ", h("strong", { class: "w2v-answer", "data-testid": "analogy-answer" }, top ?? "?")];
        setChildren(
          out,
          h("p", { class: "w2v-summary" }, summary, h("span", { class: "w2v-muted" }, ` (${store.methodLabel(st.method)})`)),
          resultsTable(rows, {
            onPick: (w) => ctx.queryWord(w),
            onHover: (w) => plot.plot.highlight(w),
            testId: "analogy-table",
            // 3CosMul scores are ratios of shifted cosines, not similarities: they can exceed 1.
            scoreLabel: cosmul ? "3CosMul score" : undefined,
          }),
        );
        const sims = new Map(rows.map((r) => [r.word, r.similarity]));
        const arrows: PlotArrow[] = [];
        if (pos.length === 2 && neg.length === 1 && top) {
          arrows.push({ from: neg[0], to: pos[0], kind: "offset" }, { from: pos[1], to: top, kind: "result" });
        } else if (top) {
          for (const p of pos) arrows.push({ from: p, to: top, kind: "result" });
        }
        const roleOf = (w: string): PointRole => (pos.includes(w) ? "positive" : neg.includes(w) ? "negative" : w === top ? "result" : "neighbor");
        void plot.project(t, {
          words: [...neg, ...pos, ...rows.map((r) => r.word)],
          role: roleOf,
          similarity: (w) => sims.get(w) ?? null,
          arrows,
          similarityTo: "the analogy target",
          scoreName: cosmul ? "3CosMul score" : undefined,
          title: `Analogy ${formatExpression(pos, neg)}`,
        });
      },
      suggestion: (w, e) => replaceWord(e, w),
      failed: () => plot.clear("Nothing to show."),
    });
  }

  /** Puts a suggested word in place of the unknown one and runs the analogy again. */
  function replaceWord(err: unknown, suggestion: string): void {
    const unknown = unknownWord(err) ?? undefined;
    if (store.state.aform === "abc") {
      for (const input of [aInput, bInput, cInput]) {
        if (unknown !== undefined && input.value === unknown) input.value = suggestion;
      }
    } else if (unknown !== undefined) {
      exprInput.value = exprInput.value
        .split(/(\s+)/)
        .map((tok) => (tok === unknown ? suggestion : tok.replace(/^([+\-\u2212])(.*)$/, (all, op, w) => (w === unknown ? op + suggestion : all))))
        .join("");
    }
    run();
  }

  const el = panel(
    "analogy",
    segmented(
      "Ask as",
      [
        { value: "abc", label: "a : b :: c : ?" },
        { value: "expr", label: "Expression" },
      ],
      s.aform,
      (v) => {
        store.setState({ aform: v });
        showForm(v);
      },
      "analogy-form-switch",
    ),
    abcForm,
    exprForm,
    h(
      "div",
      { class: "w2v-form" },
      methodSwitch(ctx, "method-switch"),
      kField(ctx, run),
      h("div", { class: "w2v-field w2v-field-end" }, button("Solve", run, { primary: true, testId: "run-analogy" })),
    ),
    out,
  );

  return {
    mode: "analogy",
    label: "Analogy",
    el,
    plot: true,
    run() {
      const st = store.state;
      if ((st.aform === "abc" && st.a && st.b && st.c) || (st.aform === "expr" && st.expr)) run();
      else plot.clear("Solve an analogy to see its offset vectors.");
    },
  };
}
