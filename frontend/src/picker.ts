/** The model picker (run, model, step), the chosen model's details, and the empty logdir's help. */
import { h, setChildren } from "./dom";
import { describeFormat, describeTraining, formatInt } from "./format";
import type { Store } from "./store";
import { button, selectField } from "./widgets";

/** Fills `el` with the run, model and step menus and a Refresh button. */
export function renderPicker(
  el: HTMLElement,
  store: Store,
  onChange: (run: string | null, model: string | null, step: number | null) => void,
  onRefresh: () => void,
): void {
  if (store.models.length === 0) {
    el.replaceChildren(); // the empty state has its own Refresh button
    return;
  }
  const s = store.state;
  const runSel = selectField(
    "Run",
    store.runs().map((r) => ({ value: r, label: r === "." ? "(root)" : r })),
    s.run ?? "",
    (run) => {
      const first = store.modelsOf(run).find((m) => m.model === s.model) ?? store.modelsOf(run)[0];
      onChange(run, first?.model ?? null, null);
    },
    "run-select",
  );
  const modelSel = selectField(
    "Model",
    store.modelsOf(s.run ?? "").map((m) => ({ value: m.model, label: m.status === "error" ? `${m.model} (failed to load)` : m.model })),
    s.model ?? "",
    (model) => onChange(s.run, model, null),
    "model-select",
  );
  const cur = store.current();
  const steps = cur?.steps ?? [];
  const latest = cur?.step ?? (steps.length ? steps[steps.length - 1] : null);
  const stepSel = selectField(
    "Step",
    [
      { value: "", label: latest === null ? "latest" : `latest (${latest})` },
      ...[...steps].reverse().map((st) => ({ value: String(st), label: String(st) })),
    ],
    s.step === null ? "" : String(s.step),
    (v) => onChange(s.run, s.model, v === "" ? null : Number(v)),
    "step-select",
  );
  stepSel.select.disabled = steps.length <= 1;
  setChildren(
    el,
    runSel.el,
    modelSel.el,
    stepSel.el,
    h("div", { class: "w2v-field w2v-field-end" }, button("Refresh", onRefresh, { title: "Look for new models and steps" })),
  );
}

const STATUS_TEXT: Record<string, string> = {
  ok: "loaded",
  "not loaded": "not loaded yet (loads on first query)",
  loading: "loading…",
  error: "failed to load",
};

function facts(pairs: [string, string][], cls = "w2v-facts w2v-facts-small"): HTMLElement {
  return h("dl", { class: cls }, pairs.map(([k, v]) => h("div", { class: "w2v-fact" }, h("dt", null, k), h("dd", null, v))));
}

/** Fills `el` with the chosen model's format, size, status, training parameters and index. */
export function renderInfo(el: HTMLElement, store: Store): void {
  const cur = store.current();
  if (!cur) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const step = store.state.step;
  const rows: [string, string][] = [
    ["Format", describeFormat(cur.format)],
    ["Vocabulary", formatInt(cur.vocab_size)],
    ["Dimension", formatInt(cur.dim)],
    ["Status", STATUS_TEXT[cur.status] ?? cur.status],
  ];
  if (cur.step !== null && cur.step !== undefined) {
    rows.splice(3, 0, ["Step", `${step ?? cur.step}${step === null ? " (latest)" : ""} of ${cur.steps?.length ?? 1}`]);
  }
  const training = describeTraining(cur.training);
  const index = cur.index ? describeTraining(cur.index) : [];
  setChildren(
    el,
    h(
      "dl",
      { class: "w2v-facts" },
      rows.map(([k, v]) =>
        h("div", { class: `w2v-fact${k === "Status" ? ` w2v-status-${cur.status.replace(/\s+/g, "-")}` : ""}` }, h("dt", null, k), h("dd", null, v)),
      ),
    ),
    training.length
      ? h("details", { class: "w2v-training" }, h("summary", null, "Training parameters"), facts(training))
      : cur.status === "ok"
        ? h("p", { class: "w2v-muted w2v-small" }, "No training parameters stored with this model (vectors only).")
        : null,
    index.length ? h("details", { class: "w2v-training" }, h("summary", null, "Search index"), facts(index)) : null,
    cur.path && (step === null || step === cur.step) ? h("div", { class: "w2v-path w2v-small", title: cur.path }, cur.path) : null,
    cur.error
      ? h("div", { class: "w2v-error", role: "alert", "data-testid": "model-error" }, h("strong", null, "This model could not be loaded. "), cur.error)
      : null,
  );
}

/** What to do when the logdir has no models yet. */
export function emptyState(logdir: string | null, onRefresh: () => void): HTMLElement {
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
