/**
 * The Bias view: a Word Embedding Association Test (WEAT, Caliskan et al. 2017) on the chosen
 * model — a built-in test or four word lists — with its effect size, permutation p-value and
 * each target word's association as a bar (`/weat`, polled while it answers 202); and every
 * built-in test on every model of the logdir (`BiasTable`).
 */
import { isAbort } from "../api";
import {
  effectWord,
  formatP,
  joinList,
  maxAbs,
  pMethod,
  signedBar,
  splitList,
  WEAT_SETS,
  type WeatAnswer,
  type WeatAssociation,
  type WeatSetKey,
  type WeatTestInfo,
} from "../analysis";
import * as client from "../client";
import { h, setChildren } from "../dom";
import { progressText } from "../evaluate";
import { formatSim } from "../format";
import { BIAS_CUSTOM } from "../state";
import type { Store } from "../store";
import { button, errorBox, loadingBox, selectField } from "../widgets";
import { BiasTable, weatUntilDone } from "./biastable";
import { stat } from "./common";
import { panel, type View, type ViewContext } from "./view";
import { Slot } from "../slot";

const LIST_KEYS: Record<WeatSetKey, "bx" | "by" | "ba" | "bb"> = { x: "bx", y: "by", a: "ba", b: "bb" };
const LIST_LABELS: Record<WeatSetKey, string> = { x: "Target words X", y: "Target words Y", a: "Attribute words A", b: "Attribute words B" };

export function biasView(ctx: ViewContext): View {
  return new BiasView(ctx);
}

class BiasView implements View {
  readonly mode = "bias" as const;
  readonly label = "Bias";
  readonly el: HTMLElement;
  private readonly store: Store;
  private tests: WeatTestInfo[] = [];
  private readonly formEl = h("div", { class: "w2v-form" });
  private readonly setsEl = h("div", { class: "w2v-bias-sets" });
  private readonly out = h("div", { class: "w2v-results", "aria-live": "polite", "data-testid": "bias-results" });
  private readonly lists: Record<WeatSetKey, HTMLTextAreaElement>;
  private readonly table: BiasTable;
  private readonly job = new Slot();

  constructor(private readonly ctx: ViewContext) {
    this.store = ctx.store;
    const s = this.store.state;
    const area = (key: WeatSetKey) =>
      h("textarea", {
        id: `w2v-bias-${key}`,
        class: "w2v-input w2v-textarea",
        rows: 5,
        placeholder: "One word per line, or separated by commas",
        spellcheck: "false",
        "data-testid": `bias-list-${key}`,
        value: s[LIST_KEYS[key]],
        onchange: () => this.store.setState({ [LIST_KEYS[key]]: this.lists[key].value.trim() }),
      });
    this.lists = { x: area("x"), y: area("y"), a: area("a"), b: area("b") };
    this.table = new BiasTable(this.store, () => this.tests);
    this.el = panel(
      "bias",
      h(
        "div",
        { class: "w2v-bias" },
        h(
          "p",
          { class: "w2v-muted w2v-small" },
          "The Word Embedding Association Test (Caliskan et al. 2017) asks whether target words X are closer to attribute words A, and Y to B, than the other way round. Each target word w gets s(w) = mean cos(w, A) − mean cos(w, B); the effect size is the difference of the means of s over X and over Y in standard deviations of s over both; the p-value is the share of all equal-sized splits of X ∪ Y whose difference is at least as large (one-sided). Words missing from the vocabulary are left out and listed.",
        ),
        this.formEl,
        this.setsEl,
        this.out,
        this.table.el,
      ),
    );
  }

  targetChanged(): void {
    this.job.cancel();
    setChildren(this.out);
  }

  hidden(): void {
    this.job.cancel();
  }

  async run(): Promise<void> {
    const t = this.store.target();
    if (!t) return;
    this.table.render();
    if (this.tests.length === 0) {
      const signal = this.job.next();
      setChildren(this.out, loadingBox("Looking for the built-in tests…"));
      try {
        this.tests = await client.weatTests(t, signal);
      } catch (e) {
        if (isAbort(e)) return;
        setChildren(this.out, errorBox(e));
        return;
      }
      this.table.render();
    }
    this.renderForm();
    void this.runTest();
  }

  private custom(): boolean {
    return this.store.state.btest === BIAS_CUSTOM || !this.tests.some((x) => x.name === this.store.state.btest);
  }

  private renderForm(): void {
    const s = this.store.state;
    const options = [...this.tests.map((x) => ({ value: x.name, label: `${x.name.toUpperCase()}: ${x.title}` })), { value: BIAS_CUSTOM, label: "Your own word lists" }];
    const pick = selectField("Test", options, this.custom() ? BIAS_CUSTOM : s.btest, (v) => {
      this.store.setState({ btest: v });
      this.renderForm();
      if (v !== BIAS_CUSTOM) void this.runTest();
    }, "bias-test");
    setChildren(this.formEl, pick.el, h("div", { class: "w2v-field w2v-field-end" }, button("Run test", () => void this.runTest(), { primary: true, testId: "run-bias" })));
    const test = this.tests.find((x) => x.name === s.btest);
    if (!this.custom() && test) {
      setChildren(
        this.setsEl,
        h(
          "details",
          { class: "w2v-training", "data-testid": "bias-test-words" },
          h("summary", null, "The test’s words"),
          h("dl", { class: "w2v-bias-words" }, WEAT_SETS.map((k) => [h("dt", null, `${k.toUpperCase()}: ${test.sets[k].name}`), h("dd", null, test.sets[k].words.join(", "))])),
          h("p", { class: "w2v-muted w2v-small", "data-testid": "bias-source" }, "Source: ", test.source),
          h("p", null, button("Edit as your own lists", () => this.copyToCustom(test), { testId: "bias-copy" })),
        ),
      );
      return;
    }
    setChildren(this.setsEl, h("div", { class: "w2v-bias-grid" }, WEAT_SETS.map((k) => h("div", { class: "w2v-field" }, h("label", { for: `w2v-bias-${k}`, class: "w2v-label" }, LIST_LABELS[k]), this.lists[k]))));
  }

  private copyToCustom(test: WeatTestInfo): void {
    const patch: Partial<Record<"bx" | "by" | "ba" | "bb", string>> = {};
    for (const k of WEAT_SETS) {
      this.lists[k].value = joinList(test.sets[k].words);
      patch[LIST_KEYS[k]] = this.lists[k].value;
    }
    this.store.setState({ ...patch, btest: BIAS_CUSTOM });
    this.renderForm();
  }

  private async runTest(): Promise<void> {
    const t = this.store.target();
    if (!t) return;
    let what: { test: string } | Record<WeatSetKey, string[]>;
    if (this.custom()) {
      const lists = { x: [], y: [], a: [], b: [] } as Record<WeatSetKey, string[]>;
      const patch: Partial<Record<"bx" | "by" | "ba" | "bb", string>> = {};
      for (const k of WEAT_SETS) {
        lists[k] = splitList(this.lists[k].value);
        patch[LIST_KEYS[k]] = this.lists[k].value.trim();
      }
      this.store.setState(patch);
      const empty = WEAT_SETS.find((k) => lists[k].length === 0);
      if (empty) {
        setChildren(this.out, h("p", { class: "w2v-muted" }, `Type the four word lists (${LIST_LABELS[empty]} is empty).`));
        return;
      }
      what = lists;
    } else what = { test: this.store.state.btest };
    const signal = this.job.next();
    setChildren(this.out, loadingBox(`Running the test…${this.ctx.loadNote()}`));
    try {
      const res = await weatUntilDone(t, what, signal, (pending) => setChildren(this.out, loadingBox(`Running the test… ${progressText(pending)}`.trim())));
      if (signal.aborted) return;
      this.ctx.loaded();
      this.show(res);
    } catch (e) {
      if (isAbort(e)) return;
      this.ctx.loaded();
      setChildren(this.out, errorBox(e));
    }
  }

  private show(r: WeatAnswer): void {
    const names = r.sets ?? null;
    const name = (k: WeatSetKey) => names?.[k]?.name ?? null;
    const label = (k: WeatSetKey) => (name(k) ? `${k.toUpperCase()} (${name(k)})` : k.toUpperCase());
    const d = r.effect_size ?? null;
    const targets = r.targets ?? { x: [], y: [] };
    const scale = maxAbs([...targets.x, ...targets.y].map((a) => a.s));
    const column = (key: "x" | "y", rows: WeatAssociation[]) =>
      h(
        "div",
        { class: "w2v-compare-col" },
        h("h4", { class: "w2v-subtitle" }, name(key) ? `${key.toUpperCase()}: ${name(key)}` : key.toUpperCase()),
        h(
          "ol",
          { class: "w2v-signed-list", "data-testid": `bias-assoc-${key}` },
          [...rows].sort((p, q) => q.s - p.s).map((a) =>
            h(
              "li",
              { "data-word": a.word, "data-s": String(a.s) },
              h("span", { class: "w2v-word" }, a.word),
              h("span", { class: "w2v-signed-track", "aria-hidden": "true" }, h("span", { class: "w2v-signed-fill", style: `left:${signedBar(a.s, scale).left.toFixed(1)}%;width:${signedBar(a.s, scale).width.toFixed(1)}%` })),
              h("span", { class: "w2v-num" }, formatSim(a.s, 4)),
            ),
          ),
        ),
      );
    const missing = r.missing ?? [];
    setChildren(
      this.out,
      h(
        "div",
        { class: "w2v-stats", "data-testid": "bias-summary" },
        stat("Effect size d", formatSim(d, 3), "bias-effect", `${effectWord(d)}${d !== null && d !== undefined ? (d >= 0 ? `: X nearer ${label("a")}` : `: X nearer ${label("b")}`) : ""}`),
        stat("p-value (one-sided)", formatP(r.p_value), "bias-p", pMethod(r)),
        stat("Words used", WEAT_SETS.map((k) => String(names?.[k]?.used ?? "–")).join(" / "), "bias-used", "X / Y / A / B"),
      ),
      missing.length ? h("div", { class: "w2v-warn", "data-testid": "bias-missing" }, `Not in the vocabulary, left out (${missing.length}): `, missing.join(", ")) : null,
      h("p", { class: "w2v-muted w2v-small" }, `Association s(w) = mean cos(w, ${label("a")}) − mean cos(w, ${label("b")}); bars grow right towards A, left towards B.`),
      h("div", { class: "w2v-compare-cols" }, column("x", targets.x), column("y", targets.y)),
    );
  }
}
