/**
 * The Axes view: words placed on one or two concept axes (SemAxis) written as expressions such
 * as `woman - man` (`/axes`). With two axes the words are drawn with the tab's scatter plot
 * (zoom, pan, click a word to place its neighbours); with one, as signed bars along the axis.
 */
import { isAbort } from "../api";
import { maxAbs, signedBar, type AxesPoint, type AxesResponse } from "../analysis";
import * as client from "../client";
import { h, setChildren } from "../dom";
import { splitWords } from "../expr";
import { formatSim } from "../format";
import { ScatterPlot, type PointRole } from "../plot";
import type { Store } from "../store";
import { button, errorBox, loadingBox, numberField } from "../widgets";
import { WordInput } from "../wordinput";
import { panel, type View, type ViewContext } from "./view";

const ROLE: Record<AxesPoint["kind"], PointRole> = { query: "query", neighbor: "neighbor", word: "result" };

export function axesView(ctx: ViewContext): View {
  return new AxesView(ctx);
}

class AxesView implements View {
  readonly mode = "axes" as const;
  readonly label = "Axes";
  readonly el: HTMLElement;
  private readonly store: Store;
  private readonly xInput: WordInput;
  private readonly yInput: WordInput;
  private readonly center: WordInput;
  private readonly wordsEl: HTMLTextAreaElement;
  private readonly out = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "axes-results" });
  private readonly scatter: ScatterPlot;

  constructor(private readonly ctx: ViewContext) {
    this.store = ctx.store;
    const s = this.store.state;
    const run = () => this.run();
    this.xInput = new WordInput({ label: "Horizontal axis", value: s.axx, placeholder: "e.g. woman - man", tokens: true, suggest: ctx.suggest, onEnter: run, testId: "axes-x", width: "240px" });
    this.yInput = new WordInput({ label: "Vertical axis (optional)", value: s.axy, placeholder: "e.g. good - bad", tokens: true, suggest: ctx.suggest, onEnter: run, testId: "axes-y", width: "240px" });
    this.center = new WordInput({ label: "Neighbours of", value: s.axn, suggest: ctx.suggest, onEnter: run, testId: "axes-neighbors-of", width: "160px" });
    this.wordsEl = h("textarea", {
      id: "w2v-axes-words",
      class: "w2v-input w2v-textarea",
      rows: 2,
      placeholder: "Words to place, separated by spaces or commas",
      "data-testid": "axes-words",
      spellcheck: "false",
      value: s.axw,
      onchange: () => this.store.setState({ axw: this.wordsEl.value.trim() }),
    });
    this.wordsEl.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        run();
      }
    });
    const k = numberField("Neighbours (k)", s.axk, { min: 1, max: this.store.info.limits.axes_k, width: "72px", onChange: (v) => this.store.setState({ axk: v ?? this.store.info.defaults.axes_k }), onEnter: run, testId: "axes-k", title: "How many neighbours to place" });
    this.scatter = new ScatterPlot((word) => this.placeNeighbours(word));
    this.el = panel(
      "axes",
      h(
        "div",
        { class: "w2v-axes" },
        h(
          "p",
          { class: "w2v-muted w2v-small" },
          "Concept axes (SemAxis): an axis is the mean of the unit vectors of its + words minus the mean of those of its − words, e.g. “woman - man” or “good + great - bad - awful”; a word’s position is the cosine of its vector with the axis.",
        ),
        h("div", { class: "w2v-form" }, this.xInput.el, this.yInput.el),
        h(
          "div",
          { class: "w2v-form" },
          h("div", { class: "w2v-field w2v-field-grow" }, h("label", { for: "w2v-axes-words", class: "w2v-label" }, "Words"), this.wordsEl),
          this.center.el,
          k.el,
          h("div", { class: "w2v-field w2v-field-end" }, button("Place words", run, { primary: true, testId: "run-axes" })),
        ),
        this.out,
      ),
    );
  }

  targetChanged(): void {
    setChildren(this.out);
  }

  /** A word clicked in the picture: place its neighbours on the same axes. */
  private placeNeighbours(word: string): void {
    this.center.value = word;
    this.run();
  }

  run(): void {
    const t = this.store.target();
    if (!t) return;
    const x = this.xInput.value.trim();
    const y = this.yInput.value.trim();
    const words = this.wordsEl.value.trim();
    const center = this.center.value.trim();
    this.store.setState({ axx: x, axy: y, axw: words, axn: center });
    if (!x) {
      setChildren(this.out, h("p", { class: "w2v-muted" }, "Type an axis, e.g. “woman - man”, then words to place or a word whose neighbours to place."));
      return;
    }
    if (!words && !center) {
      setChildren(this.out, h("p", { class: "w2v-muted" }, "Type words to place, or a word whose neighbours to place."));
      return;
    }
    const signal = this.ctx.mainSlot.next();
    setChildren(this.out, loadingBox(`Placing words…${this.ctx.loadNote()}`));
    client
      .axes(t, { x, y, words: splitWords(words), neighborsOf: center, k: this.store.state.axk }, signal)
      .then((res) => {
        if (signal.aborted) return;
        this.ctx.loaded();
        this.show(res);
      })
      .catch((e) => {
        if (isAbort(e)) return;
        this.ctx.loaded();
        setChildren(this.out, errorBox(e));
      });
  }

  private show(res: AxesResponse): void {
    const missing = res.missing.length ? h("div", { class: "w2v-warn", "data-testid": "axes-missing" }, "Not in the vocabulary: ", res.missing.join(", ")) : null;
    const poles = (a: AxesResponse["x"]) => `${a.words.negative.join(", ") || "0"} ← → ${a.words.positive.join(", ") || "0"}`;
    const table = h(
      "table",
      { class: "w2v-table", "data-testid": "axes-table" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Word"), h("th", { scope: "col", class: "w2v-num" }, res.x.expr), res.y ? h("th", { scope: "col", class: "w2v-num" }, res.y.expr) : null)),
      h(
        "tbody",
        null,
        res.points.map((p) =>
          h(
            "tr",
            { "data-word": p.word, "data-x": String(p.x), "data-y": p.y === null ? "" : String(p.y), "data-kind": p.kind },
            h("td", { class: "w2v-word-cell" }, h("button", { type: "button", class: "w2v-word-btn", title: `Place the neighbours of “${p.word}”`, onclick: () => this.placeNeighbours(p.word) }, p.word)),
            h("td", { class: "w2v-num" }, formatSim(p.x)),
            res.y ? h("td", { class: "w2v-num" }, formatSim(p.y)) : null,
          ),
        ),
      ),
    );
    setChildren(this.out, missing, res.y ? this.scatter.el : this.bars(res), res.y ? h("details", { class: "w2v-training" }, h("summary", null, "Coordinates"), table) : null);
    if (res.y) {
      // Drawn once in the page, so that labels are measured and placed where they fit.
      this.scatter.update({
        points: res.points.filter((p) => p.x !== null && p.y !== null).map((p) => ({ word: p.word, x: p.x as number, y: p.y as number, role: ROLE[p.kind], similarity: null })),
        arrows: [],
        xLabel: `${res.x.expr}  (${poles(res.x)})`,
        yLabel: `${res.y.expr}  (${poles(res.y)})`,
        similarityTo: "",
      });
    }
  }

  /** One axis: the words sorted along it, as bars growing left or right of 0. */
  private bars(res: AxesResponse): HTMLElement {
    const sorted = [...res.points].sort((a, b) => (b.x ?? -Infinity) - (a.x ?? -Infinity));
    const scale = maxAbs(sorted.map((p) => p.x));
    return h(
      "div",
      { class: "w2v-axis-bars", "data-testid": "axes-bars" },
      h("div", { class: "w2v-axis-poles w2v-small w2v-muted" }, h("span", null, `← ${res.x.words.negative.join(", ") || "0"}`), h("span", null, `${res.x.words.positive.join(", ") || "0"} →`)),
      h(
        "ol",
        { class: "w2v-signed-list" },
        sorted.map((p) => {
          const bar = signedBar(p.x, scale);
          return h(
            "li",
            { "data-word": p.word, "data-x": String(p.x), "data-kind": p.kind },
            h("button", { type: "button", class: `w2v-word-btn w2v-kind-${p.kind}`, title: `Place the neighbours of “${p.word}”`, onclick: () => this.placeNeighbours(p.word) }, p.word),
            h("span", { class: "w2v-signed-track", "aria-hidden": "true" }, h("span", { class: "w2v-signed-fill", style: `left:${bar.left.toFixed(1)}%;width:${bar.width.toFixed(1)}%` })),
            h("span", { class: "w2v-num" }, formatSim(p.x)),
          );
        }),
      ),
    );
  }
}
