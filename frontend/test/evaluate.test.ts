import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  benchmarkLabel,
  bestRow,
  formatAccuracy,
  formatScore,
  isPending,
  pollUntilDone,
  progressText,
  scoreDomain,
  scoreOf,
  sortRows,
  stepSeries,
  type AnalogyResult,
  type EvalResult,
  type PairsResult,
  type RunRow,
} from "../src/evaluate";

function analogy(acc: number | null, sem: number | null = acc, oov = 10): AnalogyResult {
  const t = (a: number | null) => ({ correct: 0, incorrect: 0, total: 0, accuracy: a });
  return {
    run: "r", model: "m", step: null, status: "done", kind: "analogies", source: "builtin", method: "3cosadd",
    restrict_vocab: 300000, questions: 100, oov, oov_ratio: oov, total: t(acc), semantic: t(sem), syntactic: t(acc), sections: [], seconds: 0,
  };
}

function pairs(rho: number | null): PairsResult {
  return {
    run: "r", model: "m", step: null, status: "done", kind: "pairs", source: "builtin", restrict_vocab: 300000,
    pairs: 10, used: 8, oov: 2, oov_ratio: 20, pearson: { r: 0.5, pvalue: 0.1 }, spearman: { rho, pvalue: 0.1 }, seconds: 0,
  };
}

function row(run: string, result: EvalResult | null, error: string | null = null): RunRow {
  return { run, model: "m", step: null, result, error, pending: false };
}

describe("evaluation scores", () => {
  it("ranks analogies by accuracy and word pairs by Spearman", () => {
    expect(scoreOf(analogy(0.25))).toBe(0.25);
    expect(scoreOf(pairs(0.4))).toBe(0.4);
    expect(scoreOf(null)).toBeNull();
    expect(formatAccuracy(0.123456)).toBe("12.35%");
    expect(formatAccuracy(null)).toBe("–");
  });
});

describe("benchmark names and scores in plain words", () => {
  it("names built-in benchmarks and says where a user's file comes from", () => {
    expect(benchmarkLabel({ name: "analogies", kind: "analogies", source: "builtin" })).toBe("Google analogies (questions-words)");
    expect(benchmarkLabel({ name: "mine.txt", kind: "analogies", source: "run" })).toBe("mine.txt (analogies, this run)");
    expect(benchmarkLabel({ name: "analogies", kind: "pairs", source: "logdir" })).toBe("analogies (word pairs, logdir)");
  });

  it("formats accuracies as percentages and correlations as numbers", () => {
    expect(formatScore("analogies", 0.5)).toBe("50.00%");
    expect(formatScore("pairs", -0.1234)).toBe("-0.123");
    expect(formatScore("pairs", null)).toBe("–");
  });
});

describe("polling backoff", () => {
  it("grows the pause and caps it", () => {
    expect(backoffDelay(0)).toBe(500);
    expect(backoffDelay(1)).toBe(800);
    expect(backoffDelay(2)).toBe(1280);
    expect(backoffDelay(50)).toBe(5000);
    expect(backoffDelay(-3)).toBe(500);
  });

  it("asks again while the server answers running, with growing pauses", async () => {
    const answers = [{ status: "running" }, { status: "running" }, { status: "done", value: 7 }];
    const waits: number[] = [];
    const seen: number[] = [];
    const res = await pollUntilDone(async () => answers.shift()!, {
      wait: async (ms) => void waits.push(ms),
      onRunning: (n) => seen.push(n),
    });
    expect(res).toEqual({ status: "done", value: 7 });
    expect(waits).toEqual([500, 800]);
    expect(seen).toEqual([1, 2]);
  });

  it("treats queued like running and hands each pending answer over", async () => {
    const answers = [
      { status: "queued", progress: { done: 0, total: null, fraction: null } },
      { status: "running", progress: { done: 30, total: 120, fraction: 0.25 } },
      { status: "done" },
    ];
    const seen: string[] = [];
    const res = await pollUntilDone(async () => answers.shift()!, {
      wait: async () => undefined,
      onRunning: (_n, answer) => seen.push(progressText(answer)),
    });
    expect(res).toEqual({ status: "done" });
    expect(seen).toEqual(["Waiting for other evaluations to finish.", "25% done (30 of 120 questions)."]);
  });

  it("says nothing of progress it does not know", () => {
    expect(progressText(null)).toBe("");
    expect(progressText({ status: "running" })).toBe("");
    expect(progressText({ status: "running", progress: { done: 0, total: null, fraction: null } })).toBe("");
    expect(progressText({ status: "running", progress: { done: 19543, total: 19544, fraction: 0.99995 } })).toBe(
      "99% done (19,543 of 19,544 questions).",
    );
    expect(isPending("queued") && isPending("running") && !isPending("done") && !isPending(undefined)).toBe(true);
  });

  it("stops when cancelled", async () => {
    const controller = new AbortController();
    let asks = 0;
    const p = pollUntilDone(
      async () => {
        asks++;
        return { status: "running" };
      },
      { signal: controller.signal, onRunning: () => controller.abort() },
    );
    await expect(p).rejects.toMatchObject({ name: "AbortError" });
    expect(asks).toBe(1);
  });

  it("gives up after maxAttempts", async () => {
    const p = pollUntilDone(async () => ({ status: "running" }), { maxAttempts: 3, wait: async () => undefined });
    await expect(p).rejects.toThrow(/taking too long/);
  });
});

describe("the across-models table", () => {
  const rows = [row("b", analogy(0.3)), row("a", analogy(0.5)), row("c", null, "failed"), row("d", analogy(0.3)), row("e", analogy(null))];

  it("sorts by score, rows without one last, ties by name", () => {
    expect(sortRows(rows, "score", "desc").map((r) => r.run)).toEqual(["a", "b", "d", "c", "e"]);
    expect(sortRows(rows, "score", "asc").map((r) => r.run)).toEqual(["b", "d", "a", "c", "e"]);
    expect(sortRows(rows, "name", "desc").map((r) => r.run)).toEqual(["e", "d", "c", "b", "a"]);
  });

  it("does not change the input and finds the best row", () => {
    const copy = [...rows];
    sortRows(rows, "score", "desc");
    expect(rows).toEqual(copy);
    expect(bestRow(rows)?.run).toBe("a");
    expect(bestRow([row("x", null, "e")])).toBeNull();
  });
});

describe("the steps chart", () => {
  it("orders points by step and drops steps without a score", () => {
    const pts = stepSeries([
      { step: 3, result: analogy(0.3) },
      { step: 1, result: analogy(0.1) },
      { step: 2, result: null },
      { step: 4, result: analogy(null) },
    ]);
    expect(pts).toEqual([
      { step: 1, value: 0.1 },
      { step: 3, value: 0.3 },
    ]);
  });

  it("keeps accuracy axes at 0..something and correlation axes around the data", () => {
    expect(scoreDomain("analogies", [])).toEqual([0, 1]);
    const [lo, hi] = scoreDomain("analogies", [0.1, 0.2]);
    expect(lo).toBe(0);
    expect(hi).toBeGreaterThan(0.2);
    const [a, b] = scoreDomain("pairs", [0.2, 0.3]);
    expect(a).toBeLessThan(0.2);
    expect(b).toBeGreaterThan(0.3);
  });
});
