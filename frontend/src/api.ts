/** Typed client for the plugin's HTTP routes under /data/plugin/word2vec/. */

export interface TrainingInfo {
  [key: string]: unknown;
}

export interface ModelInfo {
  run: string;
  model: string;
  step: number | null;
  steps: number[];
  format: string | null;
  path: string | null;
  vocab_size: number | null;
  dim: number | null;
  error: string | null;
  status: "ok" | "not loaded" | "loading" | "error" | string;
  training: TrainingInfo | null;
  index: Record<string, unknown> | null;
}

/** `GET /info`: the plugin's limits, defaults, methods, scopes and built-in benchmarks. */
export interface ServerInfo {
  plugin: string;
  version: string;
  limits: {
    k: number;
    vocab_limit: number;
    query_words: number;
    project_words: number;
    export_n: number;
    compare_words: number;
    compare_k: number;
    drift_top: number;
    axes_k: number;
  };
  defaults: {
    k: number;
    vocab_limit: number;
    method: string;
    compare_words: number;
    compare_k: number;
    compare_scope: string;
    restrict_vocab: number;
    export_n: number;
    drift_top: number;
    axes_k: number;
    weat_test: string;
  };
  methods: { name: string; label: string }[];
  scopes: string[];
  benchmarks: { name: string; kind: string; source: string }[];
}

export interface WordRow {
  word: string;
  similarity: number;
  count: number | null;
  index: number | null;
}

export interface VocabWord {
  word: string;
  count: number | null;
  index: number | null;
}

export interface NeighborsResponse {
  neighbors: WordRow[];
  word: string;
  run: string;
  model: string;
  step: number | null;
}

export interface AnalogyResponse {
  neighbors: WordRow[];
  positive: string[];
  negative: string[];
  method: string;
}

export interface ProjectResponse {
  points: { word: string; x: number; y: number }[];
  explained_variance: number[];
}

/** One Projector export: a run of the logdir (its row of `/exports`, and `/export_projector`'s answer). */
export interface ExportResponse {
  run: string;
  tensor_name: string | null;
  points: number | null;
  word?: string | null;
  n?: number | null;
  source?: { run: string; model: string; step: number | null } | null;
  /** Seconds since the epoch. */
  created?: number | null;
}

export type ParamValue = string | number | boolean | null | undefined | (string | number)[];
export type Params = Record<string, ParamValue>;

/** An error answered by the plugin (4xx/5xx with {"error": ...}) or a network failure. */
export class ApiError extends Error {
  constructor(
    message: string,
    public readonly status: number,
    public readonly body: Record<string, unknown> | null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get suggestions(): string[] {
    const s = this.body?.["suggestions"];
    return Array.isArray(s) ? s.filter((x): x is string => typeof x === "string") : [];
  }
}

/** Base URL of the plugin routes, derived from where this module was loaded from. */
export function pluginBase(moduleUrl: string): URL {
  const base = new URL("./", moduleUrl);
  // The bundle may be loaded as /data/plugin/word2vec/index.js or .../static/index.js.
  if (base.pathname.endsWith("/static/")) return new URL("../", base);
  return base;
}

let BASE: URL = pluginBase(import.meta.url);

export function setBase(url: URL): void {
  BASE = url;
}

export function routeUrl(route: string, params: Params = {}): URL {
  const url = new URL(route, BASE);
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, String(v));
    else if (typeof value === "boolean") {
      if (value) url.searchParams.set(key, "1");
    } else url.searchParams.set(key, String(value));
  }
  return url;
}

/**
 * Resolves a URL given by the server (e.g. TSV download links) against the plugin base,
 * accepting only same-origin http(s) URLs.
 */
export function safeServerUrl(raw: unknown): string | null {
  if (typeof raw !== "string" || raw.length === 0) return null;
  try {
    const url = new URL(raw, BASE);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (url.origin !== BASE.origin) return null;
    return url.toString();
  } catch {
    return null;
  }
}

async function request<T>(method: "GET" | "POST", route: string, params: Params, signal?: AbortSignal): Promise<T> {
  const url = routeUrl(route, params);
  let response: Response;
  try {
    response = await fetch(url.toString(), {
      method,
      signal,
      headers: method === "POST" ? { "X-Requested-With": "XMLHttpRequest" } : undefined,
      credentials: "same-origin",
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError("Could not reach TensorBoard. Is it still running?", 0, null);
  }
  let body: unknown = null;
  const text = await response.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const obj = body && typeof body === "object" ? (body as Record<string, unknown>) : null;
    const message =
      obj && typeof obj["error"] === "string"
        ? (obj["error"] as string)
        : `The server answered ${response.status} ${response.statusText || ""}`.trim();
    throw new ApiError(message, response.status, obj);
  }
  if (body === null || typeof body !== "object") {
    throw new ApiError("The server sent an answer that is not JSON.", response.status, null);
  }
  return body as T;
}

export function getJSON<T>(route: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  return request<T>("GET", route, params, signal);
}

export function postJSON<T>(route: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  return request<T>("POST", route, params, signal);
}

export function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === "AbortError";
}
