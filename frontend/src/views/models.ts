/**
 * The Compare models mode: how the neighbourhoods of many words differ between two models (or
 * two steps of one), from the plugin's `/compare` route — mean Jaccard@k, the words that
 * changed most, and each word's two neighbour lists side by side.
 */
import { isAbort } from "../api";
import * as client from "../client";
import type { CompareNeighbor, CompareResponse, CompareWord } from "../client";
import { h, setChildren } from "../dom";
import { formatInt, formatSim } from "../format";
import { byLeastOverlap } from "../overlap";
import type { Target } from "../state";
import { targetLabel, type Store } from "../store";
import { button, errorBox, loadingBox, numberField, segmented } from "../widgets";
import { stat } from "./common";
import { secondModel, targetsBlock } from "./secondmodel";
import { panel, type View, type ViewContext } from "./view";

const PAGE = 20;

/** How the tab names the `scope`s of `/compare`. */
const SCOPE_LABELS: Record<string, string> = { shared: "Shared words", all: "All words" };

export function modelsView(ctx: ViewContext): View {
  return new ModelCompareView(ctx);
}

class ModelCompareView implements View {
  readonly mode = "models" as const;
  readonly label = "Compare models";
  readonly el: HTMLElement;
  private readonly store: Store;
  private readonly pickEl = h("div", { class: "w2v-compare-targets", "data-testid": "cm-targets" });
  private readonly wordsEl: HTMLTextAreaElement;
  private readonly out = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "cm-results" });
  private controller: AbortController | null = null;
  private result: CompareResponse | null = null;
  private page = PAGE;
  private selected: string | null = null;

  constructor(private readonly ctx: ViewContext) {
    this.store = ctx.store;
    const s = this.store.state;
    this.wordsEl = h("textarea", {
      id: "w2v-cm-words",
      class: "w2v-input w2v-textarea",
      rows: 2,
      placeholder: "Leave empty to compare the most frequent words both models know; or type words separated by spaces or commas",
      "data-testid": "cm-words",
      spellcheck: "false",
      value: s.cwords,
      onchange: () => this.store.setState({ cwords: this.wordsEl.value.trim() }),
    });
    this.wordsEl.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        void this.run();
      }
    });
    const { limits, defaults } = this.store.info;
    const n = numberField("Most frequent words", s.cn, { min: 1, max: limits.compare_words, width: "96px", onChange: (v) => this.store.setState({ cn: v ?? defaults.compare_words }), onEnter: () => void this.run(), testId: "cm-n", title: `How many of model A’s most frequent shared words to compare when no words are given (≤ ${formatInt(limits.compare_words)})` });
    const k = numberField("Neighbours (k)", s.ck, { min: 1, max: limits.compare_k, width: "72px", onChange: (v) => this.store.setState({ ck: v ?? defaults.compare_k }), onEnter: () => void this.run(), testId: "cm-k", title: `Jaccard@k over each word’s top k neighbours (≤ ${limits.compare_k})` });
    this.el = panel(
      "models",
      h(
        "div",
        { class: "w2v-cm" },
        h("p", { class: "w2v-muted w2v-small" }, "Compares two models (or two training steps of one) over many words: for each word, the Jaccard overlap of its top-k neighbours in both models (1 = the same neighbours, 0 = none in common). By default both models search only the words they share, so a word missing from one vocabulary does not count as a change. To compare one query across models, use “Compare a query”."),
        this.pickEl,
        h(
          "div",
          { class: "w2v-form" },
          h("div", { class: "w2v-field w2v-field-grow" }, h("label", { for: "w2v-cm-words", class: "w2v-label" }, "Words (optional)"), this.wordsEl),
          n.el,
          k.el,
          segmented(
            "Neighbours from",
            this.store.info.scopes.map((scope) => ({ value: scope, label: SCOPE_LABELS[scope] ?? scope })),
            s.cscope,
            (v) => {
              this.store.setState({ cscope: v });
              void this.run();
            },
            "cm-scope",
          ),
          h("div", { class: "w2v-field w2v-field-end" }, button("Compare models", () => void this.run(), { primary: true, testId: "run-compare-models" })),
        ),
        this.out,
      ),
    );
  }

  shown(): void {
    this.renderTargets();
  }

  hidden(): void {
    this.cancel();
  }

  targetChanged(): void {
    this.cancel();
    if (this.store.state.mode === "models") this.renderTargets();
  }

  /** The second model, suggested when the URL names none (or one that is gone). */
  private second(): Target | null {
    return secondModel(this.store, this.store.state.m2, (m2) => this.store.setState({ m2 }));
  }

  renderTargets(): void {
    const b = this.second();
    setChildren(this.pickEl, targetsBlock(this.store, this.store.target(), b, (m2) => {
      this.store.setState({ m2 });
      this.renderTargets();
    }, "cm"));
  }

  cancel(): void {
    this.controller?.abort();
    this.controller = null;
  }

  async run(): Promise<void> {
    const a = this.store.target();
    const b = this.second();
    if (!a) return;
    if (!b) {
      setChildren(this.out, errorBox(new Error("Choose a second model to compare with.")));
      return;
    }
    const words = this.wordsEl.value.trim();
    this.store.setState({ cwords: words });
    const s = this.store.state;
    this.cancel();
    const controller = new AbortController();
    this.controller = controller;
    const signal = controller.signal;
    setChildren(this.out, loadingBox(`Comparing ${words ? "the given words" : `the ${formatInt(s.cn)} most frequent shared words`} in ${targetLabel(a)} and ${targetLabel(b)}…`));
    try {
      const res = await client.compare(a, b, { words, n: s.cn, k: s.ck, scope: s.cscope }, signal);
      if (signal.aborted) return;
      this.ctx.loaded();
      this.result = res;
      this.page = PAGE;
      this.selected = byLeastOverlap(res.words)[0]?.word ?? null;
      this.render();
    } catch (e) {
      if (isAbort(e)) return;
      setChildren(this.out, errorBox(e));
    }
  }

  private render(): void {
    const r = this.result;
    if (!r) return;
    const label = (x: CompareResponse["a"]) => targetLabel({ run: x.run, model: x.model, step: x.step });
    const ranked = byLeastOverlap(r.words);
    const list = ranked.slice(0, this.page);
    const selected = r.words.find((w) => w.word === this.selected) ?? null;
    setChildren(
      this.out,
      h(
        "div",
        { class: "w2v-stats", "data-testid": "cm-summary" },
        stat(`Mean Jaccard@${r.k}`, formatSim(r.mean_jaccard), "cm-mean-jaccard", `median ${formatSim(r.median_jaccard)}`),
        stat("Words compared", formatInt(r.compared), "cm-compared", r.requested !== r.compared ? `of ${formatInt(r.requested)} asked` : "in both vocabularies"),
        stat("Shared vocabulary", formatInt(r.shared_vocab), "cm-shared-vocab", `A: ${formatInt(r.a.vocab_size)} words, B: ${formatInt(r.b.vocab_size)}`),
      ),
      h("p", { class: "w2v-muted w2v-small" }, "A = ", h("strong", null, label(r.a)), `${r.a.dim ? ` (${r.a.dim} dimensions)` : ""}; B = `, h("strong", null, label(r.b)), `${r.b.dim ? ` (${r.b.dim} dimensions)` : ""}.`),
      r.missing.length
        ? h("div", { class: "w2v-warn", "data-testid": "cm-missing" }, `Not in both vocabularies, so not compared (${formatInt(r.requested - r.compared)}): `, r.missing.join(", "), r.requested - r.compared > r.missing.length ? ", …" : "")
        : null,
      h(
        "div",
        { class: "w2v-cm-grid" },
        h(
          "div",
          { class: "w2v-cm-list" },
          h("h3", { class: "w2v-subtitle" }, "Changed most (lowest overlap first)"),
          this.finder(r),
          h(
            "ol",
            { class: "w2v-cm-changed", "data-testid": "cm-changed" },
            list.map((w) =>
              h(
                "li",
                { "data-word": w.word, "data-jaccard": String(w.jaccard) },
                h(
                  "button",
                  {
                    type: "button",
                    class: w.word === this.selected ? "w2v-cm-word w2v-cm-word-on" : "w2v-cm-word",
                    "aria-pressed": String(w.word === this.selected),
                    title: `Show the neighbours of “${w.word}” in both models`,
                    onclick: () => {
                      this.selected = w.word;
                      this.render();
                      (this.out.querySelector(`.w2v-cm-word-on`) as HTMLElement | null)?.focus();
                    },
                  },
                  h("span", { class: "w2v-cm-word-text" }, w.word),
                  h("span", { class: "w2v-bar", "aria-hidden": "true" }, h("span", { class: "w2v-bar-fill", style: `width:${(w.jaccard * 100).toFixed(1)}%` })),
                  h("span", { class: "w2v-num" }, formatSim(w.jaccard, 2)),
                ),
              ),
            ),
          ),
          ranked.length > this.page
            ? button(`Show ${Math.min(PAGE, ranked.length - this.page)} more (${formatInt(ranked.length - this.page)} left)`, () => {
                this.page += PAGE;
                this.render();
              }, { testId: "cm-more" })
            : null,
        ),
        selected ? this.detail(selected, label(r.a), label(r.b)) : null,
      ),
    );
  }

  /** A field to show any compared word's lists, not only those listed so far. */
  private finder(r: CompareResponse): HTMLElement {
    const note = h("div", { class: "w2v-hint", role: "status" });
    const input = h("input", {
      id: "w2v-cm-find",
      type: "search",
      class: "w2v-input",
      placeholder: "Show a word…",
      "aria-label": "Show the neighbour lists of a compared word",
      "data-testid": "cm-find",
      maxlength: 1000,
      spellcheck: "false",
      autocomplete: "off",
    });
    input.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      const word = input.value.trim();
      const found = r.words.find((w) => w.word === word) ?? r.words.find((w) => w.word.toLowerCase() === word.toLowerCase());
      if (!found) {
        note.textContent = word ? `“${word}” was not compared.` : "";
        return;
      }
      this.selected = found.word;
      const rank = byLeastOverlap(r.words).findIndex((w) => w.word === found.word);
      this.page = Math.max(this.page, Math.ceil((rank + 1) / PAGE) * PAGE);
      this.render();
      (this.out.querySelector(".w2v-cm-word-on") as HTMLElement | null)?.scrollIntoView({ block: "nearest" });
    });
    return h("div", { class: "w2v-cm-find" }, input, note);
  }

  private detail(w: CompareWord, la: string, lb: string): HTMLElement {
    const shared = w.a.filter((n) => n.shared).length;
    const column = (title: string, rows: CompareNeighbor[], testId: string) =>
      h(
        "div",
        { class: "w2v-compare-col", "data-testid": testId },
        h("h4", { class: "w2v-subtitle" }, title),
        rows.length === 0
          ? h("p", { class: "w2v-muted" }, "No neighbours.")
          : h(
              "table",
              { class: "w2v-table" },
              h("thead", null, h("tr", null, h("th", { class: "w2v-num", scope: "col" }, "#"), h("th", { scope: "col" }, "Neighbour"), h("th", { class: "w2v-num", scope: "col" }, "Similarity"))),
              h(
                "tbody",
                null,
                rows.map((n, i) =>
                  h("tr", { class: n.shared ? "w2v-shared-all" : null, "data-word": n.word }, h("td", { class: "w2v-num w2v-rank" }, i + 1), h("td", { class: "w2v-word-cell" }, n.word, n.shared ? h("span", { class: "w2v-sr-only" }, " (in both)") : null), h("td", { class: "w2v-num" }, formatSim(n.similarity))),
                ),
              ),
            ),
      );
    return h(
      "div",
      { class: "w2v-cm-detail", "data-testid": "cm-detail", "data-word": w.word },
      h("h3", { class: "w2v-subtitle" }, "Neighbours of ", h("strong", { class: "w2v-query-word" }, w.word), ` — Jaccard ${formatSim(w.jaccard, 2)}, ${shared} of ${w.a.length} shared`),
      h("p", { class: "w2v-legend w2v-small" }, h("span", { class: "w2v-swatch w2v-shared-all" }), " in both lists"),
      h("div", { class: "w2v-compare-cols" }, column(`A: ${la}`, w.a, "cm-col-a"), column(`B: ${lb}`, w.b, "cm-col-b")),
    );
  }
}
