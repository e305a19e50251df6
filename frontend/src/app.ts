/** The Word2Vec tab: model picker, query modes, 2-D view, compare, evaluate, export, URL state. */
import {
  ApiError,
  getJSON,
  isAbort,
  postJSON,
  routeUrl,
  safeServerUrl,
  type AnalogyResponse,
  type ExportResponse,
  type ModelInfo,
  type NeighborsResponse,
  type Params,
  type ProjectResponse,
  type VocabWord,
  type WordRow,
} from "./api";
import { h, setChildren } from "./dom";
import { EvaluateView } from "./evalview";
import { analogyTerms, ExpressionError, formatExpression, looksLikeExpression, parseExpression, splitWords } from "./expr";
import { describeFormat, describeTraining, formatInt, formatPercent, formatSim } from "./format";
import { ModelCompareView } from "./modelcompare";
import { jaccardMatrix, occurrenceCounts, sharedByAll } from "./overlap";
import { ScatterPlot, type PlotArrow, type PlotPoint, type PointRole } from "./plot";
import {
  decodeState,
  defaultState,
  encodeState,
  K_MAX,
  N_MAX,
  parentHashWithState,
  stateFromParentHash,
  type Method,
  type Mode,
  type State,
  type Target,
} from "./state";
import { WordInput } from "./wordinput";
import { button, errorBox, loadingBox, numberField, resultsTable, segmented, selectField } from "./widgets";

const MODE_LABELS: Record<Mode, string> = {
  neighbors: "Neighbours",
  analogy: "Analogy",
  similarity: "Similarity",
  odd: "Odd one out",
  compare: "Compare a query",
  models: "Compare models",
  evaluate: "Evaluate",
};

const PLUGIN_NAME = "word2vec";

/** Runs one async job per slot; a newer job aborts the older one so stale answers never show. */
class Slot {
  private controller: AbortController | null = null;
  next(): AbortSignal {
    this.controller?.abort();
    this.controller = new AbortController();
    return this.controller.signal;
  }
}

function targetParams(t: Target): Params {
  return { run: t.run, model: t.model, step: t.step };
}

function sameTarget(a: Target, b: Target): boolean {
  return a.run === b.run && a.model === b.model && a.step === b.step;
}

export function targetLabel(t: Target): string {
  const run = t.run === "." ? "(root)" : t.run;
  return `${run} / ${t.model}${t.step === null ? "" : ` @ ${t.step}`}`;
}

export class App {
  private state: State;
  private models: ModelInfo[] = [];
  private modelsError: unknown = null;
  private logdir: string | null = null;
  private readonly root: HTMLElement;
  private readonly pickerEl = h("div", { class: "w2v-picker", "data-testid": "picker" });
  private readonly infoEl = h("section", { class: "w2v-card w2v-info", "aria-label": "Model details", "data-testid": "model-info" });
  private readonly tabsEl = h("div", { class: "w2v-tabs", role: "tablist", "aria-label": "Query type" });
  private readonly bodyEl = h("div", { class: "w2v-body" });
  private readonly panels = new Map<Mode, HTMLElement>();
  private readonly plot: ScatterPlot;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private pollCount = 0;

  // Inputs that must follow the URL state.
  private qInput!: WordInput;
  private aInput!: WordInput;
  private bInput!: WordInput;
  private cInput!: WordInput;
  private exprInput!: WordInput;
  private s1Input!: WordInput;
  private s2Input!: WordInput;
  private oddInput!: WordInput;
  private cmpInput!: WordInput;

  private readonly neighborsOut = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "neighbors-results" });
  private readonly exportOut = h("div", { class: "w2v-export-out", "aria-live": "polite", "data-testid": "export-results" });
  private readonly analogyOut = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "analogy-results" });
  private readonly similarityOut = h(
    "div",
    { class: "w2v-results", "aria-live": "polite", "data-testid": "similarity-results" },
    h("p", { class: "w2v-muted" }, "Cosine similarity of two word vectors: 1 for the same direction, 0 for unrelated, −1 for opposite."),
  );
  private readonly oddOut = h(
    "div",
    { class: "w2v-results", "aria-live": "polite", "data-testid": "odd-results" },
    h("p", { class: "w2v-muted" }, "Type three or more words; the one farthest from the mean of the others is picked."),
  );
  private readonly compareTargetsEl = h("div", { class: "w2v-compare-targets", "data-testid": "compare-targets" });
  private readonly compareOut = h("div", { class: "w2v-compare-out", "aria-live": "polite", "data-testid": "compare-results" });
  private readonly plotWrap = h("section", { class: "w2v-card w2v-plot-card", "aria-label": "2-D view" });
  private readonly plotTitle = h("h2", { class: "w2v-card-title" }, "2-D view (PCA)");

  private exactField: HTMLElement | null = null;
  private kInputs: HTMLInputElement[] = [];
  private readonly mainSlot = new Slot();
  private readonly plotSlot = new Slot();
  private readonly exportSlot = new Slot();
  private readonly compareSlot = new Slot();
  private readonly evalView: EvaluateView;
  private readonly cmView: ModelCompareView;

  constructor(root: HTMLElement) {
    this.root = root;
    this.state = readInitialState();
    this.plot = new ScatterPlot((word) => this.queryWord(word));
    this.plotWrap.append(this.plotTitle, this.plot.el);
    const host = {
      target: () => this.target(),
      models: () => this.models,
      state: () => this.state,
      setState: (patch: Partial<State>) => this.setState(patch),
      label: (t: Target) => targetLabel(t),
      suggest: (existing: Target[]) => this.suggestTarget(existing),
      loaded: () => this.refreshInfoIfStale(),
    };
    this.evalView = new EvaluateView(host);
    this.cmView = new ModelCompareView(host);
    this.buildPanels();
    setChildren(
      this.root,
      h(
        "div",
        { class: "w2v-app" },
        h(
          "header",
          { class: "w2v-header" },
          h("h1", { class: "w2v-title" }, "Word2Vec"),
          this.pickerEl,
        ),
        this.infoEl,
        this.bodyEl,
      ),
    );
  }

  async start(): Promise<void> {
    this.watchParentHash();
    setChildren(this.bodyEl, loadingBox("Looking for word2vec models…"));
    await this.loadModels();
    this.render();
    this.runCurrent();
  }

  // ---------------------------------------------------------------- models

  private async loadModels(): Promise<void> {
    try {
      const res = await getJSON<{ models: ModelInfo[]; logdir?: string }>("models");
      this.models = Array.isArray(res.models) ? res.models : [];
      this.logdir = typeof res.logdir === "string" ? res.logdir : null;
      this.modelsError = null;
    } catch (e) {
      this.models = [];
      this.modelsError = e;
    }
    this.chooseDefaults();
    this.schedulePoll();
  }

  private schedulePoll(): void {
    if (this.pollTimer !== undefined) clearTimeout(this.pollTimer);
    if (!this.models.some((m) => m.status === "loading") || this.pollCount > 150) return;
    this.pollCount += 1;
    this.pollTimer = setTimeout(async () => {
      try {
        const res = await getJSON<{ models: ModelInfo[] }>("models");
        this.models = res.models ?? [];
        this.renderPicker();
        this.renderInfo();
      } catch {
        /* keep the old list */
      }
      this.schedulePoll();
    }, 2000);
  }

  /** After a query loaded a model lazily, fetch its details (vocabulary, training parameters). */
  private refreshInfoIfStale(): void {
    const cur = this.current();
    if (!cur || cur.status === "ok" || cur.status === "error") return;
    getJSON<{ models: ModelInfo[] }>("models")
      .then((res) => {
        if (!Array.isArray(res.models)) return;
        this.models = res.models;
        this.renderPicker();
        this.renderInfo();
        this.updateExactField();
        this.schedulePoll();
      })
      .catch(() => undefined);
  }

  private runs(): string[] {
    return [...new Set(this.models.map((m) => m.run))];
  }

  private modelsOf(run: string): ModelInfo[] {
    return this.models.filter((m) => m.run === run);
  }

  private find(run: string | null, model: string | null): ModelInfo | undefined {
    return this.models.find((m) => m.run === run && m.model === model);
  }

  private current(): ModelInfo | undefined {
    return this.find(this.state.run, this.state.model);
  }

  private target(): Target | null {
    if (this.state.run === null || this.state.model === null) return null;
    return { run: this.state.run, model: this.state.model, step: this.state.step };
  }

  private chooseDefaults(): void {
    const s = this.state;
    if (this.models.length === 0) return;
    if (!this.find(s.run, s.model)) {
      const sameRun = s.run !== null ? this.modelsOf(s.run) : [];
      const pick = sameRun.find((m) => m.status !== "error") ?? sameRun[0] ?? this.models.find((m) => m.status !== "error") ?? this.models[0];
      s.run = pick.run;
      s.model = pick.model;
      s.step = null;
    }
    const cur = this.current();
    if (cur && s.step !== null && !(cur.steps ?? []).includes(s.step)) s.step = null;
    this.syncUrl();
  }

  // ---------------------------------------------------------------- URL state

  private setState(patch: Partial<State>): void {
    Object.assign(this.state, patch);
    this.syncUrl();
  }

  private syncUrl(): void {
    const encoded = encodeState(this.state);
    try {
      const url = `${window.location.pathname}${window.location.search}#${encoded}`;
      window.history.replaceState(window.history.state, "", url);
    } catch {
      /* sandboxed: ignore */
    }
    try {
      const top = window.top;
      if (top && top !== window) {
        const hash = top.location.hash; // throws when not same-origin
        const tab = hash.replace(/^#/, "").split("&")[0];
        // Only while our tab is the one shown: never write into another tab's URL.
        if (tab !== "" && tab !== PLUGIN_NAME) return;
        const next = parentHashWithState(hash, encoded, PLUGIN_NAME);
        if (next !== hash) {
          top.history.replaceState(top.history.state, "", `${top.location.pathname}${top.location.search}${next}`);
        }
      }
    } catch {
      /* the TensorBoard page is not reachable: the iframe URL still holds the state */
    }
  }

  /**
   * TensorBoard keeps this iframe alive while other tabs are shown and rewrites its own hash
   * (`#projector`, then `#word2vec` again). When our tab comes back, put our state back into
   * the URL; when someone navigates the page to a different state of ours, reopen with it.
   */
  private watchParentHash(): void {
    let top: Window | null = null;
    try {
      top = window.top && window.top !== window ? window.top : null;
      void top?.location.hash; // throws when not same-origin
    } catch {
      top = null;
    }
    if (!top) return;
    const parent = top;
    parent.addEventListener("hashchange", () => {
      let hash: string;
      try {
        hash = parent.location.hash;
      } catch {
        return;
      }
      if (hash.replace(/^#/, "").split("&")[0] !== PLUGIN_NAME) return;
      const theirs = stateFromParentHash(hash);
      if (theirs === null) {
        // TensorBoard may rewrite its URL again right after switching tabs: say it twice more.
        this.syncUrl();
        setTimeout(() => this.syncUrl(), 250);
        setTimeout(() => this.syncUrl(), 1000);
      } else if (theirs !== encodeState(this.state)) {
        window.history.replaceState(null, "", `${window.location.pathname}${window.location.search}#${theirs}`);
        window.location.reload();
      }
    });
  }

  // ---------------------------------------------------------------- rendering

  private render(): void {
    this.renderPicker();
    this.renderInfo();
    if (this.modelsError) {
      setChildren(
        this.bodyEl,
        errorBox(this.modelsError),
        h("p", null, button("Try again", () => void this.refreshModels())),
      );
      return;
    }
    if (this.models.length === 0) {
      setChildren(this.bodyEl, emptyState(this.logdir, () => void this.refreshModels()));
      return;
    }
    this.renderTabs();
    const layout = h(
      "div",
      { class: "w2v-layout" },
      h("div", { class: "w2v-col-main" }, [...this.panels.values()]),
      this.plotWrap,
    );
    setChildren(this.bodyEl, this.tabsEl, layout);
    this.showMode(this.state.mode, false);
  }

  private async refreshModels(): Promise<void> {
    setChildren(this.bodyEl, loadingBox("Looking for word2vec models…"));
    await this.loadModels();
    this.render();
    this.runCurrent();
  }

  private renderPicker(): void {
    if (this.models.length === 0) {
      this.pickerEl.replaceChildren(); // the empty state has its own Refresh button
      return;
    }
    const s = this.state;
    const runSel = selectField(
      "Run",
      this.runs().map((r) => ({ value: r, label: r === "." ? "(root)" : r })),
      s.run ?? "",
      (run) => {
        const first = this.modelsOf(run).find((m) => m.model === s.model) ?? this.modelsOf(run)[0];
        this.changeModel(run, first?.model ?? null, null);
      },
      "run-select",
    );
    const modelSel = selectField(
      "Model",
      this.modelsOf(s.run ?? "").map((m) => ({ value: m.model, label: m.status === "error" ? `${m.model} (failed to load)` : m.model })),
      s.model ?? "",
      (model) => this.changeModel(s.run, model, null),
      "model-select",
    );
    const cur = this.current();
    const steps = cur?.steps ?? [];
    const latest = cur?.step ?? (steps.length ? steps[steps.length - 1] : null);
    const stepSel = selectField(
      "Step",
      [
        { value: "", label: latest === null ? "latest" : `latest (${latest})` },
        ...[...steps].reverse().map((st) => ({ value: String(st), label: String(st) })),
      ],
      s.step === null ? "" : String(s.step),
      (v) => this.changeModel(s.run, s.model, v === "" ? null : Number(v)),
      "step-select",
    );
    stepSel.select.disabled = steps.length <= 1;
    setChildren(
      this.pickerEl,
      runSel.el,
      modelSel.el,
      stepSel.el,
      h("div", { class: "w2v-field w2v-field-end" }, button("Refresh", () => void this.refreshModels(), { title: "Look for new models and steps" })),
    );
  }

  private changeModel(run: string | null, model: string | null, step: number | null): void {
    this.setState({ run, model, step });
    this.renderPicker();
    this.renderInfo();
    this.renderCompareTargets();
    this.evalView.targetChanged();
    this.cmView.cancel();
    if (this.state.mode === "models") this.cmView.renderTargets();
    this.runCurrent();
  }

  private updateExactField(): void {
    if (this.exactField) this.exactField.hidden = !this.current()?.index;
  }

  private renderInfo(): void {
    this.updateExactField();
    const cur = this.current();
    if (!cur) {
      this.infoEl.hidden = true;
      return;
    }
    this.infoEl.hidden = false;
    const statusText: Record<string, string> = {
      ok: "loaded",
      "not loaded": "not loaded yet (loads on first query)",
      loading: "loading…",
      error: "failed to load",
    };
    const facts: [string, string][] = [
      ["Format", describeFormat(cur.format)],
      ["Vocabulary", formatInt(cur.vocab_size)],
      ["Dimension", formatInt(cur.dim)],
      ["Status", statusText[cur.status] ?? cur.status],
    ];
    if (cur.step !== null && cur.step !== undefined) {
      facts.splice(3, 0, ["Step", `${this.state.step ?? cur.step}${this.state.step === null ? " (latest)" : ""} of ${cur.steps?.length ?? 1}`]);
    }
    const training = describeTraining(cur.training);
    const index = cur.index ? describeTraining(cur.index) : [];
    setChildren(
      this.infoEl,
      h(
        "dl",
        { class: "w2v-facts" },
        facts.map(([k, v]) =>
          h("div", { class: `w2v-fact${k === "Status" ? ` w2v-status-${cur.status.replace(/\s+/g, "-")}` : ""}` }, h("dt", null, k), h("dd", null, v)),
        ),
      ),
      training.length
        ? h(
            "details",
            { class: "w2v-training" },
            h("summary", null, "Training parameters"),
            h("dl", { class: "w2v-facts w2v-facts-small" }, training.map(([k, v]) => h("div", { class: "w2v-fact" }, h("dt", null, k), h("dd", null, v)))),
          )
        : cur.status === "ok"
          ? h("p", { class: "w2v-muted w2v-small" }, "No training parameters stored with this model (vectors only).")
          : null,
      index.length
        ? h(
            "details",
            { class: "w2v-training" },
            h("summary", null, "Search index"),
            h("dl", { class: "w2v-facts w2v-facts-small" }, index.map(([k, v]) => h("div", { class: "w2v-fact" }, h("dt", null, k), h("dd", null, v)))),
          )
        : null,
      cur.path && (this.state.step === null || this.state.step === cur.step)
        ? h("div", { class: "w2v-path w2v-small", title: cur.path }, cur.path)
        : null,
      cur.error
        ? h(
            "div",
            { class: "w2v-error", role: "alert", "data-testid": "model-error" },
            h("strong", null, "This model could not be loaded. "),
            cur.error,
          )
        : null,
    );
  }

  private renderTabs(): void {
    const modes = Object.keys(MODE_LABELS) as Mode[];
    setChildren(
      this.tabsEl,
      modes.map((mode) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            id: `w2v-tab-${mode}`,
            class: "w2v-tab",
            "aria-selected": String(mode === this.state.mode),
            "aria-controls": `w2v-panel-${mode}`,
            tabindex: mode === this.state.mode ? 0 : -1,
            "data-testid": `tab-${mode}`,
            onclick: () => this.showMode(mode, true),
            onkeydown: (ev: Event) => {
              const key = (ev as KeyboardEvent).key;
              const i = modes.indexOf(mode);
              let j = -1;
              if (key === "ArrowRight") j = (i + 1) % modes.length;
              else if (key === "ArrowLeft") j = (i - 1 + modes.length) % modes.length;
              else if (key === "Home") j = 0;
              else if (key === "End") j = modes.length - 1;
              if (j >= 0) {
                ev.preventDefault();
                this.showMode(modes[j], true);
                (this.tabsEl.querySelector(`#w2v-tab-${modes[j]}`) as HTMLElement | null)?.focus();
              }
            },
          },
          MODE_LABELS[mode],
        ),
      ),
    );
  }

  private showMode(mode: Mode, run: boolean): void {
    const changed = mode !== this.state.mode;
    this.setState({ mode });
    for (const [m, panel] of this.panels) panel.hidden = m !== mode;
    this.tabsEl.querySelectorAll<HTMLElement>("[role=tab]").forEach((tab) => {
      const on = tab.id === `w2v-tab-${mode}`;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    });
    const hasPlot = mode === "neighbors" || mode === "analogy";
    if (mode !== "evaluate") this.evalView.cancelAll();
    if (mode !== "models") this.cmView.cancel();
    this.plotWrap.hidden = !hasPlot;
    this.bodyEl.querySelector(".w2v-layout")?.classList.toggle("w2v-layout-wide", !hasPlot);
    if (mode === "compare") this.renderCompareTargets();
    if (mode === "models") this.cmView.renderTargets();
    if (run && changed) this.runCurrent();
  }

  // ---------------------------------------------------------------- panels

  private suggest = (prefix: string, signal: AbortSignal): Promise<VocabWord[]> => {
    const t = this.target();
    if (!t) return Promise.resolve([]);
    return getJSON<{ words: VocabWord[] }>("vocab", { ...targetParams(t), prefix, offset: 0, limit: 8 }, signal).then((r) => r.words ?? []);
  };

  private buildPanels(): void {
    const s = this.state;
    const panel = (mode: Mode, ...children: (HTMLElement | null)[]) => {
      const el = h(
        "section",
        { class: "w2v-card w2v-panel", id: `w2v-panel-${mode}`, role: "tabpanel", "aria-labelledby": `w2v-tab-${mode}`, "data-testid": `panel-${mode}` },
        children,
      );
      this.panels.set(mode, el);
      return el;
    };

    // Neighbours
    this.kInputs = [];
    this.qInput = new WordInput({
      label: "Word",
      value: s.q,
      placeholder: "e.g. government",
      suggest: this.suggest,
      onEnter: () => this.runNeighbors(),
      testId: "query-input",
      width: "180px",
    });
    const k = numberField("Top k", s.k, { min: 1, max: K_MAX, width: "72px", onChange: (v) => this.setK(v), onEnter: () => this.runCurrent(), testId: "k-input" });
    this.kInputs.push(k.input);
    const rv = numberField("Most frequent only", s.rv, {
      min: 1,
      max: Number.MAX_SAFE_INTEGER,
      placeholder: "all words",
      width: "112px",
      onChange: (v) => this.setState({ rv: v }),
      onEnter: () => this.runNeighbors(),
      testId: "rv-input",
      title: "restrict_vocab: search only among the N most frequent words",
    });
    const exact = h("input", { type: "checkbox", id: "w2v-exact", checked: s.exact, onchange: (ev: Event) => this.setState({ exact: (ev.target as HTMLInputElement).checked }) });
    const exactField = h(
      "div",
      { class: "w2v-field w2v-check", title: "Scan every vector instead of using the model's approximate search index" },
      exact,
      h("label", { for: "w2v-exact" }, "Exact search"),
    );
    this.exactField = exactField;
    const nField = numberField(`Neighbours to send (≤ ${formatInt(N_MAX)})`, s.n, { min: 1, max: N_MAX, width: "96px", onChange: (v) => this.setState({ n: v ?? 1000 }), onEnter: () => void this.exportProjector(), testId: "export-n" });
    panel(
      "neighbors",
      h("div", { class: "w2v-form" }, this.qInput.el, k.el, rv.el, exactField, h("div", { class: "w2v-field w2v-field-end" }, button("Find neighbours", () => this.runNeighbors(), { primary: true, testId: "run-neighbors" }))),
      this.neighborsOut,
      h(
        "div",
        { class: "w2v-export" },
        h("h3", { class: "w2v-subtitle" }, "Open in the Projector"),
        h("p", { class: "w2v-muted w2v-small" }, "Sends the query word and its nearest neighbours to TensorBoard’s Projector tab as a separate embedding (t-SNE, UMAP, 3-D)."),
        h("div", { class: "w2v-form" }, nField.el, h("div", { class: "w2v-field w2v-field-end" }, button("Send to Projector", () => void this.exportProjector(), { testId: "export-button" }))),
        this.exportOut,
      ),
    );

    // Analogy
    const runA = () => this.runAnalogy();
    this.aInput = new WordInput({ label: "a", value: s.a, placeholder: "man", suggest: this.suggest, onEnter: runA, testId: "analogy-a", width: "140px" });
    this.bInput = new WordInput({ label: "is to b", value: s.b, placeholder: "king", suggest: this.suggest, onEnter: runA, testId: "analogy-b", width: "140px" });
    this.cInput = new WordInput({ label: "as c", value: s.c, placeholder: "woman", suggest: this.suggest, onEnter: runA, testId: "analogy-c", width: "140px" });
    this.exprInput = new WordInput({ label: "Expression", value: s.expr, placeholder: "king - man + woman", tokens: true, suggest: this.suggest, onEnter: runA, testId: "analogy-expr", width: "320px" });
    const abcForm = h("div", { class: "w2v-form", "data-testid": "analogy-abc" }, this.aInput.el, this.bInput.el, this.cInput.el, h("div", { class: "w2v-field w2v-field-end w2v-is-to" }, "is to ?"));
    const exprForm = h(
      "div",
      { class: "w2v-form", "data-testid": "analogy-expr-form" },
      this.exprInput.el,
      h("p", { class: "w2v-hint w2v-field-end" }, "Separate + and − from words with spaces."),
    );
    const showForm = (f: "abc" | "expr") => {
      abcForm.hidden = f !== "abc";
      exprForm.hidden = f !== "expr";
    };
    showForm(s.aform);
    const ka = numberField("Top k", s.k, { min: 1, max: K_MAX, width: "72px", onChange: (v) => this.setK(v), onEnter: runA });
    this.kInputs.push(ka.input);
    panel(
      "analogy",
      segmented(
        "Ask as",
        [
          { value: "abc", label: "a : b :: c : ?" },
          { value: "expr", label: "Expression" },
        ],
        s.aform,
        (v) => {
          this.setState({ aform: v });
          showForm(v);
        },
        "analogy-form-switch",
      ),
      abcForm,
      exprForm,
      h(
        "div",
        { class: "w2v-form" },
        segmented<Method>(
          "Method",
          [
            { value: "3cosadd", label: "3CosAdd" },
            { value: "3cosmul", label: "3CosMul" },
          ],
          s.method,
          (v) => this.setState({ method: v }),
          "method-switch",
        ),
        ka.el,
        h("div", { class: "w2v-field w2v-field-end" }, button("Solve", runA, { primary: true, testId: "run-analogy" })),
      ),
      this.analogyOut,
    );

    // Similarity
    const runS = () => this.runSimilarity();
    this.s1Input = new WordInput({ label: "First word", value: s.s1, suggest: this.suggest, onEnter: runS, testId: "sim-a", width: "180px" });
    this.s2Input = new WordInput({ label: "Second word", value: s.s2, suggest: this.suggest, onEnter: runS, testId: "sim-b", width: "180px" });
    panel(
      "similarity",
      h("div", { class: "w2v-form" }, this.s1Input.el, this.s2Input.el, h("div", { class: "w2v-field w2v-field-end" }, button("Compute similarity", runS, { primary: true, testId: "run-similarity" }))),
      this.similarityOut,
    );

    // Odd one out
    const runO = () => this.runOdd();
    this.oddInput = new WordInput({ label: "Words (separated by spaces)", value: s.odd.join(" "), placeholder: "breakfast cereal dinner lunch", tokens: true, suggest: this.suggest, onEnter: runO, testId: "odd-input", width: "360px" });
    panel(
      "odd",
      h("div", { class: "w2v-form" }, this.oddInput.el, h("div", { class: "w2v-field w2v-field-end" }, button("Find the odd one out", runO, { primary: true, testId: "run-odd" }))),
      this.oddOut,
    );

    // Compare
    const runC = () => void this.runCompare();
    this.cmpInput = new WordInput({ label: "Word or expression", value: s.q, placeholder: "e.g. government", tokens: true, suggest: this.suggest, onEnter: runC, testId: "compare-input", width: "260px" });
    const kc = numberField("Top k", s.k, { min: 1, max: K_MAX, width: "72px", onChange: (v) => this.setK(v), onEnter: runC });
    this.kInputs.push(kc.input);
    panel(
      "compare",
      h("p", { class: "w2v-muted w2v-small" }, "Runs the same query on several models, runs or training steps. Words found by more than one model are highlighted; the Jaccard index measures how much the top-k lists overlap."),
      this.compareTargetsEl,
      h("div", { class: "w2v-form" }, this.cmpInput.el, kc.el, h("div", { class: "w2v-field w2v-field-end" }, button("Compare", runC, { primary: true, testId: "run-compare" }))),
      this.compareOut,
    );

    // Compare models (aggregate neighbourhood overlap) and Evaluate (benchmarks)
    panel("models", this.cmView.el);
    panel("evaluate", this.evalView.el);
  }

  /** Extra words for a loading message when the model still has to be loaded. */
  private loadNote(): string {
    const status = this.current()?.status;
    return status === "not loaded" || status === "loading" ? " The model loads first; large models can take a while." : "";
  }

  /** One k for every mode: the three "Top k" fields show the same value. */
  private setK(v: number | null): void {
    const k = v ?? 10;
    this.setState({ k });
    for (const input of this.kInputs) input.value = String(k);
  }

  /** Makes `word` the neighbours query and runs it. */
  private queryWord(word: string): void {
    this.qInput.value = word;
    this.setState({ q: word });
    if (this.state.mode !== "neighbors") this.showMode("neighbors", false);
    this.runNeighbors();
    this.qInput.focus();
  }

  private runCurrent(): void {
    if (!this.target()) return;
    const s = this.state;
    switch (s.mode) {
      case "neighbors":
        if (s.q) this.runNeighbors();
        else this.plot.clear("Run a query to see its neighbourhood in 2-D.");
        break;
      case "analogy":
        if ((s.aform === "abc" && s.a && s.b && s.c) || (s.aform === "expr" && s.expr)) this.runAnalogy();
        else this.plot.clear("Solve an analogy to see its offset vectors.");
        break;
      case "similarity":
        if (s.s1 && s.s2) this.runSimilarity();
        break;
      case "odd":
        if (s.odd.length) this.runOdd();
        break;
      case "compare":
        if (s.q) void this.runCompare();
        break;
      case "models":
        void this.cmView.run();
        break;
      case "evaluate":
        void this.evalView.activate();
        break;
    }
  }

  // ---------------------------------------------------------------- neighbours

  private runNeighbors(): void {
    const t = this.target();
    const word = this.qInput.value;
    this.setState({ q: word });
    this.cmpInput.value = word;
    if (!t) return;
    if (!word) {
      setChildren(this.neighborsOut, h("p", { class: "w2v-muted" }, "Type a word and press Enter."));
      return;
    }
    const signal = this.mainSlot.next();
    setChildren(this.neighborsOut, loadingBox(`Finding the neighbours of “${word}”…${this.loadNote()}`));
    this.plot.setLoading();
    setChildren(this.exportOut);
    const s = this.state;
    getJSON<NeighborsResponse>("neighbors", { ...targetParams(t), word, k: s.k, restrict_vocab: s.rv, exact: s.exact && !!this.current()?.index }, signal)
      .then((res) => {
        if (signal.aborted) return;
        this.refreshInfoIfStale();
        const rows = res.neighbors ?? [];
        setChildren(
          this.neighborsOut,
          h("p", { class: "w2v-summary" }, "Nearest neighbours of ", h("strong", { class: "w2v-query-word" }, res.word ?? word), ` by cosine similarity (${targetLabel(t)})`),
          resultsTable(rows, { onPick: (w) => this.queryWord(w), onHover: (w) => this.plot.highlight(w), testId: "neighbors-table" }),
        );
        const sims = new Map(rows.map((r) => [r.word, r.similarity]));
        const query = res.word ?? word;
        void this.project(
          t,
          [query, ...rows.map((r) => r.word)],
          (w) => (w === query ? "query" : "neighbor"),
          (w) => (w === query ? 1 : sims.get(w) ?? null),
          [],
          `“${query}”`,
          `Neighbourhood of “${query}”`,
        );
      })
      .catch((e) => {
        if (isAbort(e)) return;
        this.refreshInfoIfStale();
        setChildren(this.neighborsOut, errorBox(e, (w) => this.queryWord(w)));
        this.plot.clear("Nothing to show.");
      });
  }

  private async project(
    t: Target,
    words: string[],
    role: (w: string) => PointRole,
    similarity: (w: string) => number | null,
    arrows: PlotArrow[],
    similarityTo: string,
    title: string,
  ): Promise<void> {
    const unique = [...new Set(words)];
    this.plotTitle.textContent = `${title} — 2-D view (PCA)`;
    if (unique.length < 2) {
      this.plot.clear("Need at least two words to draw.");
      return;
    }
    const signal = this.plotSlot.next();
    this.plot.setLoading();
    try {
      const res = await getJSON<ProjectResponse>("project", { ...targetParams(t), word: unique }, signal);
      if (signal.aborted) return;
      const ev = res.explained_variance ?? [];
      const points: PlotPoint[] = (res.points ?? []).map((p) => ({ word: p.word, x: p.x, y: p.y, role: role(p.word), similarity: similarity(p.word) }));
      this.plot.update({
        points,
        arrows,
        xLabel: `PC1${ev.length > 0 ? ` (${formatPercent(ev[0])} of variance)` : ""}`,
        yLabel: `PC2${ev.length > 1 ? ` (${formatPercent(ev[1])})` : ""}`,
        similarityTo,
      });
    } catch (e) {
      if (isAbort(e)) return;
      this.plot.clear(`The 2-D view is not available: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  // ---------------------------------------------------------------- export

  private async exportProjector(): Promise<void> {
    const t = this.target();
    const word = this.qInput.value || this.state.q;
    if (!t) return;
    if (!word) {
      setChildren(this.exportOut, h("p", { class: "w2v-muted" }, "Choose a query word first."));
      return;
    }
    const signal = this.exportSlot.next();
    const n = this.state.n;
    setChildren(this.exportOut, loadingBox(`Writing “${word}” and ${formatInt(n)} neighbours for the Projector…`));
    try {
      const res = await postJSON<ExportResponse>("export_projector", { ...targetParams(t), word, n }, signal);
      if (signal.aborted) return;
      const projectorHref = new URL(`../../../#projector`, routeUrl("./")).toString();
      setChildren(
        this.exportOut,
        h(
          "div",
          { class: "w2v-ok", role: "status", "data-testid": "export-ok" },
          res.points ? `Saved ${formatInt(res.points)} words as embedding ` : "Saved as embedding ",
          h("code", null, res.tensor_name),
          res.run ? [" in run ", h("code", null, res.run)] : null,
          ". ",
          h("a", { href: projectorHref, target: "_top", class: "w2v-link" }, "Open the Projector tab"),
          " (reload it if the embedding is not listed yet).",
        ),
      );
    } catch (e) {
      if (isAbort(e)) return;
      if (e instanceof ApiError && e.status === 409) {
        const tsv = (e.body?.["tsv"] ?? {}) as Record<string, unknown>;
        const tensor = safeServerUrl(tsv["tensor"]);
        const metadata = safeServerUrl(tsv["metadata"]);
        setChildren(
          this.exportOut,
          h(
            "div",
            { class: "w2v-warn", role: "status", "data-testid": "export-tsv" },
            h("div", null, e.message),
            h("div", null, "Download both files, then in the Projector tab click “Load” and choose them:"),
            h(
              "div",
              { class: "w2v-downloads" },
              tensor ? h("a", { href: tensor, download: "tensor.tsv", class: "w2v-btn", "data-testid": "download-tensor" }, "Download vectors (tensor.tsv)") : null,
              metadata ? h("a", { href: metadata, download: "metadata.tsv", class: "w2v-btn", "data-testid": "download-metadata" }, "Download words (metadata.tsv)") : null,
            ),
          ),
        );
        return;
      }
      setChildren(this.exportOut, errorBox(e, (w) => this.queryWord(w)));
    }
  }

  // ---------------------------------------------------------------- analogy

  private analogyQuery(): { positive: string[]; negative: string[] } {
    const s = this.state;
    if (s.aform === "abc") {
      const [a, b, c] = [this.aInput.value, this.bInput.value, this.cInput.value];
      this.setState({ a, b, c });
      if (!a || !b || !c) throw new ExpressionError("Fill in all three words: a is to b as c is to ?");
      return analogyTerms(a, b, c);
    }
    const expr = this.exprInput.value;
    this.setState({ expr });
    return parseExpression(expr);
  }

  private runAnalogy(): void {
    const t = this.target();
    if (!t) return;
    let terms: { positive: string[]; negative: string[] };
    try {
      terms = this.analogyQuery();
    } catch (e) {
      setChildren(this.analogyOut, errorBox(e));
      return;
    }
    const s = this.state;
    const signal = this.mainSlot.next();
    setChildren(this.analogyOut, loadingBox(`Solving…${this.loadNote()}`));
    this.plot.setLoading();
    getJSON<AnalogyResponse>("analogy", { ...targetParams(t), positive: terms.positive, negative: terms.negative, k: s.k, method: s.method }, signal)
      .then((res) => {
        if (signal.aborted) return;
        this.refreshInfoIfStale();
        const rows: WordRow[] = res.neighbors ?? [];
        const pos = res.positive ?? terms.positive;
        const neg = res.negative ?? terms.negative;
        const top = rows[0]?.word;
        const summary =
          pos.length === 2 && neg.length === 1
            ? [h("strong", null, neg[0]), " is to ", h("strong", null, pos[0]), " as ", h("strong", null, pos[1]), " is to ", h("strong", { class: "w2v-answer", "data-testid": "analogy-answer" }, top ?? "?")]
            : [h("code", null, formatExpression(pos, neg)), " ≈ ", h("strong", { class: "w2v-answer", "data-testid": "analogy-answer" }, top ?? "?")];
        setChildren(
          this.analogyOut,
          h("p", { class: "w2v-summary" }, summary, h("span", { class: "w2v-muted" }, ` (${s.method === "3cosmul" ? "3CosMul" : "3CosAdd"})`)),
          resultsTable(rows, { onPick: (w) => this.queryWord(w), onHover: (w) => this.plot.highlight(w), testId: "analogy-table" }),
        );
        const sims = new Map(rows.map((r) => [r.word, r.similarity]));
        const arrows: PlotArrow[] = [];
        if (pos.length === 2 && neg.length === 1 && top) {
          arrows.push({ from: neg[0], to: pos[0], kind: "offset" }, { from: pos[1], to: top, kind: "result" });
        } else if (top) {
          for (const p of pos) arrows.push({ from: p, to: top, kind: "result" });
        }
        const roleOf = (w: string): PointRole => (pos.includes(w) ? "positive" : neg.includes(w) ? "negative" : w === top ? "result" : "neighbor");
        void this.project(t, [...neg, ...pos, ...rows.map((r) => r.word)], roleOf, (w) => sims.get(w) ?? null, arrows, "the analogy target", `Analogy ${formatExpression(pos, neg)}`);
      })
      .catch((e) => {
        if (isAbort(e)) return;
        this.refreshInfoIfStale();
        setChildren(this.analogyOut, errorBox(e, (w) => this.replaceAnalogyWord(e, w)));
        this.plot.clear("Nothing to show.");
      });
  }

  /** Puts a suggested word in place of the unknown one and runs the analogy again. */
  private replaceAnalogyWord(err: unknown, suggestion: string): void {
    const unknown = unknownWord(err) ?? undefined;
    if (this.state.aform === "abc") {
      for (const input of [this.aInput, this.bInput, this.cInput]) {
        if (unknown !== undefined && input.value === unknown) input.value = suggestion;
      }
    } else if (unknown !== undefined) {
      this.exprInput.value = this.exprInput.value
        .split(/(\s+)/)
        .map((tok) => (tok === unknown ? suggestion : tok.replace(/^([+\-\u2212])(.*)$/, (all, op, w) => (w === unknown ? op + suggestion : all))))
        .join("");
    }
    this.runAnalogy();
  }

  // ---------------------------------------------------------------- similarity / odd one out

  private runSimilarity(): void {
    const t = this.target();
    if (!t) return;
    const a = this.s1Input.value;
    const b = this.s2Input.value;
    this.setState({ s1: a, s2: b });
    if (!a || !b) {
      setChildren(this.similarityOut, h("p", { class: "w2v-muted" }, "Type two words."));
      return;
    }
    const signal = this.mainSlot.next();
    setChildren(this.similarityOut, loadingBox(`Loading…${this.loadNote()}`));
    getJSON<{ similarity: number }>("similarity", { ...targetParams(t), a, b }, signal)
      .then((res) => {
        if (signal.aborted) return;
        this.refreshInfoIfStale();
        const sim = res.similarity;
        // Cosine similarity runs from -1 to 1; draw it on that full range.
        const pct = Math.max(0, Math.min(100, ((sim + 1) / 2) * 100));
        setChildren(
          this.similarityOut,
          h(
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
          ),
        );
      })
      .catch((e) => {
        if (isAbort(e)) return;
        this.refreshInfoIfStale();
        setChildren(this.similarityOut, errorBox(e, (w) => {
          if (this.s1Input.value === unknownWord(e)) this.s1Input.value = w;
          else this.s2Input.value = w;
          this.runSimilarity();
        }));
      });
  }

  private runOdd(): void {
    const t = this.target();
    if (!t) return;
    const words = splitWords(this.oddInput.value);
    this.setState({ odd: words });
    if (words.length < 3) {
      setChildren(this.oddOut, h("p", { class: "w2v-muted" }, "Type at least three words."));
      return;
    }
    const signal = this.mainSlot.next();
    setChildren(this.oddOut, loadingBox(`Loading…${this.loadNote()}`));
    getJSON<{ word: string }>("doesnt_match", { ...targetParams(t), word: words }, signal)
      .then((res) => {
        if (signal.aborted) return;
        this.refreshInfoIfStale();
        setChildren(
          this.oddOut,
          h("p", { class: "w2v-summary" }, "The word that fits least with the others is ", h("strong", { class: "w2v-answer", "data-testid": "odd-answer" }, res.word), "."),
          h(
            "div",
            { class: "w2v-chips" },
            words.map((w) => h("button", { type: "button", class: w === res.word ? "w2v-chip w2v-chip-odd" : "w2v-chip", onclick: () => this.queryWord(w), title: `Show the neighbours of “${w}”` }, w)),
          ),
        );
      })
      .catch((e) => {
        if (isAbort(e)) return;
        this.refreshInfoIfStale();
        setChildren(this.oddOut, errorBox(e, (w) => {
          const bad = unknownWord(e);
          this.oddInput.value = splitWords(this.oddInput.value).map((x) => (x === bad ? w : x)).join(" ");
          this.runOdd();
        }));
      });
  }

  // ---------------------------------------------------------------- compare

  private compareTargets(): Target[] {
    const t = this.target();
    return t ? [t, ...this.state.cmp] : [...this.state.cmp];
  }

  /** A sensible second model to compare with: another run with the same model name, else any other model/step. */
  private suggestTarget(existing: Target[]): Target | null {
    const cur = this.current();
    const taken = (t: Target) => existing.some((e) => sameTarget(e, t));
    const cands: Target[] = [];
    if (cur) {
      for (const m of this.models) if (m.run !== cur.run && m.model === cur.model) cands.push({ run: m.run, model: m.model, step: null });
      const effective = this.state.step ?? cur.step;
      for (const st of [...(cur.steps ?? [])].reverse()) {
        if (st !== effective) cands.push({ run: cur.run, model: cur.model, step: st });
      }
    }
    for (const m of this.models) cands.push({ run: m.run, model: m.model, step: null });
    return cands.find((c) => !taken(c) && this.find(c.run, c.model)?.status !== "error") ?? cands.find((c) => !taken(c)) ?? null;
  }

  private renderCompareTargets(): void {
    if (this.state.mode !== "compare") return;
    const targets = this.compareTargets();
    if (this.state.cmp.length === 0 && this.models.length > 0) {
      const extra = this.suggestTarget(targets);
      if (extra) {
        this.setState({ cmp: [extra] });
        return this.renderCompareTargets();
      }
    }
    const rows = targets.map((t, i) => {
      if (i === 0) {
        return h("li", { class: "w2v-target w2v-target-current" }, h("span", { class: "w2v-target-name" }, targetLabel(t)), h("span", { class: "w2v-muted w2v-small" }, " (chosen above)"));
      }
      const update = (patch: Partial<Target>) => {
        const cmp = [...this.state.cmp];
        cmp[i - 1] = { ...cmp[i - 1], ...patch };
        this.setState({ cmp });
        this.renderCompareTargets();
      };
      const run = selectField("Run", this.runs().map((r) => ({ value: r, label: r === "." ? "(root)" : r })), t.run, (r) => {
        const ms = this.modelsOf(r);
        update({ run: r, model: (ms.find((m) => m.model === t.model) ?? ms[0])?.model ?? t.model, step: null });
      }, `compare-run-${i}`);
      const model = selectField("Model", this.modelsOf(t.run).map((m) => ({ value: m.model, label: m.model })), t.model, (m) => update({ model: m, step: null }), `compare-model-${i}`);
      const info = this.find(t.run, t.model);
      const steps = info?.steps ?? [];
      const step = selectField(
        "Step",
        [{ value: "", label: "latest" }, ...[...steps].reverse().map((st) => ({ value: String(st), label: String(st) }))],
        t.step === null ? "" : String(t.step),
        (v) => update({ step: v === "" ? null : Number(v) }),
        `compare-step-${i}`,
      );
      step.select.disabled = steps.length <= 1;
      const remove = button("Remove", () => {
        const cmp = this.state.cmp.filter((_, j) => j !== i - 1);
        this.setState({ cmp });
        this.renderCompareTargets();
      }, { title: "Remove this model from the comparison" });
      return h("li", { class: "w2v-target" }, h("div", { class: "w2v-form" }, run.el, model.el, step.el, h("div", { class: "w2v-field w2v-field-end" }, remove)));
    });
    const add = button("+ Add model", () => {
      const extra = this.suggestTarget(this.compareTargets());
      if (!extra) return;
      this.setState({ cmp: [...this.state.cmp, extra] });
      this.renderCompareTargets();
    }, { testId: "compare-add" });
    setChildren(this.compareTargetsEl, h("ol", { class: "w2v-target-list" }, rows), add);
  }

  private async runCompare(): Promise<void> {
    const query = this.cmpInput.value;
    this.setState({ q: query });
    this.qInput.value = query;
    const targets = this.compareTargets();
    if (!query) {
      setChildren(this.compareOut, h("p", { class: "w2v-muted" }, "Type a word or an expression."));
      return;
    }
    let terms: { positive: string[]; negative: string[] } | null = null;
    if (looksLikeExpression(query)) {
      try {
        terms = parseExpression(query);
      } catch (e) {
        setChildren(this.compareOut, errorBox(e));
        return;
      }
    }
    const signal = this.compareSlot.next();
    const k = this.state.k;
    setChildren(this.compareOut, loadingBox(`Querying ${targets.length} models…`));
    const results = await Promise.all(
      targets.map(async (t) => {
        try {
          const res = terms
            ? await getJSON<AnalogyResponse>("analogy", { ...targetParams(t), positive: terms.positive, negative: terms.negative, k, method: this.state.method }, signal)
            : await getJSON<NeighborsResponse>("neighbors", { ...targetParams(t), word: query, k, restrict_vocab: this.state.rv }, signal);
          return { target: t, rows: res.neighbors ?? [], error: null as unknown };
        } catch (e) {
          return { target: t, rows: [] as WordRow[], error: e };
        }
      }),
    );
    if (signal.aborted) return;
    const ok = results.filter((r) => r.error === null);
    const lists = ok.map((r) => r.rows.map((x) => x.word));
    const counts = occurrenceCounts(lists);
    const shared = sharedByAll(lists);
    const matrix = jaccardMatrix(lists);
    const nOk = ok.length;
    const summary =
      nOk >= 2
        ? h(
            "div",
            { class: "w2v-compare-summary", "data-testid": "compare-summary" },
            nOk === 2
              ? h("p", { class: "w2v-summary" }, "Jaccard overlap of the two top-", String(k), " lists: ", h("strong", { "data-testid": "jaccard" }, formatSim(matrix[0][1], 2)), ` (${shared.length} shared word${shared.length === 1 ? "" : "s"})`)
              : [
                  h("p", { class: "w2v-summary" }, `${shared.length} word${shared.length === 1 ? "" : "s"} shared by all ${nOk} lists. Pairwise Jaccard overlap:`),
                  h(
                    "table",
                    { class: "w2v-table w2v-matrix", "data-testid": "jaccard-matrix" },
                    h("thead", null, h("tr", null, h("th", null, ""), ok.map((r, i) => h("th", { scope: "col", title: targetLabel(r.target) }, `#${i + 1}`)))),
                    h("tbody", null, ok.map((r, i) => h("tr", null, h("th", { scope: "row", title: targetLabel(r.target) }, `#${i + 1} ${targetLabel(r.target)}`), matrix[i].map((v) => h("td", { class: "w2v-num" }, formatSim(v, 2)))))),
                  ),
                ],
            h(
              "p",
              { class: "w2v-legend w2v-small" },
              h("span", { class: "w2v-swatch w2v-shared-all" }),
              nOk === 2 ? " in both lists" : " in every list",
              nOk > 2 ? ["  ", h("span", { class: "w2v-swatch w2v-shared-some" }), " in some lists"] : null,
            ),
          )
        : null;
    const columns = results.map((r, i) =>
      h(
        "div",
        { class: "w2v-compare-col", "data-testid": `compare-col-${i}` },
        h("h3", { class: "w2v-subtitle" }, `#${i + 1} `, targetLabel(r.target)),
        r.error !== null
          ? errorBox(r.error, (w) => {
              this.cmpInput.value = w;
              void this.runCompare();
            })
          : resultsTable(r.rows, {
              onPick: (w) => this.queryWord(w),
              rowClass: (row) => {
                const c = counts.get(row.word) ?? 0;
                return nOk >= 2 && c === nOk ? "w2v-shared-all" : c >= 2 ? "w2v-shared-some" : null;
              },
            }),
      ),
    );
    setChildren(this.compareOut, summary, h("div", { class: "w2v-compare-cols" }, columns));
  }
}

/** The word an "unknown word" error is about (the plugin sends it as `word`). */
function unknownWord(err: unknown): string | null {
  if (err instanceof ApiError && typeof err.body?.["word"] === "string") return err.body["word"] as string;
  const m = err instanceof Error ? /['‘“"]([^'’”"]+)['’”"]/.exec(err.message) : null;
  return m ? m[1] : null;
}

function emptyState(logdir: string | null, onRefresh: () => void): HTMLElement {
  const code = [
    "from gensim.models import Word2Vec",
    "from gensim.test.utils import common_texts  # or your own list of tokenised sentences",
    "from tensorboard_plugin_w2v.summary import log_model",
    "",
    "model = Word2Vec(common_texts, vector_size=100, window=5, min_count=1)",
    'log_model("logs/run1", model)',
  ].join("\n");
  return h(
    "section",
    { class: "w2v-card w2v-empty", "data-testid": "empty-state" },
    h("h2", { class: "w2v-card-title" }, "No word2vec models in this log directory yet"),
    logdir ? h("p", { class: "w2v-muted" }, "Log directory: ", h("code", null, logdir)) : null,
    h("p", null, "Log a trained model from Python, into a run directory under the log directory TensorBoard was started with:"),
    h("pre", { class: "w2v-code" }, h("code", null, code)),
    h("p", null, "Then start TensorBoard with ", h("code", null, "tensorboard --logdir logs"), " (or keep it running) and press Refresh."),
    button("Refresh", onRefresh, { primary: true }),
  );
}

function readInitialState(): State {
  let fromParent: string | null = null;
  try {
    const top = window.top;
    if (top && top !== window) fromParent = stateFromParentHash(top.location.hash);
  } catch {
    fromParent = null;
  }
  const own = window.location.hash.replace(/^#/, "");
  const text = fromParent ?? own;
  return text ? decodeState(text) : defaultState();
}
