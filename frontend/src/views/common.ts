/** Pieces several views share: the one "Top k" of every mode, the word an error is about. */
import { ApiError, isAbort } from "../api";
import { h, setChildren } from "../dom";
import { errorBox, loadingBox, numberField, segmented } from "../widgets";
import type { ViewContext } from "./view";

/**
 * A "Top k" field bound to the state's `k`: every mode uses the same k, so each such field
 * shows the value the last one was set to.
 */
export function kField(ctx: ViewContext, onEnter: () => void, testId?: string): HTMLElement {
  const { store } = ctx;
  const field = numberField("Top k", store.state.k, {
    min: 1,
    max: store.info.limits.k,
    width: "72px",
    onChange: (v) => store.setState({ k: v ?? store.info.defaults.k }),
    onEnter,
    testId,
  });
  store.subscribe((patch) => {
    if (patch.k !== undefined) field.input.value = String(patch.k);
  });
  return field.el;
}

/** The word an "unknown word" error is about (the plugin sends it as `word`). */
export function unknownWord(err: unknown): string | null {
  if (err instanceof ApiError && typeof err.body?.["word"] === "string") return err.body["word"] as string;
  const m = err instanceof Error ? /['‘“"]([^'’”"]+)['’”"]/.exec(err.message) : null;
  return m ? m[1] : null;
}

export interface Ask<T> {
  /** The text of the loading box ("the model loads first" is added when it does). */
  loading: string;
  request: (signal: AbortSignal) => Promise<T>;
  show: (answer: T) => void;
  /** A suggested word for an unknown one was picked (the error box lists the plugin's). */
  suggestion?: (word: string, err: unknown) => void;
  /** Called after the error box is shown. */
  failed?: () => void;
}

/**
 * One query on the chosen model in the shared slot (a newer query drops this one's answer):
 * a loading box in `out`, then `show(answer)` or an error box.
 */
export function ask<T>(ctx: ViewContext, out: HTMLElement, q: Ask<T>): void {
  const signal = ctx.mainSlot.next();
  setChildren(out, loadingBox(`${q.loading}${ctx.loadNote()}`));
  q.request(signal)
    .then((res) => {
      if (signal.aborted) return;
      ctx.loaded();
      q.show(res);
    })
    .catch((e) => {
      if (isAbort(e)) return;
      ctx.loaded();
      const pick = q.suggestion;
      setChildren(out, errorBox(e, pick ? (w) => pick(w, e) : undefined));
      q.failed?.();
    });
}

/** A big figure with its label above and an optional note below (`data-testid` on the figure). */
export function stat(label: string, value: string, testId: string, sub?: string): HTMLElement {
  return h("div", { class: "w2v-stat" }, h("div", { class: "w2v-stat-label" }, label), h("div", { class: "w2v-stat-value", "data-testid": testId }, value), sub ? h("div", { class: "w2v-stat-sub w2v-small" }, sub) : null);
}

/** The plugin's analogy methods as a segmented control bound to the state's `method`. */
export function methodSwitch(ctx: ViewContext, testId: string, onChange?: () => void): HTMLElement {
  const { store } = ctx;
  return segmented(
    "Method",
    store.info.methods.map((m) => ({ value: m.name, label: m.label })),
    store.state.method,
    (v) => {
      store.setState({ method: v });
      onChange?.();
    },
    testId,
  );
}
