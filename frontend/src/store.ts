/**
 * The tab's store: the plugin's limits and defaults (`/info`), the view state (mirrored into
 * the URL), the models the plugin listed and lookups over them. It touches neither the DOM nor
 * the network, so it is unit-tested as is; views read it and change it with `setState`, and
 * subscribe to hear what others changed.
 */
import type { ModelInfo, ServerInfo } from "./api";
import { defaultState, encodeState, methodLabel, type State, type Target } from "./state";

/** Called with the fields a `setState` changed (an empty patch: the model list changed). */
export type Listener = (patch: Partial<State>) => void;

export function sameTarget(a: Target, b: Target): boolean {
  return a.run === b.run && a.model === b.model && a.step === b.step;
}

/** `run / model @ step`, with the logdir root shown as "(root)". */
export function targetLabel(t: Target): string {
  const run = t.run === "." ? "(root)" : t.run;
  return `${run} / ${t.model}${t.step === null ? "" : ` @ ${t.step}`}`;
}

export class Store {
  /** What `/info` answered: the limits, defaults, methods and benchmarks of the plugin. */
  readonly info: ServerInfo;
  readonly state: State;
  models: ModelInfo[] = [];
  modelsError: unknown = null;
  logdir: string | null = null;
  private readonly listeners = new Set<Listener>();

  constructor(info: ServerInfo, state: State = defaultState(info)) {
    this.info = info;
    this.state = state;
  }

  /** The state as a URL query string (defaults left out). */
  encoded(): string {
    return encodeState(this.state, this.info);
  }

  /** How the tab names an analogy method, e.g. `3CosMul`. */
  methodLabel(name: string): string {
    return methodLabel(this.info, name);
  }

  /** Changes some fields and tells every listener which. */
  setState(patch: Partial<State>): void {
    Object.assign(this.state, patch);
    this.emit(patch);
  }

  /** Calls `fn` after every change; returns the function that stops it. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Takes a new listing of the models (or the error that stopped it). */
  setModels(models: ModelInfo[], logdir: string | null = this.logdir, error: unknown = null): void {
    this.models = models;
    this.logdir = logdir;
    this.modelsError = error;
  }

  /** Replaces the rows of the models in `rows` (matched by run and model), keeping the others. */
  updateModels(rows: ModelInfo[]): void {
    this.models = this.models.map((m) => rows.find((r) => r.run === m.run && r.model === m.model) ?? m);
  }

  runs(): string[] {
    return [...new Set(this.models.map((m) => m.run))];
  }

  modelsOf(run: string): ModelInfo[] {
    return this.models.filter((m) => m.run === run);
  }

  find(run: string | null, model: string | null): ModelInfo | undefined {
    return this.models.find((m) => m.run === run && m.model === model);
  }

  /** The chosen model's row. */
  current(): ModelInfo | undefined {
    return this.find(this.state.run, this.state.model);
  }

  /** The chosen run, model and step, or null before a model is chosen. */
  target(): Target | null {
    const s = this.state;
    if (s.run === null || s.model === null) return null;
    return { run: s.run, model: s.model, step: s.step };
  }

  /** The models still loading in the plugin. */
  loading(): ModelInfo[] {
    return this.models.filter((m) => m.status === "loading");
  }

  /**
   * Makes the state name a model that exists: keeps the chosen one if listed, else the first
   * usable model of the same run, else of any run; drops a step the model does not have.
   */
  chooseDefaults(): void {
    const s = this.state;
    if (this.models.length === 0) return;
    if (!this.find(s.run, s.model)) {
      const sameRun = s.run !== null ? this.modelsOf(s.run) : [];
      const pick = sameRun.find((m) => m.status !== "error") ?? sameRun[0] ?? this.models.find((m) => m.status !== "error") ?? this.models[0];
      s.run = pick.run;
      s.model = pick.model;
      s.step = null;
    }
    const cur = this.current();
    if (cur && s.step !== null && !(cur.steps ?? []).includes(s.step)) s.step = null;
    this.emit({ run: s.run, model: s.model, step: s.step });
  }

  /** A sensible model to compare with: another run with the same model name, else another step, else any. */
  suggestTarget(existing: Target[]): Target | null {
    const cur = this.current();
    const taken = (t: Target) => existing.some((e) => sameTarget(e, t));
    const cands: Target[] = [];
    if (cur) {
      for (const m of this.models) if (m.run !== cur.run && m.model === cur.model) cands.push({ run: m.run, model: m.model, step: null });
      const effective = this.state.step ?? cur.step;
      for (const st of [...(cur.steps ?? [])].reverse()) {
        if (st !== effective) cands.push({ run: cur.run, model: cur.model, step: st });
      }
    }
    for (const m of this.models) cands.push({ run: m.run, model: m.model, step: null });
    return cands.find((c) => !taken(c) && this.find(c.run, c.model)?.status !== "error") ?? cands.find((c) => !taken(c)) ?? null;
  }

  private emit(patch: Partial<State>): void {
    for (const fn of [...this.listeners]) fn(patch);
  }
}
