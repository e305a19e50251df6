/**
 * The second model of the two-model views (Compare models, Drift): a run, model and step
 * picker, and the model suggested when the URL names none.
 */
import { h } from "../dom";
import type { Target } from "../state";
import { targetLabel, type Store } from "../store";
import { selectField } from "../widgets";

/** `chosen` if its run and model are listed, else the store's suggestion (given to `keep`). */
export function secondModel(store: Store, chosen: Target | null, keep: (t: Target) => void): Target | null {
  if (chosen && store.models.some((m) => m.run === chosen.run && m.model === chosen.model)) return chosen;
  const a = store.target();
  const suggested = store.suggestTarget(a ? [a] : []);
  if (suggested) keep(suggested);
  return suggested;
}

/** Run, model and step selects for `b` (test ids `<prefix>-run`, `-model`, `-step`). */
export function secondModelPicker(store: Store, b: Target, onChange: (t: Target) => void, prefix: string): HTMLElement {
  const runs = [...new Set(store.models.map((m) => m.run))];
  const modelsOf = (run: string) => store.models.filter((m) => m.run === run);
  const update = (patch: Partial<Target>) => onChange({ ...b, ...patch });
  const run = selectField("Run", runs.map((r) => ({ value: r, label: r === "." ? "(root)" : r })), b.run, (r) => {
    const ms = modelsOf(r);
    update({ run: r, model: (ms.find((m) => m.model === b.model) ?? ms[0])?.model ?? b.model, step: null });
  }, `${prefix}-run`);
  const model = selectField("Model", modelsOf(b.run).map((m) => ({ value: m.model, label: m.model })), b.model, (m) => update({ model: m, step: null }), `${prefix}-model`);
  const steps = store.models.find((m) => m.run === b.run && m.model === b.model)?.steps ?? [];
  const step = selectField(
    "Step",
    [{ value: "", label: "latest" }, ...[...steps].reverse().map((st) => ({ value: String(st), label: String(st) }))],
    b.step === null ? "" : String(b.step),
    (v) => update({ step: v === "" ? null : Number(v) }),
    `${prefix}-step`,
  );
  step.select.disabled = steps.length <= 1;
  return h("div", { class: "w2v-form" }, run.el, model.el, step.el);
}

/**
 * "A: the chosen model; B: a picker" as a lettered list, or a note when there is no second
 * model; `onChange` receives a new B.
 */
export function targetsBlock(store: Store, a: Target | null, b: Target | null, onChange: (t: Target) => void, prefix: string): HTMLElement {
  if (!a || !b) return h("p", { class: "w2v-muted" }, "There is only one model: log another one, or the same one at another step.");
  return h(
    "ol",
    { class: "w2v-target-list", type: "A" },
    h("li", { class: "w2v-target w2v-target-current" }, h("span", { class: "w2v-target-name" }, targetLabel(a)), h("span", { class: "w2v-muted w2v-small" }, " (chosen above)")),
    h("li", { class: "w2v-target" }, secondModelPicker(store, b, onChange, prefix)),
  );
}
