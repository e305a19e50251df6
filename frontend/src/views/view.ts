/**
 * What a view (one tab of the Word2Vec page) is, and what the app gives it.
 *
 * A view is a module exporting a `ViewFactory`; `registry.ts` lists them in tab order. The app
 * builds each view once, shows its panel (`el`, made with `panel()`) when its tab is chosen and
 * calls its hooks; a view reads and changes the shared state through `ctx.store` and asks the
 * plugin through the typed client (`../client`).
 */
import { h, type Child } from "../dom";
import type { PlotPanel } from "../plotpanel";
import type { Slot } from "../slot";
import type { Mode } from "../state";
import type { Store } from "../store";
import type { SuggestFn, WordInput } from "../wordinput";

export interface View {
  /** The view's id: in the URL (`mode=`), the tab (`tab-<mode>`) and panel (`panel-<mode>`). */
  readonly mode: Mode;
  /** The tab's text. */
  readonly label: string;
  /** The tab panel, made with `panel(mode, …)`. */
  readonly el: HTMLElement;
  /** The 2-D view is shown beside this view. */
  readonly plot?: boolean;
  /** Runs the query the state holds, if it holds one (the view is shown, or the model changed). */
  run(): void;
  /** The view is shown (before `run`). */
  shown?(): void;
  /** Another view is shown: stop what should not go on in the background. */
  hidden?(): void;
  /** The chosen run, model or step changed (before `run`). */
  targetChanged?(): void;
  /** The model list or the chosen model's details changed. */
  modelsChanged?(): void;
  /** Runs the view's query for one word (the Neighbours view: used by every clickable word). */
  query?(word: string): void;
}

export interface ViewContext {
  readonly store: Store;
  /** The 2-D view (PCA) shared by the views with `plot: true`. */
  readonly plot: PlotPanel;
  /** Shared by the one-model queries: a new query in any of them aborts the one still running. */
  readonly mainSlot: Slot;
  /** Vocabulary autocomplete for the chosen model. */
  readonly suggest: SuggestFn;
  /** Shows the Neighbours view with the neighbours of `word`. */
  queryWord(word: string): void;
  /** A route answered for the chosen model: it is loaded now, so refresh its details. */
  loaded(): void;
  /** Extra words for a loading message while the chosen model still has to load. */
  loadNote(): string;
}

export type ViewFactory = (ctx: ViewContext) => View;

/** Keeps `input` showing the state's `q` when another view changes it. */
export function followQuery(ctx: ViewContext, input: WordInput): void {
  ctx.store.subscribe((patch) => {
    if (patch.q !== undefined && input.value !== patch.q) input.value = patch.q;
  });
}

/** The tab panel of `mode` holding `children` (`id="w2v-panel-<mode>"`, `data-testid="panel-<mode>"`). */
export function panel(mode: Mode, ...children: Child[]): HTMLElement {
  return h(
    "section",
    { class: "w2v-card w2v-panel", id: `w2v-panel-${mode}`, role: "tabpanel", "aria-labelledby": `w2v-tab-${mode}`, "data-testid": `panel-${mode}` },
    children,
  );
}
