/**
 * The typed API client against a real HTTP server on a local socket: which route, method,
 * parameters and headers each function sends, and how answers and failures come back.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ApiError, isAbort, safeServerUrl, setBase } from "../src/api";
import * as client from "../src/client";
import { INFO } from "./info";

interface Seen {
  method: string;
  path: string;
  query: [string, string][];
  requestedWith: string | undefined;
}

type Reply = { status: number; body: string; type?: string; delayMs?: number };

let server: Server;
let base: URL;
let seen: Seen[] = [];
/** What the server answers next, by path (default: 200 `{}`). */
let replies = new Map<string, Reply>();

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    seen.push({
      method: req.method ?? "",
      path: url.pathname,
      query: [...url.searchParams.entries()],
      requestedWith: req.headers["x-requested-with"] as string | undefined,
    });
    const reply = replies.get(url.pathname) ?? { status: 200, body: "{}" };
    setTimeout(() => {
      res.writeHead(reply.status, { "Content-Type": reply.type ?? "application/json" });
      res.end(reply.body);
    }, reply.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  base = new URL(`http://127.0.0.1:${port}/data/plugin/word2vec/`);
  setBase(base);
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  replies = new Map();
});

const P = "/data/plugin/word2vec";
const T = { run: "runs/a b", model: "w2v.model", step: null };
const json = (body: unknown, status = 200): Reply => ({ status, body: JSON.stringify(body) });

describe("typed API client", () => {
  it("reads /info once as the plugin states it", async () => {
    replies.set(`${P}/info`, json(INFO));
    expect(await client.info()).toEqual(INFO);
    expect(seen).toEqual([{ method: "GET", path: `${P}/info`, query: [], requestedWith: undefined }]);
  });

  it("lists every model, or asks for one model's row (the poll) by run and model", async () => {
    const row = { run: "runs/a b", model: "w2v.model", status: "loading" };
    replies.set(`${P}/models`, json({ models: [row], logdir: "/logs" }));
    expect(await client.listModels()).toEqual({ models: [row], logdir: "/logs" });
    expect(await client.modelRow("runs/a b", "w2v.model")).toEqual(row);
    expect(seen.map((s) => s.query)).toEqual([
      [],
      [
        ["run", "runs/a b"],
        ["model", "w2v.model"],
      ],
    ]);
    // A listing without the fields still gives a usable answer.
    replies.set(`${P}/models`, json({}));
    expect(await client.listModels()).toEqual({ models: [], logdir: null });
    expect(await client.modelRow("x", "y")).toBeNull();
  });

  it("sends each query's parameters, repeated ones once per value, and leaves out empty ones", async () => {
    const t = { ...T, step: 3 };
    await client.neighbors(t, "king", 5, { restrict_vocab: null, exact: true });
    await client.neighbors(T, "king", 5, { restrict_vocab: 100, exact: false });
    await client.analogy(T, { positive: ["king", "woman"], negative: ["man"] }, 10, "3cosmul");
    await client.similarity(T, "a", "b");
    await client.doesntMatch(T, ["x", "y", "z"]);
    await client.project(T, ["p", "q"]);
    expect(seen.map((s) => [s.method, s.path.slice(P.length), s.query])).toEqual([
      ["GET", "/neighbors", [["run", "runs/a b"], ["model", "w2v.model"], ["step", "3"], ["word", "king"], ["k", "5"], ["exact", "1"]]],
      ["GET", "/neighbors", [["run", "runs/a b"], ["model", "w2v.model"], ["word", "king"], ["k", "5"], ["restrict_vocab", "100"]]],
      ["GET", "/analogy", [["run", "runs/a b"], ["model", "w2v.model"], ["positive", "king"], ["positive", "woman"], ["negative", "man"], ["k", "10"], ["method", "3cosmul"]]],
      ["GET", "/similarity", [["run", "runs/a b"], ["model", "w2v.model"], ["a", "a"], ["b", "b"]]],
      ["GET", "/doesnt_match", [["run", "runs/a b"], ["model", "w2v.model"], ["word", "x"], ["word", "y"], ["word", "z"]]],
      ["GET", "/project", [["run", "runs/a b"], ["model", "w2v.model"], ["word", "p"], ["word", "q"]]],
    ]);
  });

  it("returns the vocabulary words, and none from an answer without them", async () => {
    replies.set(`${P}/vocab`, json({ words: [{ word: "king", count: 3, index: 0 }], total: 1, prefix: "k" }));
    expect(await client.vocab(T, "k", 8)).toEqual([{ word: "king", count: 3, index: 0 }]);
    expect(seen[0].query).toEqual([["run", "runs/a b"], ["model", "w2v.model"], ["prefix", "k"], ["offset", "0"], ["limit", "8"]]);
    replies.set(`${P}/vocab`, json({}));
    expect(await client.vocab(T, "k", 8)).toEqual([]);
  });

  it("posts with X-Requested-With (the plugin refuses POSTs without it)", async () => {
    replies.set(`${P}/export_projector`, json({ run: "word2vec_exports/x", tensor_name: "t", points: 11 }));
    expect((await client.exportProjector(T, "king", 10)).points).toBe(11);
    const opts = { benchmark: "analogies", method: "3cosadd", restrict_vocab: 300000, wait: 2 };
    await client.cancelEvaluation(T, opts);
    expect(seen.map((s) => [s.method, s.path.slice(P.length), s.requestedWith])).toEqual([
      ["POST", "/export_projector", "XMLHttpRequest"],
      ["POST", "/evaluate/cancel", "XMLHttpRequest"],
    ]);
    // Cancel names the same evaluation, without the polling wait.
    expect(seen[1].query).toEqual([["run", "runs/a b"], ["model", "w2v.model"], ["benchmark", "analogies"], ["method", "3cosadd"], ["restrict_vocab", "300000"]]);
  });

  it("lists benchmarks, and evaluates with the chosen options", async () => {
    replies.set(`${P}/evaluate`, json({ benchmarks: INFO.benchmarks, status: "done" }));
    expect(await client.benchmarks(T)).toEqual(INFO.benchmarks);
    replies.set(`${P}/evaluate`, json({ status: "running", progress: { done: 1, total: 4, fraction: 0.25 } }, 202));
    const pending = await client.evaluate(T, { benchmark: "wordsim353", method: "3cosadd", restrict_vocab: 5, wait: 2 });
    expect(pending.status).toBe("running");
    expect(seen[1].query).toEqual([["run", "runs/a b"], ["model", "w2v.model"], ["benchmark", "wordsim353"], ["method", "3cosadd"], ["restrict_vocab", "5"], ["wait", "2"]]);
  });

  it("compares two models on given words, or on the n most frequent ones", async () => {
    const b = { run: "r2", model: "m2", step: 7 };
    await client.compare(T, b, { words: "king queen", n: 1000, k: 10, scope: "shared" });
    await client.compare(T, b, { words: "", n: 200, k: 5, scope: "all" });
    expect(seen.map((s) => s.query)).toEqual([
      [["run", "runs/a b"], ["model", "w2v.model"], ["run2", "r2"], ["model2", "m2"], ["step2", "7"], ["words", "king queen"], ["k", "10"], ["scope", "shared"]],
      [["run", "runs/a b"], ["model", "w2v.model"], ["run2", "r2"], ["model2", "m2"], ["step2", "7"], ["n", "200"], ["k", "5"], ["scope", "all"]],
    ]);
  });

  it("turns an error answer into an ApiError with the plugin's message and fields", async () => {
    replies.set(`${P}/neighbors`, json({ error: "word 'Polise' is not in the model's vocabulary", word: "Polise", suggestions: ["police", 3] }, 404));
    const err = await client.neighbors(T, "Polise", 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect([e.status, e.message, e.suggestions, e.body?.["word"]]).toEqual([404, "word 'Polise' is not in the model's vocabulary", ["police"], "Polise"]);
  });

  it("names the status when an error answer is not JSON, and refuses a 200 that is not JSON", async () => {
    replies.set(`${P}/similarity`, { status: 502, body: "<html>bad gateway</html>", type: "text/html" });
    const e1 = (await client.similarity(T, "a", "b").catch((e: unknown) => e)) as ApiError;
    expect([e1.status, e1.message]).toEqual([502, "The server answered 502 Bad Gateway"]);
    replies.set(`${P}/similarity`, { status: 200, body: "not json", type: "text/plain" });
    const e2 = (await client.similarity(T, "a", "b").catch((e: unknown) => e)) as ApiError;
    expect([e2.status, e2.message]).toEqual([200, "The server sent an answer that is not JSON."]);
  });

  it("says when TensorBoard cannot be reached, and lets an aborted request stay an abort", async () => {
    replies.set(`${P}/neighbors`, { ...json({ neighbors: [] }), delayMs: 2000 });
    const controller = new AbortController();
    const pending = client.neighbors(T, "slow", 10, {}, controller.signal).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    expect(isAbort(await pending)).toBe(true);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    setBase(new URL(`http://127.0.0.1:${port}/data/plugin/word2vec/`));
    try {
      const e = (await client.info().catch((x: unknown) => x)) as ApiError;
      expect(e).toBeInstanceOf(ApiError);
      expect([e.status, e.message]).toEqual([0, "Could not reach TensorBoard. Is it still running?"]);
    } finally {
      setBase(base);
    }
  });

  it("accepts only same-origin http(s) links from the server", () => {
    expect(safeServerUrl("export_tsv?part=tensor")).toBe(new URL("export_tsv?part=tensor", base).toString());
    expect(safeServerUrl("javascript:alert(1)")).toBeNull();
    expect(safeServerUrl("https://elsewhere.example/x")).toBeNull();
    expect(safeServerUrl(42)).toBeNull();
  });
});
