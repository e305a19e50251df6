/**
 * The Drift view: model B (another model, or another step) aligned onto the chosen model A by
 * orthogonal Procrustes (`/drift`); the words that moved most and least, with bars; a word's
 * trajectory over the chosen model's training steps (`/trajectory`): its drift from the last
 * step as a line chart, and the neighbours that came and went.
 */
import { isAbort } from "../api";
import { driftDomain, driftSeries, neighborChanges, type DriftResponse, type DriftWord, type TrajectoryResponse } from "../analysis";
import * as client from "../client";
import { h, setChildren } from "../dom";
import { formatInt, formatSim } from "../format";
import { LineChart } from "../linechart";
import type { Target } from "../state";
import { targetLabel, type Store } from "../store";
import { button, errorBox, loadingBox, numberField } from "../widgets";
import { WordInput } from "../wordinput";
import { stat } from "./common";
import { secondModel, targetsBlock } from "./secondmodel";
import { panel, type View, type ViewContext } from "./view";
import { Slot } from "../slot";

export function driftView(ctx: ViewContext): View {
  return new DriftView(ctx);
}

class DriftView implements View {
  readonly mode = "drift" as const;
  readonly label = "Drift";
  readonly el: HTMLElement;
  private readonly store: Store;
  private readonly pickEl = h("div", { class: "w2v-compare-targets", "data-testid": "drift-targets" });
  private readonly out = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "drift-results" });
  private readonly trajOut = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "trajectory-out" });
  private readonly chart = new LineChart("Drift from the last step, per training step", "trajectory-chart");
  private readonly lookup: WordInput;
  private readonly job = new Slot();
  private readonly trajJob = new Slot();
  private readonly askJob = new Slot();
  private readonly askedEl = h("div", { "aria-live": "polite" });
  private result: DriftResponse | null = null;

  constructor(private readonly ctx: ViewContext) {
    this.store = ctx.store;
    const s = this.store.state;
    const top = numberField("Words listed", s.dtop, { min: 1, max: this.store.info.limits.drift_top, width: "80px", onChange: (v) => this.store.setState({ dtop: v ?? this.store.info.defaults.drift_top }), onEnter: () => void this.run(), testId: "drift-top", title: "How many of the most and of the least changed words to list" });
    const rv = numberField("Among the most frequent", s.drv, { min: 1, max: Number.MAX_SAFE_INTEGER, width: "110px", placeholder: "all shared", onChange: (v) => this.store.setState({ drv: v }), onEnter: () => void this.run(), testId: "drift-rv", title: "Rank only this many of the most frequent shared words (empty: all)" });
    const anchors = numberField("Anchors", s.danc, { min: 1, max: Number.MAX_SAFE_INTEGER, width: "100px", placeholder: "≤ 50,000", onChange: (v) => this.store.setState({ danc: v }), onEnter: () => void this.run(), testId: "drift-anchors", title: "Align on this many of the most frequent shared words (empty: all shared words, at most 50,000)" });
    this.lookup = new WordInput({ label: "Trajectory of a word", value: s.dword, suggest: ctx.suggest, onEnter: () => this.pick(this.lookup.value), testId: "drift-word", width: "180px" });
    this.el = panel(
      "drift",
      h(
        "div",
        { class: "w2v-drift" },
        h(
          "p",
          { class: "w2v-muted w2v-small" },
          "How far each word moved between two models (or two training steps of one): model B is rotated onto model A with orthogonal Procrustes on their most frequent shared words, and a word’s drift is 1 − cos(its vector in A, its rotated vector in B): 0 = it stayed, 1 = unrelated directions.",
        ),
        this.pickEl,
        h("div", { class: "w2v-form" }, top.el, rv.el, anchors.el, h("div", { class: "w2v-field w2v-field-end" }, button("Find drift", () => void this.run(), { primary: true, testId: "run-drift" }))),
        this.out,
        h(
          "div",
          { class: "w2v-eval-section" },
          h("h3", { class: "w2v-subtitle" }, "Trajectory over training steps"),
          h("p", { class: "w2v-muted w2v-small" }, "Click a word above, or type one: every logged step of model A is aligned onto its last step; the chart shows the word’s drift from the last step, the table its neighbours at each step and those that came and went."),
          h("div", { class: "w2v-form" }, this.lookup.el, h("div", { class: "w2v-field w2v-field-end" }, button("Show trajectory", () => this.pick(this.lookup.value), { testId: "run-trajectory" }))),
          this.trajOut,
        ),
      ),
    );
  }

  shown(): void {
    this.renderTargets();
  }

  hidden(): void {
    this.job.cancel();
    this.trajJob.cancel();
    this.askJob.cancel();
  }

  targetChanged(): void {
    this.hidden();
    this.result = null;
    setChildren(this.askedEl);
    if (this.store.state.mode === "drift") this.renderTargets();
  }

  private second(): Target | null {
    return secondModel(this.store, this.store.state.d2, (d2) => this.store.setState({ d2 }));
  }

  private renderTargets(): void {
    const b = this.second();
    setChildren(this.pickEl, targetsBlock(this.store, this.store.target(), b, (d2) => {
      this.store.setState({ d2 });
      this.renderTargets();
    }, "dr"));
  }

  async run(): Promise<void> {
    const a = this.store.target();
    const b = this.second();
    if (!a) return;
    this.renderTargets();
    if (!b) {
      setChildren(this.out, errorBox(new Error("Choose a second model to compare with.")));
      return;
    }
    const s = this.store.state;
    const signal = this.job.next();
    setChildren(this.out, loadingBox(`Aligning ${targetLabel(b)} onto ${targetLabel(a)}…${this.ctx.loadNote()}`));
    try {
      const res = await client.drift(a, b, this.options(s.dtop), signal);
      if (signal.aborted) return;
      this.ctx.loaded();
      this.result = res;
      this.render();
      if (s.dword) this.pick(s.dword);
    } catch (e) {
      if (isAbort(e)) return;
      this.ctx.loaded();
      this.result = null;
      setChildren(this.out, errorBox(e));
    }
  }

  private options(top: number, words: string[] = []): client.DriftOptions {
    const s = this.store.state;
    return { top, restrict_vocab: s.drv, anchors: s.danc, words };
  }

  /** Shows `word`'s drift and rank (the alignment is cached by now) and its trajectory. */
  private pick(word: string): void {
    const w = word.trim();
    const a = this.store.target();
    const b = this.second();
    if (!w || !a) return;
    this.lookup.value = w;
    this.store.setState({ dword: w });
    void this.trajectory(w);
    if (!b || !this.result) return;
    this.render();
    const signal = this.askJob.next();
    setChildren(this.askedEl, loadingBox(`Looking up “${w}”…`));
    client
      .drift(a, b, this.options(0, [w]), signal)
      .then((res) => {
        if (signal.aborted) return;
        const x = res.words[0];
        setChildren(
          this.askedEl,
          h("p", { class: "w2v-summary", "data-testid": "drift-asked", "data-drift": x.drift === null ? "" : String(x.drift), "data-rank": x.rank === null ? "" : String(x.rank) }, h("strong", null, x.word), `: drift ${formatSim(x.drift)}, rank ${x.rank === null ? "–" : formatInt(x.rank)} of ${formatInt(res.considered)} (1 = moved most)`),
        );
      })
      .catch((e) => {
        if (!isAbort(e)) setChildren(this.askedEl, errorBox(e, (s) => this.pick(s)));
      });
  }

  private render(): void {
    const r = this.result;
    if (!r) return;
    const label = (x: DriftResponse["a"]) => targetLabel({ run: x.run, model: x.model, step: x.step });
    const scale = Math.max(1e-9, ...[...r.most_changed, ...r.least_changed].map((x) => x.drift ?? 0));
    const list = (title: string, rows: DriftWord[], testId: string) =>
      h(
        "div",
        { class: "w2v-cm-list" },
        h("h3", { class: "w2v-subtitle" }, title),
        h(
          "ol",
          { class: "w2v-cm-changed", "data-testid": testId },
          rows.map((x) =>
            h(
              "li",
              { "data-word": x.word, "data-drift": x.drift === null ? "" : String(x.drift) },
              h(
                "button",
                {
                  type: "button",
                  class: x.word === this.store.state.dword ? "w2v-cm-word w2v-cm-word-on" : "w2v-cm-word",
                  "aria-pressed": String(x.word === this.store.state.dword),
                  title: `Show the trajectory of “${x.word}”`,
                  onclick: () => this.pick(x.word),
                },
                h("span", { class: "w2v-cm-word-text" }, x.word),
                h("span", { class: "w2v-bar", "aria-hidden": "true" }, h("span", { class: "w2v-bar-fill", style: `width:${(((x.drift ?? 0) / scale) * 100).toFixed(1)}%` })),
                h("span", { class: "w2v-num" }, formatSim(x.drift)),
              ),
            ),
          ),
        ),
      );
    setChildren(
      this.out,
      h(
        "div",
        { class: "w2v-stats", "data-testid": "drift-summary" },
        stat("Shared words", formatInt(r.shared), "drift-shared", `A: ${formatInt(r.a.vocab_size)}, B: ${formatInt(r.b.vocab_size)}`),
        stat("Anchors", formatInt(r.anchors), "drift-anchors-used", "most frequent shared words"),
        stat("Ranked", formatInt(r.considered), "drift-considered", r.cached ? "alignment cached" : `aligned in ${r.seconds.toFixed(2)} s`),
      ),
      h("p", { class: "w2v-muted w2v-small" }, "A = ", h("strong", null, label(r.a)), "; B = ", h("strong", null, label(r.b)), `; ${r.a.dim ?? "–"} dimensions.`),
      this.askedEl,
      h("div", { class: "w2v-drift-grid" }, list("Moved most", r.most_changed, "drift-most"), list("Moved least", r.least_changed, "drift-least")),
    );
  }

  private async trajectory(word: string): Promise<void> {
    const a = this.store.target();
    const cur = this.store.current();
    if (!a) return;
    if ((cur?.steps ?? []).length < 2) {
      setChildren(this.trajOut, h("p", { class: "w2v-muted", "data-testid": "trajectory-none" }, `${targetLabel({ ...a, step: null })} has ${cur?.steps?.length ?? 0} logged training steps; a trajectory needs at least two (log snapshots with TrainingLogger or log_model(…, step=…)).`));
      return;
    }
    const signal = this.trajJob.next();
    setChildren(this.trajOut, loadingBox(`Aligning the ${cur?.steps.length} steps of ${targetLabel({ ...a, step: null })} for “${word}”…`));
    try {
      const res = await client.trajectory(a, word, 10, this.store.state.danc, signal);
      if (signal.aborted) return;
      this.renderTrajectory(res);
    } catch (e) {
      if (isAbort(e)) return;
      setChildren(this.trajOut, errorBox(e, (w) => this.pick(w)));
    }
  }

  private renderTrajectory(res: TrajectoryResponse): void {
    const points = driftSeries(res.steps);
    this.chart.update({
      points,
      yDomain: driftDomain(points.map((p) => p.value)),
      xLabel: "Training step",
      yLabel: `Drift of “${res.word}” from the last step`,
      format: (v) => formatSim(v, 4),
      tickFormat: (v) => v.toFixed(2),
    });
    const changes = new Map(neighborChanges(res.steps).map((c) => [c.step, c]));
    const chips = (words: string[], cls: string) => words.map((w) => h("span", { class: `w2v-chip-static ${cls}` }, w));
    setChildren(
      this.trajOut,
      res.steps.length < res.logged_steps ? h("p", { class: "w2v-muted w2v-small" }, `${res.steps.length} of ${formatInt(res.logged_steps)} steps, evenly spread.`) : null,
      this.chart.el,
      h(
        "table",
        { class: "w2v-table w2v-traj-table", "data-testid": "trajectory-table" },
        h("caption", null, `Neighbours of “${res.word}” at each step (top ${res.k})`),
        h("thead", null, h("tr", null, h("th", { scope: "col", class: "w2v-num" }, "Step"), h("th", { scope: "col", class: "w2v-num" }, "Drift"), h("th", { scope: "col" }, "Neighbours"), h("th", { scope: "col" }, "Came / went"))),
        h(
          "tbody",
          null,
          res.steps.map((st) => {
            const c = changes.get(st.step);
            return h(
              "tr",
              { "data-step": String(st.step) },
              h("td", { class: "w2v-num" }, String(st.step)),
              h("td", { class: "w2v-num" }, st.in_vocabulary ? formatSim(st.drift, 4) : "not in vocabulary"),
              h("td", { class: "w2v-traj-neighbors" }, st.neighbors.map((n) => n.word).join(", ")),
              h("td", { class: "w2v-traj-changes", "data-testid": "trajectory-changes" }, c ? [chips(c.came.map((w) => `+ ${w}`), "w2v-came"), chips(c.went.map((w) => `− ${w}`), "w2v-went")] : null),
            );
          }),
        ),
      ),
    );
  }
}
