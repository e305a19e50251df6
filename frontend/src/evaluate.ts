/**
 * Benchmark evaluation: the `/evaluate` answers, polling while the plugin computes (202), the
 * score a benchmark is ranked by, sorting of the across-models table and the steps series.
 */

export interface BenchmarkInfo {
  name: string;
  kind: "analogies" | "pairs" | string;
  source: "builtin" | "logdir" | "run" | string;
}

export interface Tally {
  correct: number;
  incorrect: number;
  total: number;
  accuracy: number | null;
}

export interface SectionResult extends Tally {
  section: string;
  category: "semantic" | "syntactic" | string;
  /** Questions of this section in the file, and how many were skipped (an unknown word). */
  questions?: number;
  oov?: number;
  mistakes: { question: string[]; predicted: string | null }[];
}

export interface Progress {
  done: number;
  total: number | null;
  fraction: number | null;
}

interface Header {
  run: string;
  model: string;
  step: number | null;
  benchmark?: string;
  status: "done" | "queued" | "running" | string;
  cached?: boolean;
  /** While queued or running: analogy questions answered of those asked. */
  progress?: Progress;
}

/** Whether an `/evaluate` answer means "not finished yet, ask again". */
export function isPending(status: string | undefined): boolean {
  return status === "running" || status === "queued";
}

/** How far a pending evaluation got, in words ("" when there is nothing to say yet). */
export function progressText(res: { status?: string; progress?: Progress } | null | undefined): string {
  if (!res) return "";
  if (res.status === "queued") return "Waiting for other evaluations to finish.";
  const p = res.progress;
  if (!p || p.total === null || p.fraction === null) return "";
  const pct = Math.floor(p.fraction * 100);
  return `${pct}% done (${p.done.toLocaleString("en-US")} of ${p.total.toLocaleString("en-US")} questions).`;
}

export interface AnalogyResult extends Header {
  kind: "analogies";
  source: string;
  method: string;
  restrict_vocab: number | null;
  questions: number;
  oov: number;
  oov_ratio: number | null;
  total: Tally;
  semantic: Tally;
  syntactic: Tally;
  sections: SectionResult[];
  seconds: number;
}

export interface PairsResult extends Header {
  kind: "pairs";
  source: string;
  restrict_vocab: number | null;
  pairs: number;
  used: number;
  oov: number;
  oov_ratio: number | null;
  pearson: { r: number | null; pvalue: number | null };
  spearman: { rho: number | null; pvalue: number | null };
  seconds: number;
}

export type EvalResult = AnalogyResult | PairsResult;

/** The built-in benchmarks in plain words. */
export const BENCHMARK_LABELS: Record<string, string> = {
  analogies: "Google analogies (questions-words)",
  wordsim353: "WordSim353 (word-pair similarity)",
  simlex999: "SimLex-999 (word-pair similarity)",
};

export function benchmarkLabel(b: BenchmarkInfo): string {
  const builtin = BENCHMARK_LABELS[b.name];
  if (builtin && b.source === "builtin") return builtin;
  const kind = b.kind === "analogies" ? "analogies" : "word pairs";
  const where = b.source === "run" ? "this run" : b.source === "logdir" ? "logdir" : b.source;
  return `${b.name} (${kind}, ${where})`;
}

/** The figure a result is ranked by: analogy accuracy, or Spearman's ρ for word pairs. */
export function scoreOf(r: EvalResult | null | undefined): number | null {
  if (!r) return null;
  if (r.kind === "analogies") return r.total?.accuracy ?? null;
  return r.spearman?.rho ?? null;
}

/**
 * The share of a benchmark's questions (analogies) or pairs (word pairs) the model answered;
 * the others had a word it does not know, or one beyond restrict_vocab. Null when there were none.
 */
export function coverageOf(r: EvalResult | null | undefined): number | null {
  if (!r) return null;
  if (r.kind === "analogies") return r.questions ? (r.total?.total ?? 0) / r.questions : null;
  return r.pairs ? r.used / r.pairs : null;
}

/** A coverage as a percentage that never reads 0 % or 100 % when it is not (e.g. "<0.1%"). */
export function formatCoverage(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  if (x > 0 && x < 0.001) return "<0.1%";
  if (x < 1 && x > 0.999) return ">99.9%";
  return `${(x * 100).toFixed(1)}%`;
}

/** "answered N of M questions" (or pairs) for a result. */
export function coverageText(r: EvalResult): string {
  return r.kind === "analogies"
    ? `${(r.total?.total ?? 0).toLocaleString("en-US")} of ${r.questions.toLocaleString("en-US")} questions answered`
    : `${r.used.toLocaleString("en-US")} of ${r.pairs.toLocaleString("en-US")} pairs used`;
}

/** What `scoreOf` measures for a benchmark kind. */
export function scoreName(kind: string): string {
  return kind === "analogies" ? "Accuracy" : "Spearman ρ";
}

/** An accuracy in [0, 1] as a percentage with two decimals, e.g. 0.123456 → "12.35%". */
export function formatAccuracy(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return `${(x * 100).toFixed(2)}%`;
}

/** A score as shown in tables: accuracy in percent, a correlation with three decimals. */
export function formatScore(kind: string, x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return kind === "analogies" ? formatAccuracy(x) : x.toFixed(3);
}

// ---------------------------------------------------------------- polling

export interface Backoff {
  first: number; // ms before the first poll
  factor: number;
  max: number; // ms, the longest pause
}

export const DEFAULT_BACKOFF: Backoff = { first: 500, factor: 1.6, max: 5000 };

/** Pause before poll number `attempt` (0-based): first, first·factor, … capped at max. */
export function backoffDelay(attempt: number, b: Backoff = DEFAULT_BACKOFF): number {
  const n = Math.max(0, Math.floor(attempt));
  return Math.min(b.max, Math.round(b.first * Math.pow(b.factor, n)));
}

function abortError(): Error {
  const e = new Error("The evaluation was cancelled.");
  e.name = "AbortError";
  return e;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Asks `fetchOnce` until its answer's status is not "queued" or "running", pausing with backoff
 * between asks; `onRunning(attempt, answer)` is told each time the server is still computing. An aborted
 * `signal` stops it with an AbortError. `maxAttempts` bounds the number of asks.
 */
export async function pollUntilDone<T extends { status?: string }>(
  fetchOnce: (signal?: AbortSignal) => Promise<T>,
  opts: {
    signal?: AbortSignal;
    onRunning?: (attempt: number, answer: T) => void;
    backoff?: Backoff;
    maxAttempts?: number;
    wait?: (ms: number, signal?: AbortSignal) => Promise<void>;
  } = {},
): Promise<T> {
  const wait = opts.wait ?? sleep;
  const max = opts.maxAttempts ?? 400;
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw abortError();
    const res = await fetchOnce(opts.signal);
    if (!isPending(res.status)) return res;
    if (attempt + 1 >= max) throw new Error("The evaluation is taking too long; try again later (it keeps running in TensorBoard).");
    opts.onRunning?.(attempt + 1, res);
    await wait(backoffDelay(attempt, opts.backoff), opts.signal);
  }
}

// ---------------------------------------------------------------- the across-models table

export interface RunRow {
  run: string;
  model: string;
  step: number | null;
  result: EvalResult | null;
  error: string | null;
  pending: boolean;
}

export type SortKey = "name" | "score" | "coverage" | "semantic" | "syntactic" | "oov";
export type SortDir = "asc" | "desc";

function rowValue(r: RunRow, key: SortKey): number | null {
  const res = r.result;
  switch (key) {
    case "score":
      return scoreOf(res);
    case "semantic":
      return res && res.kind === "analogies" ? res.semantic?.accuracy ?? null : null;
    case "syntactic":
      return res && res.kind === "analogies" ? res.syntactic?.accuracy ?? null : null;
    case "coverage":
      return coverageOf(res);
    case "oov":
      return res?.oov_ratio ?? null;
    default:
      return null;
  }
}

/**
 * Rows sorted by `key`; rows without a value (errors, still running) always go last, and
 * equal values keep the run/model order.
 */
export function sortRows(rows: RunRow[], key: SortKey, dir: SortDir): RunRow[] {
  const name = (r: RunRow) => `${r.run}\u0000${r.model}`;
  const byName = (a: RunRow, b: RunRow) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0);
  const sign = dir === "asc" ? 1 : -1;
  return [...rows].sort((a, b) => {
    if (key === "name") return sign * byName(a, b);
    const va = rowValue(a, key);
    const vb = rowValue(b, key);
    if (va === null && vb === null) return byName(a, b);
    if (va === null) return 1;
    if (vb === null) return -1;
    return va === vb ? byName(a, b) : sign * (va - vb);
  });
}

/**
 * A model is compared for "best" only when it answered at least this share of what the model
 * that answered most did: a model that knows 2 of 19,544 questions and gets both right is not
 * better than one that answers 12,000 of them.
 */
export const BEST_MIN_COVERAGE_SHARE = 0.5;

/**
 * The rows marked best: the highest score (ties included) among rows that answered questions,
 * and at least `BEST_MIN_COVERAGE_SHARE` of the largest coverage in the table. Empty when no
 * row answered any.
 */
export function bestRows(rows: RunRow[]): RunRow[] {
  const answered = rows.filter((r) => scoreOf(r.result) !== null && (coverageOf(r.result) ?? 0) > 0);
  if (answered.length === 0) return [];
  const most = Math.max(...answered.map((r) => coverageOf(r.result) ?? 0));
  const eligible = answered.filter((r) => (coverageOf(r.result) ?? 0) >= most * BEST_MIN_COVERAGE_SHARE);
  const top = Math.max(...eligible.map((r) => scoreOf(r.result) ?? -Infinity));
  return eligible.filter((r) => scoreOf(r.result) === top);
}

// ---------------------------------------------------------------- the steps chart

export interface StepPoint {
  step: number;
  value: number;
}

/** Points of the steps chart, by step, leaving out steps without a score. */
export function stepSeries(results: { step: number; result: EvalResult | null }[]): StepPoint[] {
  return results
    .map((r) => ({ step: r.step, value: scoreOf(r.result) }))
    .filter((p): p is StepPoint => p.value !== null && Number.isFinite(p.value))
    .sort((a, b) => a.step - b.step);
}

/**
 * The y domain of the steps chart: from 0 to a little above the highest accuracy (the axis
 * rounds it up to a tick), the data's range (padded) for ρ.
 */
export function scoreDomain(kind: string, values: number[]): [number, number] {
  if (kind === "analogies") {
    const hi = Math.max(0, ...values);
    return [0, hi <= 0 ? 1 : Math.min(1, hi * 1.1)];
  }
  if (values.length === 0) return [-1, 1];
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = Math.max(0.05, (hi - lo) * 0.15);
  return [Math.max(-1, lo - pad), Math.min(1, hi + pad)];
}
