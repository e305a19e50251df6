/**
 * Which models a table across models includes: a checkbox per model of the logdir, kept in the
 * state as a list of targets, where an empty list means all (so models found later join in).
 */
import type { ModelInfo } from "../api";
import { h, uid } from "../dom";
import type { Target } from "../state";
import { targetLabel } from "../store";

/** Whether `m` is among `chosen` (an empty list chooses every model). */
export function isChosen(chosen: Target[], m: ModelInfo): boolean {
  return chosen.length === 0 || chosen.some((t) => t.run === m.run && t.model === m.model);
}

/**
 * A disclosure holding one checkbox per model (test ids `<prefix>-<run>/<model>`); `chosen()`
 * reads the current choice and `onChange` receives the new one.
 */
export function modelChecklist(models: ModelInfo[], chosen: () => Target[], onChange: (chosen: Target[]) => void, prefix: string): HTMLElement {
  const boxes = models.map((m) => {
    const id = uid("chk");
    return h(
      "span",
      { class: "w2v-check w2v-check-inline" },
      h("input", {
        type: "checkbox",
        id,
        checked: isChosen(chosen(), m),
        "data-testid": `${prefix}-${m.run}/${m.model}`,
        onchange: (ev: Event) => {
          const on = (ev.target as HTMLInputElement).checked;
          const current = models.filter((x) => (x === m ? on : isChosen(chosen(), x)));
          onChange(current.length === models.length ? [] : current.map((x) => ({ run: x.run, model: x.model, step: null })));
        },
      }),
      h("label", { for: id }, targetLabel({ run: m.run, model: m.model, step: null })),
    );
  });
  const count = models.filter((m) => isChosen(chosen(), m)).length;
  return h("details", { class: "w2v-training" }, h("summary", null, `Models to include (${count} of ${models.length})`), h("div", { class: "w2v-eval-boxes" }, boxes));
}
