/**
 * Evaluate: one benchmark on the chosen model (per-section accuracy bars), the same benchmark on
 * every model of the logdir (`EvalTable`), and over the training steps of one model (a line
 * chart). The plugin answers 202 while it computes; we poll with backoff.
 */
import { isAbort } from "../api";
import * as client from "../client";
import { h, setChildren } from "../dom";
import {
  benchmarkLabel,
  coverageOf,
  coverageText,
  formatCoverage,
  progressText,
  scoreDomain,
  scoreName,
  scoreOf,
  formatScore,
  stepSeries,
  type AnalogyResult,
  type BenchmarkInfo,
  type EvalResult,
  type PairsResult,
} from "../evaluate";
import { LineChart } from "../linechart";
import { targetLabel, type Store } from "../store";
import { formatInt } from "../format";
import { button, errorBox, loadingBox, numberField, selectField } from "../widgets";
import { methodSwitch } from "./common";
import { cancelOnServer, errorText, evaluateUntilDone } from "./evalcommon";
import { analogyView, pairsView } from "./evalresults";
import { EvalTable } from "./evaltable";
import { Slot } from "../slot";
import { panel, type View, type ViewContext } from "./view";

function modelKey(run: string, model: string): string {
  return `${run}\u0000${model}`;
}

export function evaluateView(ctx: ViewContext): View {
  return new EvaluateView(ctx);
}

class EvaluateView implements View {
  readonly mode = "evaluate" as const;
  readonly label = "Evaluate";
  readonly el: HTMLElement;
  private readonly store: Store;
  private benchmarks: BenchmarkInfo[] = [];
  private benchmarksFor: string | null = null;
  private readonly formEl = h("div", { class: "w2v-form" });
  private readonly out = h("div", { class: "w2v-results w2v-eval-out", "aria-live": "polite", "data-testid": "evaluate-results" });
  private readonly table: EvalTable;
  private readonly stepsControls = h("div", { class: "w2v-form" });
  private readonly stepsOut = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "eval-steps-out" });
  private readonly chart = new LineChart("Score over training steps", "eval-steps-chart");
  private readonly one = new Slot();
  private readonly steps = new Slot();
  private stepsRunning = false;

  constructor(private readonly ctx: ViewContext) {
    this.store = ctx.store;
    this.table = new EvalTable(this.store, () => this.benchmark());
    this.el = panel(
      "evaluate",
      h(
        "div",
        { class: "w2v-eval" },
        h("p", { class: "w2v-muted w2v-small" }, "Scores a model on a benchmark the way gensim does: analogy questions (a : b :: c : ?, accuracy of the top answer) or word pairs rated by people (correlation with the model’s cosine similarity). Questions with a word outside the first restrict_vocab words are skipped."),
        this.formEl,
        this.out,
        this.table.el,
        h(
          "div",
          { class: "w2v-eval-section" },
          h("h3", { class: "w2v-subtitle" }, "Over training steps"),
          this.stepsControls,
          this.stepsOut,
        ),
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
  hidden(): void {
    this.one.cancel();
    if (this.stepsRunning) {
      this.steps.cancel();
      this.stepsRunning = false;
      setChildren(this.stepsOut, h("p", { class: "w2v-muted" }, "Stopped when another mode was shown; press Evaluate every step to start again."));
    }
  }

  /** Shown: load the benchmark list for this model, then evaluate. */
  async run(): Promise<void> {
    const t = this.store.target();
    if (!t) return;
    this.table.render();
    this.renderStepsControls();
    const key = `${modelKey(t.run, t.model)}\u0000${t.step ?? ""}`;
    if (this.benchmarksFor !== key) {
      const signal = this.one.next();
      setChildren(this.out, loadingBox("Looking for benchmarks…"));
      try {
        const list = await client.benchmarks(t, signal);
        if (signal.aborted) return;
        this.benchmarks = list;
        this.benchmarksFor = key;
      } catch (e) {
        if (isAbort(e)) return;
        this.ctx.loaded();
        // The built-in benchmarks are always there: keep the form usable for a retry.
        if (this.benchmarks.length === 0) this.benchmarks = this.store.info.benchmarks;
        this.renderForm();
        setChildren(this.out, errorBox(e));
        return;
      }
    }
    this.renderForm();
    void this.runOne();
  }

  private benchmark(): BenchmarkInfo | undefined {
    return this.benchmarks.find((b) => b.name === this.store.state.bench);
  }

  private renderForm(): void {
    const s = this.store.state;
    if (this.benchmarks.length && !this.benchmark()) this.store.setState({ bench: this.benchmarks[0].name });
    const bench = selectField(
      "Benchmark",
      this.benchmarks.map((b) => ({ value: b.name, label: benchmarkLabel(b) })),
      this.store.state.bench,
      (v) => {
        // Another benchmark is another question: show its answer (the settings below only
        // change how it is asked, and wait for Evaluate).
        this.store.setState({ bench: v });
        this.renderForm();
        void this.runOne();
      },
      "eval-benchmark",
    );
    bench.select.classList.add("w2v-select-wide");
    const isAnalogies = (this.benchmark()?.kind ?? "analogies") === "analogies";
    const method = methodSwitch(this.ctx, "eval-method", () => this.markStale()); // a setting starts nothing
    method.hidden = !isAnalogies;
    const rv = numberField("Most frequent only", s.erv, {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
      width: "112px",
      onChange: (v) => {
        this.store.setState({ erv: v ?? this.store.info.defaults.restrict_vocab });
        this.markStale();
      },
      onEnter: () => void this.runOne(),
      testId: "eval-rv",
      title: `restrict_vocab: only the N most frequent words count as known (gensim’s default: ${formatInt(this.store.info.defaults.restrict_vocab)})`,
    });
    setChildren(
      this.formEl,
      bench.el,
      method,
      rv.el,
      h("div", { class: "w2v-field w2v-field-end" }, button("Evaluate", () => void this.runOne(), { primary: true, testId: "run-evaluate" })),
    );
  }

  /** The result shown no longer matches the form: say so until Evaluate runs again. */
  private markStale(): void {
    if (!this.out.querySelector(".w2v-eval-result") || this.out.querySelector("[data-testid=eval-stale]")) return;
    this.out.prepend(h("p", { class: "w2v-warn", role: "status", "data-testid": "eval-stale" }, "The settings changed: the result below is for the earlier ones. Press Evaluate to run the new settings."));
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

  // ---------------------------------------------------------------- one model

  private async runOne(): Promise<void> {
    const t = this.store.target();
    if (!t || !this.benchmark()) return;
    const signal = this.one.next();
    const cancel = () => {
      this.one.cancel();
      cancelOnServer(this.store, t);
      setChildren(this.out, h("p", { class: "w2v-muted" }, "Cancelled. Press Evaluate to start again."));
    };
    const what = `Evaluating ${targetLabel(t)} on ${this.store.state.bench}…`;
    setChildren(this.out, this.running(what, 0, cancel));
    try {
      const res = await evaluateUntilDone(this.store, t, signal, (n, answer) => setChildren(this.out, this.running(what, n, cancel, answer)));
      if (signal.aborted) return;
      this.ctx.loaded();
      setChildren(this.out, res.kind === "analogies" ? analogyView(res as AnalogyResult, this.store.methodLabel((res as AnalogyResult).method)) : pairsView(res as PairsResult));
    } catch (e) {
      if (isAbort(e)) return;
      this.ctx.loaded();
      setChildren(this.out, errorBox(e));
    }
  }
  // ---------------------------------------------------------------- over steps

  private renderStepsControls(): void {
    const t = this.store.target();
    const info = t ? this.store.models.find((m) => m.run === t.run && m.model === t.model) : undefined;
    const steps = info?.steps ?? [];
    if (steps.length < 2) {
      setChildren(this.stepsControls, h("p", { class: "w2v-muted w2v-small" }, "This model has a single step. Log it at several training steps (log_model(..., step=N)) to chart its score as it trains."));
      return;
    }
    setChildren(
      this.stepsControls,
      h("p", { class: "w2v-muted w2v-small w2v-field-end" }, `${steps.length} steps of ${t ? targetLabel({ ...t, step: null }) : ""}, evaluated one after another.`),
      h("div", { class: "w2v-field w2v-field-end" }, button("Evaluate every step", () => void this.runSteps(), { testId: "run-eval-steps" })),
    );
  }

  private async runSteps(): Promise<void> {
    const t = this.store.target();
    const bench = this.benchmark();
    if (!t || !bench) return;
    const info = this.store.models.find((m) => m.run === t.run && m.model === t.model);
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
        results.push({ step, result: await evaluateUntilDone(this.store, { ...t, step }, signal), error: null });
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
      yLabel: `${scoreName(kind)} (${this.store.state.bench})`,
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
            h("thead", null, h("tr", null, h("th", { scope: "col", class: "w2v-num" }, "Step"), h("th", { scope: "col", class: "w2v-num" }, scoreName(kind)), h("th", { scope: "col", class: "w2v-num" }, "Coverage"), h("th", { scope: "col" }, ""))),
            h(
              "tbody",
              null,
              results.map((r) =>
                h(
                  "tr",
                  null,
                  h("td", { class: "w2v-num" }, String(r.step)),
                  h("td", { class: "w2v-num" }, fmt(scoreOf(r.result) ?? NaN)),
                  h("td", { class: "w2v-num w2v-coverage", title: r.result ? coverageText(r.result) : "" }, formatCoverage(coverageOf(r.result))),
                  h("td", { class: "w2v-error-cell" }, r.error ?? ""),
                ),
              ),
            ),
          )
        : null,
    );
  }
}
