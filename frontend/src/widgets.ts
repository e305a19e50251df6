/** Shared pieces of the views: results table, error and loading boxes, form controls. */
import { ApiError, type WordRow } from "./api";
import { h, uid, type Child } from "./dom";
import { barWidth, formatInt, formatSim } from "./format";

export interface TableOptions {
  onPick?: (word: string) => void;
  /** CSS class for a row, e.g. to highlight words shared between compared models. */
  rowClass?: (row: WordRow) => string | null;
  caption?: string;
  testId?: string;
  /** Called with a row's word while it is hovered or focused, and with null after. */
  onHover?: (word: string | null) => void;
  /**
   * The score column's header when it is not a cosine similarity (3CosMul scores exceed 1):
   * its bars are then drawn relative to the highest score of the table.
   */
  scoreLabel?: string;
}

/** Top-k table: rank, word (clickable), similarity with a bar, corpus count. */
export function resultsTable(rows: WordRow[], opts: TableOptions = {}): HTMLElement {
  if (rows.length === 0) return h("p", { class: "w2v-muted" }, "No results.");
  // Files without corpus counts (e.g. word2vec text vectors) get no Count column.
  const counts = rows.some((r) => r.count !== null && r.count !== undefined);
  const top = Math.max(...rows.map((r) => (Number.isFinite(r.similarity) ? r.similarity : 0)));
  const bar = (x: number) => (opts.scoreLabel ? barWidth(top > 0 ? x / top : 0) : barWidth(x));
  const body = rows.map((row, i) => {
    const word = opts.onPick
      ? h(
          "button",
          {
            type: "button",
            class: "w2v-word-btn",
            title: `Show the neighbours of “${row.word}”`,
            onclick: () => opts.onPick?.(row.word),
          },
          row.word,
        )
      : h("span", { class: "w2v-word" }, row.word);
    const hover = opts.onHover;
    return h(
      "tr",
      {
        class: opts.rowClass?.(row) ?? null,
        "data-word": row.word,
        onmouseenter: hover ? () => hover(row.word) : null,
        onmouseleave: hover ? () => hover(null) : null,
        onfocusin: hover ? () => hover(row.word) : null,
        onfocusout: hover ? () => hover(null) : null,
      },
      h("td", { class: "w2v-num w2v-rank" }, i + 1),
      h("td", { class: "w2v-word-cell" }, word),
      h(
        "td",
        { class: "w2v-sim-cell" },
        h(
          "div",
          { class: "w2v-sim-wrap" },
          h(
            "div",
            { class: "w2v-bar", "aria-hidden": "true" },
            h("div", { class: "w2v-bar-fill", style: `width:${bar(row.similarity).toFixed(1)}%` }),
          ),
          h("span", { class: "w2v-num" }, formatSim(row.similarity)),
        ),
      ),
      counts ? h("td", { class: "w2v-num w2v-count" }, formatInt(row.count)) : null,
    );
  });
  return h(
    "table",
    { class: "w2v-table", "data-testid": opts.testId },
    opts.caption ? h("caption", null, opts.caption) : null,
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        h("th", { class: "w2v-num", scope: "col" }, "#"),
        h("th", { scope: "col" }, "Word"),
        h("th", { scope: "col", title: opts.scoreLabel ? "Bars are relative to the highest score" : "Cosine similarity" }, opts.scoreLabel ?? "Similarity"),
        counts ? h("th", { class: "w2v-num", scope: "col", title: "How often the word occurs in the training corpus" }, "Count") : null,
      ),
    ),
    h("tbody", null, body),
  );
}

/** An error box; for unknown words it lists the server's suggestions as buttons. */
export function errorBox(err: unknown, onSuggestion?: (word: string) => void): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  const suggestions = err instanceof ApiError ? err.suggestions : [];
  return h(
    "div",
    { class: "w2v-error", role: "alert", "data-testid": "error" },
    h("div", null, message),
    suggestions.length > 0 && onSuggestion
      ? h(
          "div",
          { class: "w2v-suggestions" },
          h("span", null, "Did you mean: "),
          suggestions.map((s) =>
            h("button", { type: "button", class: "w2v-chip", onclick: () => onSuggestion(s) }, s),
          ),
        )
      : null,
  );
}

export function loadingBox(text = "Loading…"): HTMLElement {
  return h(
    "div",
    { class: "w2v-loading", role: "status", "aria-live": "polite" },
    h("div", { class: "w2v-progress", "aria-hidden": "true" }, h("div", { class: "w2v-progress-bar" })),
    h("span", null, text),
  );
}

export function numberField(
  label: string,
  value: number | null,
  opts: { min: number; max: number; placeholder?: string; width?: string; onChange: (v: number | null) => void; onEnter: () => void; testId?: string; title?: string },
): { el: HTMLElement; input: HTMLInputElement } {
  const id = uid("num");
  const input = h("input", {
    id,
    type: "number",
    class: "w2v-input w2v-input-num",
    min: opts.min,
    max: opts.max,
    step: 1,
    value: value === null ? "" : String(value),
    placeholder: opts.placeholder ?? "",
    style: opts.width ? `width:${opts.width}` : undefined,
    "data-testid": opts.testId,
    title: opts.title,
  });
  const read = (): number | null => {
    if (input.value.trim() === "") return null;
    const n = Math.round(Number(input.value));
    if (!Number.isFinite(n)) return null;
    return Math.min(opts.max, Math.max(opts.min, n));
  };
  input.addEventListener("change", () => opts.onChange(read()));
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      opts.onChange(read());
      opts.onEnter();
    }
  });
  return { el: h("div", { class: "w2v-field" }, h("label", { for: id, class: "w2v-label" }, label), input), input };
}

export function selectField(
  label: string,
  options: { value: string; label: string }[],
  value: string,
  onChange: (v: string) => void,
  testId?: string,
): { el: HTMLElement; select: HTMLSelectElement } {
  const id = uid("sel");
  const select = h(
    "select",
    { id, class: "w2v-select", "data-testid": testId },
    options.map((o) => h("option", { value: o.value, selected: o.value === value }, o.label)),
  );
  select.value = value;
  select.addEventListener("change", () => onChange(select.value));
  return { el: h("div", { class: "w2v-field" }, h("label", { for: id, class: "w2v-label" }, label), select), select };
}

/** A group of radio buttons rendered as a segmented control. */
export function segmented<T extends string>(
  label: string,
  options: { value: T; label: string }[],
  value: T,
  onChange: (v: T) => void,
  testId?: string,
): HTMLElement {
  const name = uid("seg");
  return h(
    "fieldset",
    { class: "w2v-segmented", "data-testid": testId },
    h("legend", { class: "w2v-label" }, label),
    h(
      "div",
      { class: "w2v-segmented-options" },
      options.map((o) => {
        const id = uid("opt");
        return h(
          "span",
          null,
          h("input", {
            type: "radio",
            id,
            name,
            value: o.value,
            checked: o.value === value,
            onchange: () => onChange(o.value),
          }),
          h("label", { for: id }, o.label),
        );
      }),
    ),
  );
}

export function button(text: Child, onClick: () => void, opts: { primary?: boolean; testId?: string; title?: string } = {}): HTMLButtonElement {
  return h(
    "button",
    {
      type: "button",
      class: opts.primary ? "w2v-btn w2v-btn-primary" : "w2v-btn",
      onclick: onClick,
      "data-testid": opts.testId,
      title: opts.title,
    },
    text,
  );
}
