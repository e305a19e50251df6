/** Compare a query: one word or expression on several models side by side, with their overlap. */
import type { WordRow } from "../api";
import * as client from "../client";
import { h, setChildren, type Child } from "../dom";
import { looksLikeExpression, parseExpression } from "../expr";
import { formatSim } from "../format";
import { jaccardMatrix, occurrenceCounts, sharedByAll } from "../overlap";
import type { Target } from "../state";
import { targetLabel } from "../store";
import { button, errorBox, loadingBox, resultsTable, selectField } from "../widgets";
import { WordInput } from "../wordinput";
import { kField } from "./common";
import { Slot } from "../slot";
import { followQuery, panel, type View, type ViewContext } from "./view";

interface Column {
  target: Target;
  rows: WordRow[];
  error: unknown;
}

export function compareView(ctx: ViewContext): View {
  const { store } = ctx;
  const targetsEl = h("div", { class: "w2v-compare-targets", "data-testid": "compare-targets" });
  const out = h("div", { class: "w2v-compare-out", "aria-live": "polite", "data-testid": "compare-results" });
  const slot = new Slot();
  const runC = () => void run();
  const input = new WordInput({ label: "Word or expression", value: store.state.q, placeholder: "e.g. government", tokens: true, suggest: ctx.suggest, onEnter: runC, testId: "compare-input", width: "260px" });
  followQuery(ctx, input);

  /** The chosen model first, then the others to compare with. */
  const targets = (): Target[] => {
    const t = store.target();
    return t ? [t, ...store.state.cmp] : [...store.state.cmp];
  };

  function renderTargets(): void {
    if (store.state.mode !== "compare") return;
    const all = targets();
    if (store.state.cmp.length === 0 && store.models.length > 0) {
      const extra = store.suggestTarget(all);
      if (extra) {
        store.setState({ cmp: [extra] });
        return renderTargets();
      }
    }
    const rows = all.map((t, i) => (i === 0 ? currentRow(t) : targetRow(t, i - 1)));
    const add = button("+ Add model", () => {
      const extra = store.suggestTarget(targets());
      if (!extra) return;
      store.setState({ cmp: [...store.state.cmp, extra] });
      renderTargets();
    }, { testId: "compare-add" });
    setChildren(targetsEl, h("ol", { class: "w2v-target-list" }, rows), add);
  }

  const currentRow = (t: Target) =>
    h("li", { class: "w2v-target w2v-target-current" }, h("span", { class: "w2v-target-name" }, targetLabel(t)), h("span", { class: "w2v-muted w2v-small" }, " (chosen above)"));

  /** The pickers of the `j`-th extra model (`i = j + 1` in the list and the test ids). */
  function targetRow(t: Target, j: number): HTMLElement {
    const i = j + 1;
    const update = (patch: Partial<Target>) => {
      const cmp = [...store.state.cmp];
      cmp[j] = { ...cmp[j], ...patch };
      store.setState({ cmp });
      renderTargets();
    };
    const run = selectField("Run", store.runs().map((r) => ({ value: r, label: r === "." ? "(root)" : r })), t.run, (r) => {
      const ms = store.modelsOf(r);
      update({ run: r, model: (ms.find((m) => m.model === t.model) ?? ms[0])?.model ?? t.model, step: null });
    }, `compare-run-${i}`);
    const model = selectField("Model", store.modelsOf(t.run).map((m) => ({ value: m.model, label: m.model })), t.model, (m) => update({ model: m, step: null }), `compare-model-${i}`);
    const steps = store.find(t.run, t.model)?.steps ?? [];
    const step = selectField(
      "Step",
      [{ value: "", label: "latest" }, ...[...steps].reverse().map((st) => ({ value: String(st), label: String(st) }))],
      t.step === null ? "" : String(t.step),
      (v) => update({ step: v === "" ? null : Number(v) }),
      `compare-step-${i}`,
    );
    step.select.disabled = steps.length <= 1;
    const remove = button("Remove", () => {
      store.setState({ cmp: store.state.cmp.filter((_, x) => x !== j) });
      renderTargets();
    }, { title: "Remove this model from the comparison" });
    return h("li", { class: "w2v-target" }, h("div", { class: "w2v-form" }, run.el, model.el, step.el, h("div", { class: "w2v-field w2v-field-end" }, remove)));
  }

  async function run(): Promise<void> {
    const query = input.value;
    store.setState({ q: query });
    const all = targets();
    if (!query) {
      setChildren(out, h("p", { class: "w2v-muted" }, "Type a word or an expression."));
      return;
    }
    let terms: client.Terms | null = null;
    if (looksLikeExpression(query)) {
      try {
        terms = parseExpression(query);
      } catch (e) {
        setChildren(out, errorBox(e));
        return;
      }
    }
    const signal = slot.next();
    const { k, method, rv } = store.state;
    setChildren(out, loadingBox(`Querying ${all.length} models…`));
    const results: Column[] = await Promise.all(
      all.map(async (t) => {
        try {
          const res = terms ? await client.analogy(t, terms, k, method, signal) : await client.neighbors(t, query, k, { restrict_vocab: rv }, signal);
          return { target: t, rows: res.neighbors ?? [], error: null };
        } catch (e) {
          return { target: t, rows: [], error: e };
        }
      }),
    );
    if (signal.aborted) return;
    render(results, k, terms !== null && method === "3cosmul" ? "3CosMul score" : undefined);
  }

  function render(results: Column[], k: number, scoreLabel?: string): void {
    const ok = results.filter((r) => r.error === null);
    const lists = ok.map((r) => r.rows.map((x) => x.word));
    const counts = occurrenceCounts(lists);
    const nOk = ok.length;
    const columns = results.map((r, i) =>
      h(
        "div",
        { class: "w2v-compare-col", "data-testid": `compare-col-${i}` },
        h("h3", { class: "w2v-subtitle" }, `#${i + 1} `, targetLabel(r.target)),
        r.error !== null
          ? errorBox(r.error, (w) => {
              input.value = w;
              void run();
            })
          : resultsTable(r.rows, {
              onPick: (w) => ctx.queryWord(w),
              scoreLabel,
              rowClass: (row) => {
                const c = counts.get(row.word) ?? 0;
                return nOk >= 2 && c === nOk ? "w2v-shared-all" : c >= 2 ? "w2v-shared-some" : null;
              },
            }),
      ),
    );
    setChildren(out, nOk >= 2 ? summary(ok, lists, k) : null, h("div", { class: "w2v-compare-cols" }, columns));
  }

  const el = panel(
    "compare",
    h("p", { class: "w2v-muted w2v-small" }, "Runs the same query on several models, runs or training steps. Words found by more than one model are highlighted; the Jaccard index measures how much the top-k lists overlap."),
    targetsEl,
    h("div", { class: "w2v-form" }, input.el, kField(ctx, runC), h("div", { class: "w2v-field w2v-field-end" }, button("Compare", runC, { primary: true, testId: "run-compare" }))),
    out,
  );
  return {
    mode: "compare",
    label: "Compare a query",
    el,
    run() {
      if (store.state.q) void run();
    },
    shown: renderTargets,
    targetChanged: renderTargets,
  };
}

/** Jaccard overlap of the answered lists: one figure for two, a matrix for more. */
function summary(ok: Column[], lists: string[][], k: number): HTMLElement {
  const shared = sharedByAll(lists);
  const matrix = jaccardMatrix(lists);
  const nOk = ok.length;
  const plural = shared.length === 1 ? "" : "s";
  const body: Child =
    nOk === 2
      ? h("p", { class: "w2v-summary" }, "Jaccard overlap of the two top-", String(k), " lists: ", h("strong", { "data-testid": "jaccard" }, formatSim(matrix[0][1], 2)), ` (${shared.length} shared word${plural})`)
      : [
          h("p", { class: "w2v-summary" }, `${shared.length} word${plural} shared by all ${nOk} lists. Pairwise Jaccard overlap:`),
          h(
            "table",
            { class: "w2v-table w2v-matrix", "data-testid": "jaccard-matrix" },
            h("thead", null, h("tr", null, h("th", null, ""), ok.map((r, i) => h("th", { scope: "col", title: targetLabel(r.target) }, `#${i + 1}`)))),
            h("tbody", null, ok.map((r, i) => h("tr", null, h("th", { scope: "row", title: targetLabel(r.target) }, `#${i + 1} ${targetLabel(r.target)}`), matrix[i].map((v) => h("td", { class: "w2v-num" }, formatSim(v, 2)))))),
          ),
        ];
  return h(
    "div",
    { class: "w2v-compare-summary", "data-testid": "compare-summary" },
    body,
    h(
      "p",
      { class: "w2v-legend w2v-small" },
      h("span", { class: "w2v-swatch w2v-shared-all" }),
      nOk === 2 ? " in both lists" : " in every list",
      nOk > 2 ? ["  ", h("span", { class: "w2v-swatch w2v-shared-some" }), " in some lists"] : null,
    ),
  );
}
