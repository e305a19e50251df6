/**
 * The whole view state of the tab, and its (de)serialisation to a URL query string.
 *
 * The string lives in the iframe's own location hash and, when the TensorBoard page is
 * reachable (same origin), is mirrored into the top window's hash as `#word2vec&w2v=<...>`
 * so that a copied TensorBoard URL reopens the same view.
 */

import type { ServerInfo } from "./api";

/** The views' ids (`views/registry.ts` orders their tabs); one a line, so views are added without clashes. */
export const MODES = [
  "neighbors",
  "analogy",
  "similarity",
  "odd",
  "compare",
  "models",
  "evaluate",
  "drift",
  "axes",
  "bias",
] as const;
export type Mode = (typeof MODES)[number];
export type AnalogyForm = "abc" | "expr";

/**
 * What the state is checked against: the plugin's limits, defaults, methods, scopes and
 * benchmarks, as `GET /info` states them (see `ServerInfo` in `api.ts`).
 */
export interface Rules {
  limits: ServerInfo["limits"];
  defaults: ServerInfo["defaults"];
  methods: { name: string; label: string }[];
  scopes: string[];
  benchmarks: { name: string }[];
}

export interface Target {
  run: string;
  model: string;
  step: number | null; // null = latest
}

export interface State {
  run: string | null;
  model: string | null;
  step: number | null; // null = latest
  mode: Mode;
  q: string; // neighbours query word (also used by compare)
  k: number;
  rv: number | null; // restrict_vocab
  exact: boolean;
  aform: AnalogyForm;
  a: string;
  b: string;
  c: string;
  expr: string;
  method: string; // analogy and evaluation method (one of the plugin's)
  s1: string;
  s2: string;
  odd: string[];
  cmp: Target[]; // compare targets besides the current run/model/step
  n: number; // how many neighbours to send to the Projector
  bench: string; // evaluate: benchmark name
  erv: number; // evaluate: restrict_vocab
  esel: Target[]; // evaluate: models of the across-models table (empty = all); step ignored
  m2: Target | null; // compare models: the second model (null = suggested)
  cwords: string; // compare models: the words (empty = the most frequent shared words)
  cn: number; // compare models: how many frequent words
  ck: number; // compare models: neighbours per word
  cscope: string; // compare models: search the shared vocabulary or each model's whole one
  d2: Target | null; // drift: the second model (null = suggested)
  dtop: number; // drift: how many most and least changed words
  drv: number | null; // drift: rank only the most frequent shared words (null = all)
  danc: number | null; // drift: anchors (null = the plugin's default)
  dword: string; // drift: the word whose trajectory is shown
  axx: string; // axes: the x axis expression
  axy: string; // axes: the y axis expression (empty = one axis)
  axw: string; // axes: the words to place, separated by spaces or commas
  axn: string; // axes: place this word's neighbours too (empty = none)
  axk: number; // axes: how many neighbours
  btest: string; // bias: a built-in WEAT test, or "custom" for the four lists below
  bx: string; // bias: target words X (one per line, or separated by commas)
  by: string; // bias: target words Y
  ba: string; // bias: attribute words A
  bb: string; // bias: attribute words B
  bsel: Target[]; // bias: models of the across-models table (empty = all); step ignored
}

export const BIAS_CUSTOM = "custom";

/** The state of a tab opened without one in its URL. */
export function defaultState(rules: Rules): State {
  return {
    run: null,
    model: null,
    step: null,
    mode: "neighbors",
    q: "",
    k: rules.defaults.k,
    rv: null,
    exact: false,
    aform: "abc",
    a: "",
    b: "",
    c: "",
    expr: "",
    method: rules.defaults.method,
    s1: "",
    s2: "",
    odd: [],
    cmp: [],
    n: rules.defaults.export_n,
    bench: rules.benchmarks[0]?.name ?? "",
    erv: rules.defaults.restrict_vocab,
    esel: [],
    m2: null,
    cwords: "",
    cn: rules.defaults.compare_words,
    ck: rules.defaults.compare_k,
    cscope: rules.defaults.compare_scope,
    d2: null,
    dtop: rules.defaults.drift_top,
    drv: null,
    danc: null,
    dword: "",
    axx: "",
    axy: "",
    axw: "",
    axn: "",
    axk: rules.defaults.axes_k,
    btest: rules.defaults.weat_test,
    bx: "",
    by: "",
    ba: "",
    bb: "",
    bsel: [],
  };
}

function parseIntIn(value: string | null, min: number, max: number): number | null {
  if (value === null || !/^-?\d+$/.test(value.trim())) return null;
  const n = Number.parseInt(value, 10);
  if (!Number.isSafeInteger(n) || n < min || n > max) return null;
  return n;
}

/** Encodes one compare target as `run|model|step`, with each part percent-escaped. */
export function encodeTarget(t: Target): string {
  return [encodeURIComponent(t.run), encodeURIComponent(t.model), t.step === null ? "" : String(t.step)].join("|");
}

export function decodeTarget(text: string): Target | null {
  const parts = text.split("|");
  if (parts.length !== 3) return null;
  try {
    const run = decodeURIComponent(parts[0]);
    const model = decodeURIComponent(parts[1]);
    if (!model) return null;
    const step = parts[2] === "" ? null : parseIntIn(parts[2], 0, Number.MAX_SAFE_INTEGER);
    if (parts[2] !== "" && step === null) return null;
    return { run, model, step };
  } catch {
    return null;
  }
}

/** Serialises the state; values equal to the defaults are left out to keep links short. */
export function encodeState(s: State, rules: Rules): string {
  const d = defaultState(rules);
  const p = new URLSearchParams();
  if (s.run !== null) p.set("run", s.run);
  if (s.model !== null) p.set("model", s.model);
  if (s.step !== null) p.set("step", String(s.step));
  if (s.mode !== d.mode) p.set("mode", s.mode);
  if (s.q) p.set("q", s.q);
  if (s.k !== d.k) p.set("k", String(s.k));
  if (s.rv !== null) p.set("rv", String(s.rv));
  if (s.exact) p.set("exact", "1");
  if (s.aform !== d.aform) p.set("aform", s.aform);
  if (s.a) p.set("a", s.a);
  if (s.b) p.set("b", s.b);
  if (s.c) p.set("c", s.c);
  if (s.expr) p.set("expr", s.expr);
  if (s.method !== d.method) p.set("method", s.method);
  if (s.s1) p.set("s1", s.s1);
  if (s.s2) p.set("s2", s.s2);
  for (const w of s.odd) p.append("odd", w);
  for (const t of s.cmp) p.append("cmp", encodeTarget(t));
  if (s.n !== d.n) p.set("n", String(s.n));
  if (s.bench !== d.bench) p.set("bench", s.bench);
  if (s.erv !== d.erv) p.set("erv", String(s.erv));
  for (const t of s.esel) p.append("esel", encodeTarget(t));
  if (s.m2 !== null) p.set("m2", encodeTarget(s.m2));
  if (s.cwords) p.set("cwords", s.cwords);
  if (s.cn !== d.cn) p.set("cn", String(s.cn));
  if (s.ck !== d.ck) p.set("ck", String(s.ck));
  if (s.cscope !== d.cscope) p.set("cscope", s.cscope);
  if (s.d2 !== null) p.set("d2", encodeTarget(s.d2));
  if (s.dtop !== d.dtop) p.set("dtop", String(s.dtop));
  if (s.drv !== null) p.set("drv", String(s.drv));
  if (s.danc !== null) p.set("danc", String(s.danc));
  if (s.dword) p.set("dword", s.dword);
  for (const key of ["axx", "axy", "axw", "axn", "bx", "by", "ba", "bb"] as const) if (s[key]) p.set(key, s[key]);
  if (s.axk !== d.axk) p.set("axk", String(s.axk));
  if (s.btest !== d.btest) p.set("btest", s.btest);
  for (const t of s.bsel) p.append("bsel", encodeTarget(t));
  return p.toString();
}

/** Parses a query string produced by `encodeState`; anything invalid falls back to the default. */
export function decodeState(text: string, rules: Rules): State {
  const s = defaultState(rules);
  const { limits } = rules;
  const p = new URLSearchParams(text.replace(/^[#?]/, ""));
  const str = (key: string): string | null => p.get(key);
  s.run = str("run");
  s.model = str("model");
  s.step = parseIntIn(str("step"), 0, Number.MAX_SAFE_INTEGER);
  const mode = str("mode");
  if (mode && (MODES as readonly string[]).includes(mode)) s.mode = mode as Mode;
  s.q = str("q") ?? "";
  s.k = parseIntIn(str("k"), 1, limits.k) ?? s.k;
  s.rv = parseIntIn(str("rv"), 1, Number.MAX_SAFE_INTEGER);
  s.exact = str("exact") === "1";
  const aform = str("aform");
  if (aform === "abc" || aform === "expr") s.aform = aform;
  s.a = str("a") ?? "";
  s.b = str("b") ?? "";
  s.c = str("c") ?? "";
  s.expr = str("expr") ?? "";
  const method = str("method");
  if (method && rules.methods.some((m) => m.name === method)) s.method = method;
  s.s1 = str("s1") ?? "";
  s.s2 = str("s2") ?? "";
  s.odd = p.getAll("odd").filter((w) => w.length > 0);
  s.cmp = p.getAll("cmp").map(decodeTarget).filter((t): t is Target => t !== null);
  s.n = parseIntIn(str("n"), 1, limits.export_n) ?? s.n;
  s.bench = str("bench") || s.bench;
  s.erv = parseIntIn(str("erv"), 1, Number.MAX_SAFE_INTEGER) ?? s.erv;
  s.esel = p.getAll("esel").map(decodeTarget).filter((t): t is Target => t !== null);
  const m2 = str("m2");
  s.m2 = m2 === null ? null : decodeTarget(m2);
  s.cwords = str("cwords") ?? "";
  s.cn = parseIntIn(str("cn"), 1, limits.compare_words) ?? s.cn;
  s.ck = parseIntIn(str("ck"), 1, limits.compare_k) ?? s.ck;
  const scope = str("cscope");
  if (scope && rules.scopes.includes(scope)) s.cscope = scope;
  const d2 = str("d2");
  s.d2 = d2 === null ? null : decodeTarget(d2);
  s.dtop = parseIntIn(str("dtop"), 1, limits.drift_top) ?? s.dtop;
  s.drv = parseIntIn(str("drv"), 1, Number.MAX_SAFE_INTEGER);
  s.danc = parseIntIn(str("danc"), 1, Number.MAX_SAFE_INTEGER);
  s.dword = str("dword") ?? "";
  for (const key of ["axx", "axy", "axw", "axn", "bx", "by", "ba", "bb"] as const) s[key] = str(key) ?? "";
  s.axk = parseIntIn(str("axk"), 1, limits.axes_k) ?? s.axk;
  s.btest = str("btest") || s.btest;
  s.bsel = p.getAll("bsel").map(decodeTarget).filter((t): t is Target => t !== null);
  return s;
}

export const PARENT_KEY = "w2v";

/**
 * Reads our state string out of a TensorBoard hash like `#word2vec&w2v=<encoded>`.
 * Returns null when the hash holds no state of ours.
 */
export function stateFromParentHash(hash: string): string | null {
  const parts = hash.replace(/^#/, "").split("&");
  for (const part of parts) {
    if (part.startsWith(PARENT_KEY + "=")) {
      try {
        return decodeURIComponent(part.slice(PARENT_KEY.length + 1));
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * Returns TensorBoard's hash with our state put in (or replaced), keeping any other parts,
 * e.g. `#word2vec` → `#word2vec&w2v=run%3Drun_a%26q%3Dking`.
 */
export function parentHashWithState(hash: string, encoded: string, pluginName = "word2vec"): string {
  const parts = hash.replace(/^#/, "").split("&").filter((p) => p.length > 0 && !p.startsWith(PARENT_KEY + "="));
  if (parts.length === 0) parts.push(pluginName);
  if (encoded) parts.push(`${PARENT_KEY}=${encodeURIComponent(encoded)}`);
  return "#" + parts.join("&");
}

/** How the tab names an analogy method, e.g. `3CosMul` for `3cosmul`. */
export function methodLabel(rules: Rules, name: string): string {
  return rules.methods.find((m) => m.name === name)?.label ?? name;
}
