/**
 * The answers of the analysis routes (`/drift`, `/trajectory`, `/axes`, `/weat`; see
 * docs/http_api.md) and the pure helpers the Drift, Axes and Bias views draw them with.
 * Nothing here touches the DOM or the network, so it is unit-tested as is.
 */
import type { StepPoint } from "./evaluate";

export interface ModelHeader {
  run: string;
  model: string;
  step: number | null;
  vocab_size?: number | null;
  dim?: number | null;
}

export interface DriftWord {
  word: string;
  drift: number | null;
}

export interface DriftResponse {
  a: ModelHeader;
  b: ModelHeader;
  anchors: number;
  shared: number;
  considered: number;
  most_changed: DriftWord[];
  least_changed: DriftWord[];
  words: (DriftWord & { rank: number | null })[];
  cached: boolean;
  seconds: number;
}

export interface Neighbor {
  word: string;
  similarity: number;
}

export interface TrajectoryStep {
  step: number;
  drift: number | null;
  in_vocabulary: boolean;
  neighbors: Neighbor[];
}

export interface TrajectoryResponse {
  run: string;
  model: string;
  word: string;
  k: number;
  logged_steps: number;
  steps: TrajectoryStep[];
}

export interface AxisInfo {
  expr: string;
  words: { positive: string[]; negative: string[] };
}

export type AxesKind = "word" | "query" | "neighbor";

export interface AxesPoint {
  word: string;
  x: number | null;
  y: number | null;
  kind: AxesKind;
}

export interface AxesResponse extends ModelHeader {
  x: AxisInfo;
  y: AxisInfo | null;
  points: AxesPoint[];
  missing: string[];
}

export type WeatSetKey = "x" | "y" | "a" | "b";
export const WEAT_SETS: WeatSetKey[] = ["x", "y", "a", "b"];

export interface WeatTestInfo {
  name: string;
  title: string;
  source: string;
  sets: Record<WeatSetKey, { name: string; words: string[] }>;
}

export interface WeatAssociation {
  word: string;
  s: number;
}

/** One WEAT result; a built-in test that could not run (too few words) has `error` instead. */
export interface WeatResult {
  test: string | null;
  title?: string | null;
  source?: string | null;
  effect_size?: number | null;
  p_value?: number;
  exact?: boolean;
  splits?: number;
  seed?: number | null;
  statistic?: number | null;
  targets?: { x: WeatAssociation[]; y: WeatAssociation[] };
  sets?: Record<WeatSetKey, { name: string | null; used: number; missing: string[] }>;
  missing?: string[];
  error?: string;
  set?: WeatSetKey;
}

/** A `/weat` answer: one result, or (`test=all`) every built-in test; pending while 202. */
export interface WeatAnswer extends WeatResult {
  run: string;
  model: string;
  step: number | null;
  status: string;
  cached?: boolean;
  tests?: WeatResult[];
}

/** What came into and went out of a word's top-k neighbours from one step to the next. */
export interface NeighborChange {
  step: number;
  came: string[];
  went: string[];
}

/**
 * For each step after the first (in order), the neighbours that were not there at the step
 * before (`came`) and those no longer there (`went`); steps without the word count as empty.
 */
export function neighborChanges(steps: TrajectoryStep[]): NeighborChange[] {
  const out: NeighborChange[] = [];
  for (let i = 1; i < steps.length; i++) {
    const before = new Set(steps[i - 1].neighbors.map((n) => n.word));
    const now = new Set(steps[i].neighbors.map((n) => n.word));
    out.push({
      step: steps[i].step,
      came: steps[i].neighbors.map((n) => n.word).filter((w) => !before.has(w)),
      went: steps[i - 1].neighbors.map((n) => n.word).filter((w) => !now.has(w)),
    });
  }
  return out;
}

/** The points of the drift-per-step chart (steps without a drift are left out). */
export function driftSeries(steps: TrajectoryStep[]): StepPoint[] {
  return steps.filter((s) => s.drift !== null && Number.isFinite(s.drift)).map((s) => ({ step: s.step, value: s.drift as number }));
}

/** The y domain of the drift chart: from 0 to a little above the largest drift. */
export function driftDomain(values: number[]): [number, number] {
  const hi = Math.max(0, ...values.filter((v) => Number.isFinite(v)));
  return [0, hi > 0 ? hi * 1.1 : 0.01];
}

/**
 * Words typed one per line or separated by commas (a line holding no comma is one word, so
 * multi-word entries such as "New York" stay whole); blanks dropped, each word once.
 */
export function splitList(text: string): string[] {
  const words = text.split(/[\n,]+/).map((w) => w.trim()).filter((w) => w.length > 0);
  return [...new Set(words)];
}

/** A list of words back into the text `splitList` reads (one per line). */
export function joinList(words: string[]): string {
  return words.join("\n");
}

/**
 * A bar for a signed value on a scale centred at 0: `left` and `width` in percent of the track
 * (positive values grow right of the middle, negative ones left).
 */
export function signedBar(value: number | null | undefined, maxAbs: number): { left: number; width: number } {
  if (value === null || value === undefined || !Number.isFinite(value) || !(maxAbs > 0)) return { left: 50, width: 0 };
  const half = (Math.min(Math.abs(value), maxAbs) / maxAbs) * 50;
  return value >= 0 ? { left: 50, width: half } : { left: 50 - half, width: half };
}

/** Cohen's conventional words for an effect size (|d| ≥ 0.8 large, ≥ 0.5 medium, ≥ 0.2 small). */
export function effectWord(d: number | null | undefined): string {
  if (d === null || d === undefined || !Number.isFinite(d)) return "undefined";
  const a = Math.abs(d);
  return a >= 0.8 ? "large" : a >= 0.5 ? "medium" : a >= 0.2 ? "small" : "negligible";
}

/** A p-value for people: four decimals, or scientific notation below 0.001. */
export function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return "–";
  return p < 0.001 ? p.toExponential(1) : p.toFixed(4);
}

/** How a p-value was reached, e.g. "exact, 12,870 splits" or "99,999 random splits + the observed one". */
export function pMethod(r: Pick<WeatResult, "exact" | "splits" | "seed">): string {
  const n = (r.splits ?? 0).toLocaleString("en-US");
  if (r.exact) return `exact: all ${n} splits`;
  return `sampled: the observed split and ${((r.splits ?? 1) - 1).toLocaleString("en-US")} random ones (seed ${r.seed ?? "–"})`;
}

/** The largest |value| of some numbers (0 when none is finite), for a shared bar scale. */
export function maxAbs(values: (number | null | undefined)[]): number {
  let m = 0;
  for (const v of values) if (v !== null && v !== undefined && Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m;
}
