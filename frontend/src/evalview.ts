/**
 * The Evaluate mode: one benchmark on the chosen model (per-section accuracy bars), the same
 * benchmark on every model of the logdir (a sortable table), and over the training steps of
 * one model (a line chart). The plugin answers 202 while it computes; we poll with backoff.
 */
import { getJSON, isAbort, postJSON, type ModelInfo } from "./api";
import { h, setChildren, uid } from "./dom";
import {
  benchmarkLabel,
  bestRow,
  formatAccuracy,
  formatScore,
  pollUntilDone,
  progressText,
  scoreDomain,
  scoreName,
  scoreOf,
  sortRows,
  stepSeries,
  type AnalogyResult,
  type BenchmarkInfo,
  type EvalResult,
  type PairsResult,
  type RunRow,
  type SectionResult,
  type SortDir,
  type SortKey,
} from "./evaluate";
import { formatInt, formatSim } from "./format";
import { LineChart } from "./linechart";
import { ERV_DEFAULT, type Method, type State, type Target } from "./state";
import { button, errorBox, loadingBox, numberField, segmented, selectField } from "./widgets";

export interface EvalHost {
  target(): Target | null;
  models(): ModelInfo[];
  state(): State;
  setState(patch: Partial<State>): void;
  label(t: Target): string;
  /** A route answered for the chosen model: it is loaded now, so its details can be refreshed. */
  loaded(): void;
}

/** One async job at a time; a newer one (or cancel) aborts the older. */
class Job {
  private controller: AbortController | null = null;
  next(): AbortSignal {
    this.controller?.abort();
    this.controller = new AbortController();
    return this.controller.signal;
  }
  cancel(): void {
    this.controller?.abort();
    this.controller = null;
  }
}

const BUILTIN_BENCHMARKS: BenchmarkInfo[] = [
  { name: "analogies", kind: "analogies", source: "builtin" },
  { name: "wordsim353", kind: "pairs", source: "builtin" },
  { name: "simlex999", kind: "pairs", source: "builtin" },
];

const POLL_WAIT_SECONDS = 2; // how long one request lets the plugin compute before it answers 202

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function modelKey(run: string, model: string): string {
  return `${run}\u0000${model}`;
}

export class EvaluateView {
  readonly el: HTMLElement;
  private readonly host: EvalHost;
  private benchmarks: BenchmarkInfo[] = [];
  private benchmarksFor: string | null = null;
  private readonly formEl = h("div", { class: "w2v-form" });
  private readonly out = h("div", { class: "w2v-results w2v-eval-out", "aria-live": "polite", "data-testid": "evaluate-results" });
  private readonly modelsPick = h("div", { class: "w2v-eval-pick" });
  private readonly tableOut = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "eval-models-out" });
  private readonly stepsControls = h("div", { class: "w2v-form" });
  private readonly stepsOut = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "eval-steps-out" });
  private readonly chart = new LineChart("Score over training steps", "eval-steps-chart");
  private readonly one = new Job();
  private readonly table = new Job();
  private readonly steps = new Job();
  private tableRows: RunRow[] = [];
  private tableKind = "analogies";
  private tableBench = "";
  private stepsRunning = false;
  private sortKey: SortKey = "score";
  private sortDir: SortDir = "desc";

  constructor(host: EvalHost) {
    this.host = host;
    this.el = h(
      "div",
      { class: "w2v-eval" },
      h("p", { class: "w2v-muted w2v-small" }, "Scores a model on a benchmark the way gensim does: analogy questions (a : b :: c : ?, accuracy of the top answer) or word pairs rated by people (correlation with the model’s cosine similarity). Questions with a word outside the first restrict_vocab words are skipped."),
      this.formEl,
      this.out,
      h(
        "div",
        { class: "w2v-eval-section" },
        h("h3", { class: "w2v-subtitle" }, "All models of the log directory"),
        h("p", { class: "w2v-muted w2v-small" }, "The same benchmark on each model’s latest step, one row per run and model. Click a column header to sort."),
        this.modelsPick,
        this.tableOut,
      ),
      h(
        "div",
        { class: "w2v-eval-section" },
        h("h3", { class: "w2v-subtitle" }, "Over training steps"),
        this.stepsControls,
        this.stepsOut,
      ),
    );
  }

  /** The model, step or run changed: stop whatever runs and start over. */
  targetChanged(): void {
    this.one.cancel();
    this.steps.cancel();
    this.stepsRunning = false;
    this.benchmarksFor = null;
    setChildren(this.stepsOut);
    this.renderStepsControls();
  }

  /** Another mode is shown: stop polling for this model (the table across models goes on). */
  cancelAll(): void {
    this.one.cancel();
    if (this.stepsRunning) {
      this.steps.cancel();
      this.stepsRunning = false;
      setChildren(this.stepsOut, h("p", { class: "w2v-muted" }, "Stopped when another mode was shown; press Evaluate every step to start again."));
    }
  }

  private cancelTable(): void {
    this.table.cancel();
    for (const row of this.tableRows) {
      if (row.pending) {
        this.cancelOnServer({ run: row.run, model: row.model, step: null });
        row.pending = false;
        row.error = "cancelled";
      }
    }
    this.renderTable();
  }

  /** Shown: load the benchmark list for this model, then evaluate. */
  async activate(): Promise<void> {
    const t = this.host.target();
    if (!t) return;
    this.renderModelsPick();
    this.renderStepsControls();
    if (this.tableRows.length === 0) this.renderTable();
    const key = `${modelKey(t.run, t.model)}\u0000${t.step ?? ""}`;
    if (this.benchmarksFor !== key) {
      const signal = this.one.next();
      setChildren(this.out, loadingBox("Looking for benchmarks…"));
      try {
        const res = await getJSON<{ benchmarks: BenchmarkInfo[] }>("evaluate", { run: t.run, model: t.model, step: t.step }, signal);
        if (signal.aborted) return;
        this.benchmarks = Array.isArray(res.benchmarks) ? res.benchmarks : [];
        this.benchmarksFor = key;
      } catch (e) {
        if (isAbort(e)) return;
        this.host.loaded();
        // The built-in benchmarks are always there: keep the form usable for a retry.
        if (this.benchmarks.length === 0) this.benchmarks = BUILTIN_BENCHMARKS;
        this.renderForm();
        setChildren(this.out, errorBox(e));
        return;
      }
    }
    this.renderForm();
    void this.runOne();
  }

  private benchmark(): BenchmarkInfo | undefined {
    return this.benchmarks.find((b) => b.name === this.host.state().bench);
  }

  private renderForm(): void {
    const s = this.host.state();
    if (this.benchmarks.length && !this.benchmark()) this.host.setState({ bench: this.benchmarks[0].name });
    const bench = selectField(
      "Benchmark",
      this.benchmarks.map((b) => ({ value: b.name, label: benchmarkLabel(b) })),
      this.host.state().bench,
      (v) => {
        this.host.setState({ bench: v });
        this.renderForm();
        void this.runOne();
      },
      "eval-benchmark",
    );
    bench.select.classList.add("w2v-select-wide");
    const isAnalogies = (this.benchmark()?.kind ?? "analogies") === "analogies";
    const method = segmented<Method>(
      "Method",
      [
        { value: "3cosadd", label: "3CosAdd" },
        { value: "3cosmul", label: "3CosMul" },
      ],
      s.method,
      (v) => {
        this.host.setState({ method: v });
        void this.runOne();
      },
      "eval-method",
    );
    method.hidden = !isAnalogies;
    const rv = numberField("restrict_vocab", s.erv, {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
      width: "112px",
      onChange: (v) => this.host.setState({ erv: v ?? ERV_DEFAULT }),
      onEnter: () => void this.runOne(),
      testId: "eval-rv",
      title: "Only the N most frequent words count as known (gensim’s default: 300,000)",
    });
    setChildren(
      this.formEl,
      bench.el,
      method,
      rv.el,
      h("div", { class: "w2v-field w2v-field-end" }, button("Evaluate", () => void this.runOne(), { primary: true, testId: "run-evaluate" })),
    );
  }

  private params(t: Target) {
    const s = this.host.state();
    return { run: t.run, model: t.model, step: t.step, benchmark: s.bench, method: s.method, restrict_vocab: s.erv, wait: POLL_WAIT_SECONDS };
  }

  private evaluate(t: Target, signal: AbortSignal, onRunning?: (attempt: number, answer: EvalResult) => void): Promise<EvalResult> {
    const params = this.params(t);
    return pollUntilDone((sig) => getJSON<EvalResult>("evaluate", params, sig), { signal, onRunning });
  }

  private running(what: string, attempt: number, onCancel: () => void, answer?: EvalResult): HTMLElement {
    const progress = progressText(answer);
    return h(
      "div",
      { "data-testid": "eval-running" },
      loadingBox(`${what}${attempt > 0 ? ` Still running in TensorBoard (checked ${attempt} time${attempt === 1 ? "" : "s"}); large models take a while.` : ""}`),
      progress ? h("p", { class: "w2v-muted", "data-testid": "eval-progress" }, progress) : null,
      button("Cancel", onCancel, { testId: "eval-cancel" }),
    );
  }

  /** Asks the plugin to stop the evaluation of `t` (best effort: the answer is not needed). */
  private cancelOnServer(t: Target): void {
    const { wait: _wait, ...params } = this.params(t);
    postJSON("evaluate/cancel", params).catch(() => undefined);
  }

  // ---------------------------------------------------------------- one model

  async runOne(): Promise<void> {
    const t = this.host.target();
    if (!t || !this.benchmark()) return;
    const signal = this.one.next();
    const cancel = () => {
      this.one.cancel();
      this.cancelOnServer(t);
      setChildren(this.out, h("p", { class: "w2v-muted" }, "Cancelled. Press Evaluate to start again."));
    };
    const what = `Evaluating ${this.host.label(t)} on ${this.host.state().bench}…`;
    setChildren(this.out, this.running(what, 0, cancel));
    try {
      const res = await this.evaluate(t, signal, (n, answer) => setChildren(this.out, this.running(what, n, cancel, answer)));
      if (signal.aborted) return;
      this.host.loaded();
      setChildren(this.out, res.kind === "analogies" ? analogyView(res as AnalogyResult) : pairsView(res as PairsResult));
    } catch (e) {
      if (isAbort(e)) return;
      this.host.loaded();
      setChildren(this.out, errorBox(e));
    }
  }

  // ---------------------------------------------------------------- all models

  private selectable(): ModelInfo[] {
    return this.host.models();
  }

  private isSelected(m: ModelInfo): boolean {
    const sel = this.host.state().esel;
    return sel.length === 0 || sel.some((t) => t.run === m.run && t.model === m.model);
  }

  private renderModelsPick(): void {
    const models = this.selectable();
    const boxes = models.map((m) => {
      const id = uid("chk");
      return h(
        "span",
        { class: "w2v-check w2v-check-inline" },
        h("input", {
          type: "checkbox",
          id,
          checked: this.isSelected(m),
          "data-testid": `eval-pick-${m.run}/${m.model}`,
          onchange: (ev: Event) => {
            const on = (ev.target as HTMLInputElement).checked;
            const current = models.filter((x) => (x === m ? on : this.isSelected(x)));
            // All chosen is stored as "none listed", which also takes in models found later.
            const esel = current.length === models.length ? [] : current.map((x) => ({ run: x.run, model: x.model, step: null }));
            this.host.setState({ esel });
          },
        }),
        h("label", { for: id }, this.host.label({ run: m.run, model: m.model, step: null })),
      );
    });
    setChildren(
      this.modelsPick,
      h("details", { class: "w2v-training" }, h("summary", null, `Models to include (${models.filter((m) => this.isSelected(m)).length} of ${models.length})`), h("div", { class: "w2v-eval-boxes" }, boxes)),
      h("div", { class: "w2v-form" }, button("Evaluate all models", () => void this.runTable(), { testId: "run-eval-all" })),
    );
  }

  private async runTable(): Promise<void> {
    const bench = this.benchmark();
    if (!bench) return;
    const signal = this.table.next();
    this.tableKind = bench.kind;
    this.tableBench = `${benchmarkLabel(bench)}${bench.kind === "analogies" ? `, ${this.host.state().method === "3cosmul" ? "3CosMul" : "3CosAdd"}` : ""}, restrict_vocab ${formatInt(this.host.state().erv)}`;
    const chosen = this.selectable().filter((m) => this.isSelected(m));
    this.tableRows = chosen.map((m) => ({ run: m.run, model: m.model, step: m.step, result: null, error: m.status === "error" ? m.error ?? "failed to load" : null, pending: m.status !== "error" }));
    this.renderTable();
    // One model at a time: the plugin evaluates on two threads and keeps answering queries.
    for (const row of this.tableRows) {
      if (!row.pending) continue;
      try {
        row.result = await this.evaluate({ run: row.run, model: row.model, step: null }, signal);
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

  private renderTable(): void {
    const rows = this.tableRows;
    if (rows.length === 0) {
      setChildren(this.tableOut);
      return;
    }
    const done = rows.filter((r) => !r.pending).length;
    const kind = this.tableKind;
    const analogies = kind === "analogies";
    const top = done === rows.length ? bestRow(rows) : null;
    const bestScore = top ? scoreOf(top.result) : null;
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
                this.sortDir = key === "name" || key === "oov" ? "asc" : "desc";
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
      const isBest = bestScore !== null && scoreOf(res) === bestScore;
      return h(
        "tr",
        { class: isBest ? "w2v-best" : null, "data-run": r.run, "data-model": r.model, "data-score": scoreOf(res) === null ? "" : String(scoreOf(res)) },
        h("td", { class: "w2v-word-cell" }, this.host.label({ run: r.run, model: r.model, step: null }), isBest ? h("span", { class: "w2v-badge" }, "best") : null),
        h("td", { class: "w2v-num" }, r.step === null ? "–" : String(r.step)),
        r.error !== null
          ? h("td", { colspan: analogies ? 4 : 3, class: "w2v-error-cell", "data-testid": "eval-row-error" }, r.error)
          : [
              cell(r, scoreOf(res), (x) => formatScore(kind, x)),
              analogies ? cell(r, a?.semantic?.accuracy, formatAccuracy) : cell(r, p?.pearson?.r, (x) => x.toFixed(3)),
              analogies ? cell(r, a?.syntactic?.accuracy, formatAccuracy) : null,
              cell(r, res?.oov_ratio, (x) => `${x.toFixed(1)}%`),
            ],
      );
    });
    setChildren(
      this.tableOut,
      done < rows.length
        ? h("div", { class: "w2v-eval-progress", "data-testid": "eval-table-progress" }, h("progress", { max: rows.length, value: done, "aria-label": "Models evaluated" }), h("span", { class: "w2v-muted" }, `Evaluated ${done} of ${rows.length} models…`), button("Cancel", () => this.cancelTable(), { testId: "eval-table-cancel" }))
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
            analogies ? header("semantic", "Semantic") : h("th", { scope: "col", class: "w2v-num" }, "Pearson r"),
            analogies ? header("syntactic", "Syntactic") : null,
            header("oov", "Skipped (OOV)"),
          ),
        ),
        h("tbody", null, body),
      ),
    );
  }

  // ---------------------------------------------------------------- over steps

  private renderStepsControls(): void {
    const t = this.host.target();
    const info = t ? this.host.models().find((m) => m.run === t.run && m.model === t.model) : undefined;
    const steps = info?.steps ?? [];
    if (steps.length < 2) {
      setChildren(this.stepsControls, h("p", { class: "w2v-muted w2v-small" }, "This model has a single step. Log it at several training steps (log_model(..., step=N)) to chart its score as it trains."));
      return;
    }
    setChildren(
      this.stepsControls,
      h("p", { class: "w2v-muted w2v-small w2v-field-end" }, `${steps.length} steps of ${t ? this.host.label({ ...t, step: null }) : ""}, evaluated one after another.`),
      h("div", { class: "w2v-field w2v-field-end" }, button("Evaluate every step", () => void this.runSteps(), { testId: "run-eval-steps" })),
    );
  }

  private async runSteps(): Promise<void> {
    const t = this.host.target();
    const bench = this.benchmark();
    if (!t || !bench) return;
    const info = this.host.models().find((m) => m.run === t.run && m.model === t.model);
    const steps = [...(info?.steps ?? [])].sort((a, b) => a - b);
    const signal = this.steps.next();
    this.stepsRunning = true;
    const results: { step: number; result: EvalResult | null; error: string | null }[] = [];
    const cancel = () => {
      this.steps.cancel();
      this.stepsRunning = false;
      this.renderSteps(bench.kind, results, steps.length, true);
    };
    for (const [i, step] of steps.entries()) {
      this.renderSteps(bench.kind, results, steps.length, false, `Evaluating step ${step} (${i + 1} of ${steps.length})…`, cancel);
      try {
        results.push({ step, result: await this.evaluate({ ...t, step }, signal), error: null });
      } catch (e) {
        if (isAbort(e)) return;
        results.push({ step, result: null, error: errorText(e) });
      }
      if (signal.aborted) return;
    }
    this.stepsRunning = false;
    this.renderSteps(bench.kind, results, steps.length, false);
  }

  private renderSteps(
    kind: string,
    results: { step: number; result: EvalResult | null; error: string | null }[],
    total: number,
    cancelled: boolean,
    progress?: string,
    onCancel?: () => void,
  ): void {
    const points = stepSeries(results);
    const fmt = (v: number) => formatScore(kind, v);
    this.chart.update({
      points,
      yDomain: scoreDomain(kind, points.map((p) => p.value)),
      xLabel: "Training step",
      yLabel: `${scoreName(kind)} (${this.host.state().bench})`,
      format: fmt,
      tickFormat: kind === "analogies" ? (v) => `${Math.round(v * 1000) / 10}%` : (v) => v.toFixed(2),
    });
    setChildren(
      this.stepsOut,
      progress
        ? h(
            "div",
            { class: "w2v-eval-progress", "data-testid": "eval-steps-progress" },
            h("progress", { max: total, value: results.length, "aria-label": "Steps evaluated" }),
            h("span", { class: "w2v-muted" }, progress),
            onCancel ? button("Cancel", onCancel, { testId: "eval-steps-cancel" }) : null,
          )
        : cancelled
          ? h("p", { class: "w2v-muted" }, `Cancelled after ${results.length} of ${total} steps.`)
          : null,
      points.length ? this.chart.el : null,
      results.length
        ? h(
            "table",
            { class: "w2v-table w2v-eval-steps-table", "data-testid": "eval-steps-table" },
            h("thead", null, h("tr", null, h("th", { scope: "col", class: "w2v-num" }, "Step"), h("th", { scope: "col", class: "w2v-num" }, scoreName(kind)), h("th", { scope: "col" }, ""))),
            h(
              "tbody",
              null,
              results.map((r) => h("tr", null, h("td", { class: "w2v-num" }, String(r.step)), h("td", { class: "w2v-num" }, fmt(scoreOf(r.result) ?? NaN)), h("td", { class: "w2v-error-cell" }, r.error ?? ""))),
            ),
          )
        : null,
    );
  }
}

// ---------------------------------------------------------------- result views

function stat(label: string, value: string, testId: string, sub?: string): HTMLElement {
  return h("div", { class: "w2v-stat" }, h("div", { class: "w2v-stat-label" }, label), h("div", { class: "w2v-stat-value", "data-testid": testId }, value), sub ? h("div", { class: "w2v-stat-sub w2v-small" }, sub) : null);
}

function tallyText(t: { correct: number; total: number } | undefined): string {
  return t ? `${formatInt(t.correct)} of ${formatInt(t.total)} answered` : "";
}

export function analogyView(r: AnalogyResult): HTMLElement {
  const sections = r.sections ?? [];
  const split = new Set(sections.map((s) => s.category)).size > 1;
  return h(
    "div",
    { class: "w2v-eval-result", "data-testid": "eval-analogies" },
    h(
      "p",
      { class: "w2v-summary" },
      h("strong", null, r.benchmark ?? ""),
      ` on ${r.run === "." ? "(root)" : r.run} / ${r.model}${r.step === null ? "" : ` @ ${r.step}`}, ${r.method === "3cosmul" ? "3CosMul" : "3CosAdd"}, restrict_vocab ${formatInt(r.restrict_vocab)}${r.cached ? " (result kept from an earlier run)" : ""}`,
    ),
    h(
      "div",
      { class: "w2v-stats" },
      stat("Overall accuracy", formatAccuracy(r.total?.accuracy), "eval-accuracy", tallyText(r.total)),
      // The split only means something when the file has both kinds of section (Google's has).
      split ? stat("Semantic", formatAccuracy(r.semantic?.accuracy), "eval-semantic", tallyText(r.semantic)) : null,
      split ? stat("Syntactic", formatAccuracy(r.syntactic?.accuracy), "eval-syntactic", tallyText(r.syntactic)) : null,
      stat("Skipped (out of vocabulary)", `${formatInt(r.oov)} of ${formatInt(r.questions)}`, "eval-oov", r.oov_ratio === null ? "" : `${r.oov_ratio.toFixed(1)}% of the questions`),
    ),
    sections.length
      ? h(
          "table",
          { class: "w2v-table w2v-sections", "data-testid": "eval-sections" },
          h("caption", null, "Accuracy by section (questions with an unknown word are skipped)"),
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              h("th", { scope: "col" }, "Section"),
              h("th", { scope: "col" }, "Type"),
              h("th", { scope: "col" }, "Accuracy"),
              h("th", { scope: "col", class: "w2v-num" }, "Correct"),
              h("th", { scope: "col", class: "w2v-num" }, "Incorrect"),
              h("th", { scope: "col", class: "w2v-num", title: "Questions with a word the model does not know (or beyond restrict_vocab)" }, "Skipped"),
            ),
          ),
          h(
            "tbody",
            null,
            sections.map((s) => {
              const pct = s.accuracy === null ? 0 : Math.max(0, Math.min(100, s.accuracy * 100));
              const mistakes = (s.mistakes ?? []).map((m) => `${m.question.join(" ")} → ${m.predicted ?? "nothing"}`);
              const skipped = s.questions === undefined ? "" : `; ${formatInt(s.oov ?? 0)} of ${formatInt(s.questions)} questions skipped (unknown words)`;
              const tip = `${s.section}: ${formatInt(s.correct)} correct, ${formatInt(s.incorrect)} incorrect of ${formatInt(s.total)} answered${skipped}${mistakes.length ? `\nFirst mistakes:\n${mistakes.join("\n")}` : ""}`;
              return h(
                "tr",
                { "data-section": s.section, title: tip },
                h("th", { scope: "row", class: "w2v-section-name" }, s.section),
                h("td", { class: `w2v-cat w2v-cat-${s.category}` }, s.category),
                h(
                  "td",
                  { class: "w2v-sim-cell" },
                  h(
                    "div",
                    { class: "w2v-sim-wrap" },
                    h("div", { class: "w2v-bar", role: "img", "aria-label": `${formatAccuracy(s.accuracy)} correct` }, h("div", { class: `w2v-bar-fill w2v-bar-${s.category}`, style: `width:${pct.toFixed(1)}%` })),
                    h("span", { class: "w2v-num w2v-acc" }, s.total ? formatAccuracy(s.accuracy) : "none answered"),
                  ),
                ),
                h("td", { class: "w2v-num" }, formatInt(s.correct)),
                h("td", { class: "w2v-num" }, formatInt(s.incorrect)),
                h("td", { class: "w2v-num w2v-skipped" }, s.oov === undefined ? "–" : formatInt(s.oov)),
              );
            }),
          ),
        )
      : null,
    mistakesList(sections),
  );
}

/** The first wrong answers of each section (the plugin keeps a few), as text. */
function mistakesList(sections: SectionResult[]): HTMLElement | null {
  const withMistakes = sections.filter((s) => (s.mistakes ?? []).length > 0);
  if (withMistakes.length === 0) return null;
  return h(
    "details",
    { class: "w2v-training w2v-mistakes", "data-testid": "eval-mistakes" },
    h("summary", null, "Examples of wrong answers"),
    h(
      "dl",
      null,
      withMistakes.map((s) => [
        h("dt", null, s.section),
        (s.mistakes ?? []).map((m) =>
          h("dd", null, h("span", { class: "w2v-muted" }, `${m.question[0]} : ${m.question[1]} :: ${m.question[2]} : `), h("strong", null, m.question[3]), h("span", { class: "w2v-muted" }, " — answered "), m.predicted ?? "nothing"),
        ),
      ]),
    ),
  );
}

export function pairsView(r: PairsResult): HTMLElement {
  const p = (x: number | null | undefined) => (x === null || x === undefined ? "" : `p = ${x < 0.001 ? x.toExponential(1) : x.toFixed(3)}`);
  return h(
    "div",
    { class: "w2v-eval-result", "data-testid": "eval-pairs" },
    h(
      "p",
      { class: "w2v-summary" },
      h("strong", null, r.benchmark ?? ""),
      ` on ${r.run === "." ? "(root)" : r.run} / ${r.model}${r.step === null ? "" : ` @ ${r.step}`}, restrict_vocab ${formatInt(r.restrict_vocab)}`,
    ),
    h(
      "div",
      { class: "w2v-stats" },
      stat("Spearman ρ", formatSim(r.spearman?.rho), "eval-spearman", p(r.spearman?.pvalue)),
      stat("Pearson r", formatSim(r.pearson?.r), "eval-pearson", p(r.pearson?.pvalue)),
      stat("Out of vocabulary", r.oov_ratio === null ? "–" : `${r.oov_ratio.toFixed(1)}%`, "eval-oov", `${formatInt(r.oov)} of ${formatInt(r.pairs)} pairs skipped; ${formatInt(r.used)} used`),
    ),
    r.spearman?.rho === null ? h("p", { class: "w2v-muted" }, "Fewer than two pairs are in the vocabulary: no correlation.") : null,
  );
}
