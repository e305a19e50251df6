/**
 * The Bias view's table across models: every built-in WEAT test on each chosen model's latest
 * step (`/weat?test=all`, one model at a time, polled while it answers 202): one row per model,
 * one column per test, the effect size in each cell and the p-value in its title.
 */
import { isAbort, type ModelInfo } from "../api";
import { formatP, type WeatAnswer, type WeatResult, type WeatSetKey, type WeatTestInfo } from "../analysis";
import * as client from "../client";
import { h, setChildren } from "../dom";
import { pollUntilDone } from "../evaluate";
import { formatSim } from "../format";
import type { Target } from "../state";
import { targetLabel, type Store } from "../store";
import { button } from "../widgets";
import { isChosen, modelChecklist } from "./modelpick";
import { Slot } from "../slot";

/** How long one request lets the plugin compute before it answers 202. */
export const WEAT_WAIT_SECONDS = 2;

/** Runs one `/weat` ask until it is done (polling with backoff while it answers 202). */
export function weatUntilDone(t: Target, what: { test: string } | Record<WeatSetKey, string[]>, signal: AbortSignal, onRunning?: (answer: WeatAnswer) => void): Promise<WeatAnswer> {
  return pollUntilDone((sig) => client.weat(t, what, WEAT_WAIT_SECONDS, sig), { signal, onRunning: (_n, res) => onRunning?.(res) });
}

interface Row {
  run: string;
  model: string;
  step: number | null;
  tests: WeatResult[] | null;
  error: string | null;
  pending: boolean;
}

export class BiasTable {
  readonly el: HTMLElement;
  private readonly pickEl = h("div", { class: "w2v-eval-pick" });
  private readonly out = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "bias-models-out" });
  private readonly job = new Slot();
  private rows: Row[] = [];

  constructor(
    private readonly store: Store,
    private readonly tests: () => WeatTestInfo[],
  ) {
    this.el = h(
      "div",
      { class: "w2v-eval-section" },
      h("h3", { class: "w2v-subtitle" }, "All models of the log directory"),
      h("p", { class: "w2v-muted w2v-small" }, "Every built-in test on each model’s latest step: the effect size d (its p-value and the words used in the cell’s tooltip); “–” where too few of a test’s words are in the vocabulary."),
      this.pickEl,
      this.out,
    );
  }

  render(): void {
    this.renderPick();
    this.renderTable();
  }

  cancel(): void {
    this.job.cancel();
    for (const row of this.rows) {
      if (row.pending) {
        row.pending = false;
        row.error = "cancelled";
      }
    }
    this.renderTable();
  }

  private isSelected(m: ModelInfo): boolean {
    return isChosen(this.store.state.bsel, m);
  }

  private renderPick(): void {
    setChildren(
      this.pickEl,
      modelChecklist(this.store.models, () => this.store.state.bsel, (bsel) => this.store.setState({ bsel }), "bias-pick"),
      h("div", { class: "w2v-form" }, button("Test all models", () => void this.run(), { testId: "run-bias-all" })),
    );
  }

  private async run(): Promise<void> {
    const signal = this.job.next();
    const chosen = this.store.models.filter((m) => this.isSelected(m));
    this.rows = chosen.map((m) => ({ run: m.run, model: m.model, step: m.step, tests: null, error: m.status === "error" ? m.error ?? "failed to load" : null, pending: m.status !== "error" }));
    this.renderTable();
    for (const row of this.rows) {
      if (!row.pending) continue;
      try {
        const res = await weatUntilDone({ run: row.run, model: row.model, step: null }, { test: "all" }, signal);
        row.tests = res.tests ?? [];
        row.step = res.step ?? row.step;
      } catch (e) {
        if (isAbort(e)) return;
        row.error = e instanceof Error ? e.message : String(e);
      }
      row.pending = false;
      if (signal.aborted) return;
      this.renderTable();
    }
  }

  private renderTable(): void {
    const rows = this.rows;
    if (rows.length === 0) {
      setChildren(this.out);
      return;
    }
    const names = this.tests().map((t) => t.name);
    const done = rows.filter((r) => !r.pending).length;
    const cell = (r: Row, name: string) => {
      if (r.pending) return h("td", { class: "w2v-num" }, "…");
      const res = r.tests?.find((x) => x.test === name);
      if (!res || res.error) return h("td", { class: "w2v-num w2v-muted", "data-test": name, title: res?.error ?? "" }, "–");
      const d = res.effect_size ?? null;
      const used = res.sets ? `${res.sets.x.used} / ${res.sets.y.used} / ${res.sets.a.used} / ${res.sets.b.used} words` : "";
      return h(
        "td",
        { class: `w2v-num ${d !== null && Math.abs(d) >= 0.8 ? "w2v-effect-large" : ""}`, "data-test": name, "data-effect": d === null ? "" : String(d), "data-p": String(res.p_value ?? ""), title: `d = ${formatSim(d, 3)}, p = ${formatP(res.p_value)} (${res.exact ? "exact" : "sampled"}); ${used}` },
        formatSim(d, 2),
      );
    };
    setChildren(
      this.out,
      done < rows.length
        ? h("div", { class: "w2v-eval-progress", "data-testid": "bias-table-progress" }, h("progress", { max: rows.length, value: done, "aria-label": "Models tested" }), h("span", { class: "w2v-muted" }, `Tested ${done} of ${rows.length} models…`), button("Cancel", () => this.cancel(), { testId: "bias-table-cancel" }))
        : null,
      h(
        "div",
        { class: "w2v-table-scroll" },
        h(
          "table",
          { class: "w2v-table w2v-bias-table", "data-testid": "bias-models-table" },
          h("caption", null, "Effect size d of each built-in test (|d| ≥ 0.8 in bold)"),
          h("thead", null, h("tr", null, h("th", { scope: "col" }, "Run / model"), h("th", { scope: "col", class: "w2v-num" }, "Step"), names.map((n) => h("th", { scope: "col", class: "w2v-num", title: this.tests().find((t) => t.name === n)?.title ?? "" }, n.toUpperCase())))),
          h(
            "tbody",
            null,
            rows.map((r) =>
              h(
                "tr",
                { "data-run": r.run, "data-model": r.model },
                h("td", { class: "w2v-word-cell" }, targetLabel({ run: r.run, model: r.model, step: null })),
                h("td", { class: "w2v-num" }, r.step === null ? "–" : String(r.step)),
                r.error !== null ? h("td", { colspan: names.length, class: "w2v-error-cell", "data-testid": "bias-row-error" }, r.error) : names.map((n) => cell(r, n)),
              ),
            ),
          ),
        ),
      ),
    );
  }
}
