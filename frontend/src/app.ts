/**
 * The Word2Vec tab: the model picker and details over the views of `views/registry.ts`, one
 * tab each, sharing a `Store` (the state, mirrored into the URL) and the 2-D view.
 */
import * as client from "./client";
import { h, setChildren } from "./dom";
import { emptyState, renderInfo, renderPicker } from "./picker";
import { PlotPanel } from "./plotpanel";
import type { ModelInfo, ServerInfo } from "./api";
import type { Mode } from "./state";
import { Store } from "./store";
import { readInitialState, watchParentHash, writeUrl } from "./url";
import { VIEWS } from "./views/registry";
import { Slot } from "./slot";
import type { View, ViewContext } from "./views/view";
import { button, errorBox, loadingBox } from "./widgets";

/** How often, and how many times at most, the model list is asked again while a model loads. */
const POLL_MS = 2000;
const POLL_MAX = 150;

export class App {
  private readonly root: HTMLElement;
  private readonly pickerEl = h("div", { class: "w2v-picker", "data-testid": "picker" });
  private readonly infoEl = h("section", { class: "w2v-card w2v-info", "aria-label": "Model details", "data-testid": "model-info" });
  private readonly tabsEl = h("div", { class: "w2v-tabs", role: "tablist", "aria-label": "Query type" });
  private readonly bodyEl = h("div", { class: "w2v-body" });
  private readonly plot: PlotPanel;
  // Made in start(), once the plugin said its limits and defaults.
  private store!: Store;
  private views: View[] = [];
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  private pollCount = 0;

  constructor(root: HTMLElement) {
    this.root = root;
    this.plot = new PlotPanel((word) => this.queryWord(word));
    setChildren(
      this.root,
      h("div", { class: "w2v-app" }, h("header", { class: "w2v-header" }, h("h1", { class: "w2v-title" }, "Word2Vec"), this.pickerEl), this.infoEl, this.bodyEl),
    );
  }

  /** Reads the plugin's limits (`/info`) and the URL state, builds the views, lists the models. */
  async start(): Promise<void> {
    setChildren(this.bodyEl, loadingBox("Looking for word2vec models…"));
    let info: ServerInfo;
    try {
      info = await client.info();
    } catch (e) {
      this.infoEl.hidden = true;
      setChildren(this.bodyEl, errorBox(e), h("p", null, button("Try again", () => void this.start())));
      return;
    }
    this.store = new Store(info, readInitialState(info));
    this.store.subscribe(() => writeUrl(this.store.encoded()));
    this.views = VIEWS.map((make) => make(this.context()));
    watchParentHash(() => this.store.encoded());
    await this.loadModels();
    this.render();
    this.runCurrent();
  }

  private context(): ViewContext {
    return {
      store: this.store,
      plot: this.plot,
      mainSlot: new Slot(),
      suggest: (prefix, signal) => {
        const t = this.store.target();
        return t ? client.vocab(t, prefix, 8, signal) : Promise.resolve([]);
      },
      queryWord: (word) => this.queryWord(word),
      loaded: () => this.refreshInfoIfStale(),
      loadNote: () => {
        const status = this.store.current()?.status;
        return status === "not loaded" || status === "loading" ? " The model loads first; large models can take a while." : "";
      },
    };
  }

  private view(mode: Mode): View | undefined {
    return this.views.find((v) => v.mode === mode);
  }

  // ---------------------------------------------------------------- models

  private async loadModels(): Promise<void> {
    try {
      const res = await client.listModels();
      this.store.setModels(res.models, res.logdir);
    } catch (e) {
      this.store.setModels([], this.store.logdir, e);
    }
    this.store.chooseDefaults();
    this.schedulePoll();
  }

  /**
   * While a model loads, ask for its row again now and then to show its progress. Only the
   * loading models are asked for, from the plugin's last listing: no logdir rescan per poll.
   */
  private schedulePoll(): void {
    if (this.pollTimer !== undefined) clearTimeout(this.pollTimer);
    if (this.store.loading().length === 0 || this.pollCount > POLL_MAX) return;
    this.pollCount += 1;
    this.pollTimer = setTimeout(async () => {
      await this.updateRows(this.store.loading());
      this.schedulePoll();
    }, POLL_MS);
  }

  /** Asks for the rows of `models` again and shows them (keeping the old ones on errors). */
  private async updateRows(models: ModelInfo[]): Promise<void> {
    const rows = await Promise.all(models.map((m) => client.modelRow(m.run, m.model).catch(() => null)));
    const found = rows.filter((r): r is ModelInfo => r !== null);
    if (found.length === 0) return;
    this.store.updateModels(found);
    this.renderModels();
  }

  /** After a query loaded a model lazily, fetch its details (vocabulary, training parameters). */
  private refreshInfoIfStale(): void {
    const cur = this.store.current();
    if (!cur || cur.status === "ok" || cur.status === "error") return;
    void this.updateRows([cur]).then(() => this.schedulePoll());
  }

  private async refreshModels(): Promise<void> {
    setChildren(this.bodyEl, loadingBox("Looking for word2vec models…"));
    await this.loadModels();
    this.render();
    this.runCurrent();
  }

  // ---------------------------------------------------------------- rendering

  /** The picker and the details after the model list changed. */
  private renderModels(): void {
    renderPicker(this.pickerEl, this.store, (run, model, step) => this.changeModel(run, model, step), () => void this.refreshModels());
    renderInfo(this.infoEl, this.store);
    for (const v of this.views) v.modelsChanged?.();
  }

  private render(): void {
    this.renderModels();
    const { modelsError, models, logdir } = this.store;
    if (modelsError) {
      setChildren(this.bodyEl, errorBox(modelsError), h("p", null, button("Try again", () => void this.refreshModels())));
      return;
    }
    if (models.length === 0) {
      setChildren(this.bodyEl, emptyState(logdir, () => void this.refreshModels()));
      return;
    }
    this.renderTabs();
    const layout = h("div", { class: "w2v-layout" }, h("div", { class: "w2v-col-main" }, this.views.map((v) => v.el)), this.plot.el);
    setChildren(this.bodyEl, this.tabsEl, layout);
    this.showMode(this.store.state.mode, false);
  }

  private changeModel(run: string | null, model: string | null, step: number | null): void {
    this.store.setState({ run, model, step });
    this.renderModels();
    for (const v of this.views) v.targetChanged?.();
    this.runCurrent();
  }

  private renderTabs(): void {
    const modes = this.views.map((v) => v.mode);
    const mode = this.store.state.mode;
    setChildren(
      this.tabsEl,
      this.views.map((v, i) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            id: `w2v-tab-${v.mode}`,
            class: "w2v-tab",
            "aria-selected": String(v.mode === mode),
            "aria-controls": `w2v-panel-${v.mode}`,
            tabindex: v.mode === mode ? 0 : -1,
            "data-testid": `tab-${v.mode}`,
            onclick: () => this.showMode(v.mode, true),
            onkeydown: (ev: Event) => {
              const key = (ev as KeyboardEvent).key;
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
          v.label,
        ),
      ),
    );
  }

  private showMode(mode: Mode, run: boolean): void {
    const changed = mode !== this.store.state.mode;
    this.store.setState({ mode });
    for (const v of this.views) v.el.hidden = v.mode !== mode;
    this.tabsEl.querySelectorAll<HTMLElement>("[role=tab]").forEach((tab) => {
      const on = tab.id === `w2v-tab-${mode}`;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
    });
    const view = this.view(mode);
    for (const v of this.views) if (v !== view) v.hidden?.();
    const hasPlot = !!view?.plot;
    this.plot.el.hidden = !hasPlot;
    this.bodyEl.querySelector(".w2v-layout")?.classList.toggle("w2v-layout-wide", !hasPlot);
    view?.shown?.();
    if (run && changed) this.runCurrent();
  }

  /** Shows the neighbours of `word` (a word clicked anywhere). */
  private queryWord(word: string): void {
    if (this.store.state.mode !== "neighbors") this.showMode("neighbors", false);
    this.view("neighbors")?.query?.(word);
  }

  private runCurrent(): void {
    if (!this.store.target()) return;
    this.view(this.store.state.mode)?.run();
  }
}
