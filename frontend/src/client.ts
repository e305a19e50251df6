/**
 * The typed API client: one function per plugin route, taking typed arguments and returning
 * the route's answer type (see docs/http_api.md). Transport, errors and URL building are in
 * `api.ts`; views call these functions, never `fetch`.
 */
import {
  getJSON,
  postJSON,
  type AnalogyResponse,
  type ExportResponse,
  type ModelInfo,
  type NeighborsResponse,
  type ProjectResponse,
  type ServerInfo,
  type VocabWord,
} from "./api";
import type { AxesResponse, DriftResponse, TrajectoryResponse, WeatAnswer, WeatSetKey, WeatTestInfo } from "./analysis";
import type { BenchmarkInfo, EvalResult } from "./evaluate";
import type { Target } from "./state";

export interface CompareNeighbor {
  word: string;
  similarity: number;
  shared: boolean;
}

export interface CompareWord {
  word: string;
  jaccard: number;
  a: CompareNeighbor[];
  b: CompareNeighbor[];
}

export interface CompareResponse {
  a: { run: string; model: string; step: number | null; vocab_size: number | null; dim: number | null };
  b: { run: string; model: string; step: number | null; vocab_size: number | null; dim: number | null };
  k: number;
  scope: string;
  shared_vocab: number;
  requested: number;
  compared: number;
  missing: string[];
  mean_jaccard: number | null;
  median_jaccard: number | null;
  most_changed: { word: string; jaccard: number }[];
  words: CompareWord[];
  seconds: number;
}

export interface ModelsResponse {
  models: ModelInfo[];
  logdir: string | null;
}

export interface SimilarityResponse {
  a: string;
  b: string;
  similarity: number;
}

export interface DoesntMatchResponse {
  words: string[];
  word: string;
}

export interface VocabResponse {
  prefix: string;
  total: number;
  words: VocabWord[];
}

export interface BenchmarksResponse {
  benchmarks: BenchmarkInfo[];
}

/** The terms of an analogy or expression: vector sum of `positive` minus `negative`. */
export interface Terms {
  positive: string[];
  negative: string[];
}

export interface EvaluateOptions {
  benchmark: string;
  method: string;
  restrict_vocab: number;
  /** Seconds the plugin may compute before it answers 202 ("ask again"). */
  wait?: number;
}

export interface CompareOptions {
  words: string;
  n: number;
  k: number;
  scope: string;
}

function at(t: Target): { run: string; model: string; step: number | null } {
  return { run: t.run, model: t.model, step: t.step };
}

/** The plugin's limits, defaults, methods and built-in benchmarks (read once at start). */
export function info(signal?: AbortSignal): Promise<ServerInfo> {
  return getJSON<ServerInfo>("info", {}, signal);
}

function modelsOf(res: Partial<ModelsResponse>): ModelsResponse {
  return { models: Array.isArray(res.models) ? res.models : [], logdir: typeof res.logdir === "string" ? res.logdir : null };
}

/** Every model of the logdir; the plugin walks the logdir again for this answer. */
export async function listModels(signal?: AbortSignal): Promise<ModelsResponse> {
  return modelsOf(await getJSON<Partial<ModelsResponse>>("models", {}, signal));
}

/** One model's row (its status while it loads), from the plugin's last listing: no rescan. */
export async function modelRow(run: string, model: string, signal?: AbortSignal): Promise<ModelInfo | null> {
  const res = modelsOf(await getJSON<Partial<ModelsResponse>>("models", { run, model }, signal));
  return res.models.find((m) => m.run === run && m.model === model) ?? null;
}

export function neighbors(t: Target, word: string, k: number, opts: { restrict_vocab?: number | null; exact?: boolean } = {}, signal?: AbortSignal): Promise<NeighborsResponse> {
  return getJSON<NeighborsResponse>("neighbors", { ...at(t), word, k, restrict_vocab: opts.restrict_vocab, exact: opts.exact }, signal);
}

export function analogy(t: Target, terms: Terms, k: number, method: string, signal?: AbortSignal): Promise<AnalogyResponse> {
  return getJSON<AnalogyResponse>("analogy", { ...at(t), positive: terms.positive, negative: terms.negative, k, method }, signal);
}

export function similarity(t: Target, a: string, b: string, signal?: AbortSignal): Promise<SimilarityResponse> {
  return getJSON<SimilarityResponse>("similarity", { ...at(t), a, b }, signal);
}

export function doesntMatch(t: Target, words: string[], signal?: AbortSignal): Promise<DoesntMatchResponse> {
  return getJSON<DoesntMatchResponse>("doesnt_match", { ...at(t), word: words }, signal);
}

/** Vocabulary words starting with `prefix` (most frequent first). */
export async function vocab(t: Target, prefix: string, limit: number, signal?: AbortSignal): Promise<VocabWord[]> {
  const res = await getJSON<Partial<VocabResponse>>("vocab", { ...at(t), prefix, offset: 0, limit }, signal);
  return res.words ?? [];
}

export function project(t: Target, words: string[], signal?: AbortSignal): Promise<ProjectResponse> {
  return getJSON<ProjectResponse>("project", { ...at(t), word: words }, signal);
}

export function exportProjector(t: Target, word: string, n: number, signal?: AbortSignal): Promise<ExportResponse> {
  return postJSON<ExportResponse>("export_projector", { ...at(t), word, n }, signal);
}

/** The Projector exports of the logdir, newest first. */
export async function listExports(signal?: AbortSignal): Promise<ExportResponse[]> {
  const res = await getJSON<{ exports?: ExportResponse[] }>("exports", {}, signal);
  return Array.isArray(res.exports) ? res.exports : [];
}

/** Deletes export runs (names from `listExports`); the runs removed. */
export async function removeExports(runs: string[], signal?: AbortSignal): Promise<string[]> {
  const res = await postJSON<{ removed?: string[] }>("exports/remove", { run: runs }, signal);
  return Array.isArray(res.removed) ? res.removed : [];
}

/** The benchmarks `t` can be evaluated on. */
export async function benchmarks(t: Target, signal?: AbortSignal): Promise<BenchmarkInfo[]> {
  const res = await getJSON<Partial<BenchmarksResponse>>("evaluate", at(t), signal);
  return Array.isArray(res.benchmarks) ? res.benchmarks : [];
}

/** One ask of `/evaluate`: the result, or a pending answer (202) to ask again. */
export function evaluate(t: Target, opts: EvaluateOptions, signal?: AbortSignal): Promise<EvalResult> {
  return getJSON<EvalResult>("evaluate", { ...at(t), ...opts }, signal);
}

/** Stops the evaluation `evaluate(t, opts)` started (best effort). */
export function cancelEvaluation(t: Target, opts: EvaluateOptions): Promise<unknown> {
  const { wait: _wait, ...rest } = opts;
  return postJSON("evaluate/cancel", { ...at(t), ...rest });
}

export function compare(a: Target, b: Target, opts: CompareOptions, signal?: AbortSignal): Promise<CompareResponse> {
  return getJSON<CompareResponse>(
    "compare",
    { ...at(a), run2: b.run, model2: b.model, step2: b.step, words: opts.words || null, n: opts.words ? null : opts.n, k: opts.k, scope: opts.scope },
    signal,
  );
}

// ---------------------------------------------------------------- drift, concept axes, bias (WEAT)

export interface DriftOptions {
  top: number;
  restrict_vocab: number | null;
  anchors: number | null;
  words?: string[];
}

/** Model `b` aligned onto model `a`: the words that moved most and least, and `words`. */
export function drift(a: Target, b: Target, opts: DriftOptions, signal?: AbortSignal): Promise<DriftResponse> {
  return getJSON<DriftResponse>(
    "drift",
    { ...at(a), run2: b.run, model2: b.model, step2: b.step, top: opts.top, restrict_vocab: opts.restrict_vocab, anchors: opts.anchors, word: opts.words?.length ? opts.words : null },
    signal,
  );
}

/** `word` over the logged steps of the model `t` names (its step is ignored). */
export function trajectory(t: Target, word: string, k: number, anchors: number | null, signal?: AbortSignal): Promise<TrajectoryResponse> {
  return getJSON<TrajectoryResponse>("trajectory", { run: t.run, model: t.model, word, k, anchors }, signal);
}

export interface AxesOptions {
  x: string;
  y: string;
  words: string[];
  neighborsOf: string;
  k: number;
}

export function axes(t: Target, opts: AxesOptions, signal?: AbortSignal): Promise<AxesResponse> {
  return getJSON<AxesResponse>(
    "axes",
    { ...at(t), x: opts.x, y: opts.y || null, word: opts.words.length ? opts.words : null, neighbors_of: opts.neighborsOf || null, k: opts.neighborsOf ? opts.k : null },
    signal,
  );
}

/** The built-in WEAT tests (nothing is loaded). */
export async function weatTests(t: Target, signal?: AbortSignal): Promise<WeatTestInfo[]> {
  const res = await getJSON<{ tests?: WeatTestInfo[] }>("weat", at(t), signal);
  return Array.isArray(res.tests) ? res.tests : [];
}

/** One ask of `/weat`: a built-in test (or `"all"`), or four word lists; pending answers are 202. */
export function weat(t: Target, what: { test: string } | Record<WeatSetKey, string[]>, wait: number, signal?: AbortSignal): Promise<WeatAnswer> {
  return getJSON<WeatAnswer>("weat", { ...at(t), ...what, wait }, signal);
}
