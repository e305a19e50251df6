/**
 * The Evaluate view's table across models: the chosen benchmark on each model's latest step,
 * one model at a time, sortable by any column, the best score marked.
 */
import { isAbort, type ModelInfo } from "../api";
import { h, setChildren } from "../dom";
import {
  benchmarkLabel,
  BEST_MIN_COVERAGE_SHARE,
  bestRows,
  coverageOf,
  coverageText,
  formatAccuracy,
  formatCoverage,
  formatScore,
  scoreOf,
  sortRows,
  type AnalogyResult,
  type BenchmarkInfo,
  type PairsResult,
  type RunRow,
  type SortDir,
  type SortKey,
} from "../evaluate";
import { formatInt } from "../format";
import { targetLabel, type Store } from "../store";
import { button } from "../widgets";
import { cancelOnServer, errorText, evaluateUntilDone } from "./evalcommon";
import { isChosen, modelChecklist } from "./modelpick";
import { Slot } from "../slot";

export class EvalTable {
  readonly el: HTMLElement;
  private readonly modelsPick = h("div", { class: "w2v-eval-pick" });
  private readonly tableOut = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "eval-models-out" });
  private readonly job = new Slot();
  private tableRows: RunRow[] = [];
  private tableKind = "analogies";
  private tableBench = "";
  private sortKey: SortKey = "score";
  private sortDir: SortDir = "desc";

  /** `benchmark()` is the benchmark chosen in the form above. */
  constructor(
    private readonly store: Store,
    private readonly benchmark: () => BenchmarkInfo | undefined,
  ) {
    this.el = h(
      "div",
      { class: "w2v-eval-section" },
      h("h3", { class: "w2v-subtitle" }, "All models of the log directory"),
      h("p", { class: "w2v-muted w2v-small" }, "The same benchmark on each model’s latest step, one row per run and model. Click a column header to sort."),
      this.modelsPick,
      this.tableOut,
    );
  }

  /** Shown: the model checkboxes, and the (empty) table unless one was filled. */
  render(): void {
    this.renderModelsPick();
    if (this.tableRows.length === 0) this.renderTable();
  }

  /** Stops the table: rows still to do say "cancelled". */
  cancel(): void {
    this.job.cancel();
    for (const row of this.tableRows) {
      if (row.pending) {
        cancelOnServer(this.store, { run: row.run, model: row.model, step: null });
        row.pending = false;
        row.error = "cancelled";
      }
    }
    this.renderTable();
  }

  private selectable(): ModelInfo[] {
    return this.store.models;
  }

  private isSelected(m: ModelInfo): boolean {
    return isChosen(this.store.state.esel, m);
  }

  renderModelsPick(): void {
    setChildren(
      this.modelsPick,
      modelChecklist(this.selectable(), () => this.store.state.esel, (esel) => this.store.setState({ esel }), "eval-pick"),
      h("div", { class: "w2v-form" }, button("Evaluate all models", () => void this.runTable(), { testId: "run-eval-all" })),
    );
  }

  private async runTable(): Promise<void> {
    const bench = this.benchmark();
    if (!bench) return;
    const signal = this.job.next();
    this.tableKind = bench.kind;
    this.tableBench = `${benchmarkLabel(bench)}${bench.kind === "analogies" ? `, ${this.store.methodLabel(this.store.state.method)}` : ""}, restrict_vocab ${formatInt(this.store.state.erv)}`;
    const chosen = this.selectable().filter((m) => this.isSelected(m));
    this.tableRows = chosen.map((m) => ({ run: m.run, model: m.model, step: m.step, result: null, error: m.status === "error" ? m.error ?? "failed to load" : null, pending: m.status !== "error" }));
    this.renderTable();
    // One model at a time: the plugin evaluates on two threads and keeps answering queries.
    for (const row of this.tableRows) {
      if (!row.pending) continue;
      try {
        row.result = await evaluateUntilDone(this.store, { run: row.run, model: row.model, step: null }, signal);
        row.step = row.result.step ?? row.step;
      } catch (e) {
        if (isAbort(e)) return;
        row.error = errorText(e);
      }
      row.pending = false;
      if (signal.aborted) return;
      this.renderTable();
    }
  }

  renderTable(): void {
    const rows = this.tableRows;
    if (rows.length === 0) {
      setChildren(this.tableOut);
      return;
    }
    const done = rows.filter((r) => !r.pending).length;
    const kind = this.tableKind;
    const analogies = kind === "analogies";
    const best = new Set(done === rows.length ? bestRows(rows) : []);
    const sorted = sortRows(rows, this.sortKey, this.sortDir);
    const header = (key: SortKey, text: string, num = true) => {
      const on = this.sortKey === key;
      return h(
        "th",
        { scope: "col", class: num ? "w2v-num" : null, "aria-sort": on ? (this.sortDir === "asc" ? "ascending" : "descending") : "none" },
        h(
          "button",
          {
            type: "button",
            class: "w2v-sort-btn",
            "data-testid": `eval-sort-${key}`,
            onclick: () => {
              if (this.sortKey === key) this.sortDir = this.sortDir === "asc" ? "desc" : "asc";
              else {
                this.sortKey = key;
                this.sortDir = key === "name" ? "asc" : "desc";
              }
              this.renderTable();
              (this.tableOut.querySelector(`[data-testid=eval-sort-${key}]`) as HTMLElement | null)?.focus();
            },
          },
          text,
          h("span", { class: "w2v-sort-mark", "aria-hidden": "true" }, on ? (this.sortDir === "asc" ? " ▲" : " ▼") : ""),
        ),
      );
    };
    const cell = (r: RunRow, v: number | null | undefined, fmt: (x: number) => string) =>
      h("td", { class: "w2v-num" }, r.pending ? "…" : v === null || v === undefined ? "–" : fmt(v));
    const body = sorted.map((r) => {
      const res = r.result;
      const a = res && res.kind === "analogies" ? (res as AnalogyResult) : null;
      const p = res && res.kind === "pairs" ? (res as PairsResult) : null;
      const isBest = best.has(r);
      const coverage = coverageOf(res);
      return h(
        "tr",
        {
          class: isBest ? "w2v-best" : null,
          "data-run": r.run,
          "data-model": r.model,
          "data-score": scoreOf(res) === null ? "" : String(scoreOf(res)),
          "data-coverage": coverage === null ? "" : String(coverage),
        },
        h("td", { class: "w2v-word-cell" }, targetLabel({ run: r.run, model: r.model, step: null }), isBest ? h("span", { class: "w2v-badge" }, "best") : null),
        h("td", { class: "w2v-num" }, r.step === null ? "–" : String(r.step)),
        r.error !== null
          ? h("td", { colspan: analogies ? 4 : 3, class: "w2v-error-cell", "data-testid": "eval-row-error" }, r.error)
          : [
              cell(r, scoreOf(res), (x) => formatScore(kind, x)),
              h("td", { class: "w2v-num w2v-coverage", title: res ? coverageText(res) : "" }, r.pending ? "…" : formatCoverage(coverage)),
              analogies ? cell(r, a?.semantic?.accuracy, formatAccuracy) : cell(r, p?.pearson?.r, (x) => x.toFixed(3)),
              analogies ? cell(r, a?.syntactic?.accuracy, formatAccuracy) : null,
            ],
      );
    });
    setChildren(
      this.tableOut,
      done < rows.length
        ? h("div", { class: "w2v-eval-progress", "data-testid": "eval-table-progress" }, h("progress", { max: rows.length, value: done, "aria-label": "Models evaluated" }), h("span", { class: "w2v-muted" }, `Evaluated ${done} of ${rows.length} models…`), button("Cancel", () => this.cancel(), { testId: "eval-table-cancel" }))
        : null,
      h(
        "table",
        { class: "w2v-table w2v-eval-table", "data-testid": "eval-models-table" },
        h("caption", null, this.tableBench),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            header("name", "Run / model", false),
            h("th", { scope: "col", class: "w2v-num" }, "Step"),
            header("score", analogies ? "Accuracy" : "Spearman ρ"),
            header("coverage", analogies ? "Coverage (questions answered)" : "Coverage (pairs used)"),
            analogies ? header("semantic", "Semantic") : h("th", { scope: "col", class: "w2v-num" }, "Pearson r"),
            analogies ? header("syntactic", "Syntactic") : null,
          ),
        ),
        h("tbody", null, body),
      ),
      done === rows.length
        ? h(
            "p",
            { class: "w2v-muted w2v-small", "data-testid": "eval-best-rule" },
            best.size
              ? `“best”: the highest score among the models that answered at least ${Math.round(BEST_MIN_COVERAGE_SHARE * 100)}% as many ${analogies ? "questions" : "pairs"} as the model that answered most (a model that knows few of the words is not ranked).`
              : `No model answered any ${analogies ? "question" : "pair"}: none is marked best.`,
          )
        : null,
    );
  }
}
