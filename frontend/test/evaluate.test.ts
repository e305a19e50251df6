import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  benchmarkLabel,
  bestRows,
  coverageOf,
  formatAccuracy,
  formatCoverage,
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
  const t = (a: number | null) => ({ correct: 0, incorrect: 0, total: a === null ? 0 : 100 - oov, accuracy: a });
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
    expect(bestRows(rows).map((r) => r.run)).toEqual(["a"]);
    expect(bestRows([row("x", null, "e")])).toEqual([]);
  });

  it("marks every row tied at the top", () => {
    const tied = [row("a", analogy(0.5)), row("b", analogy(0.5)), row("c", analogy(0.4))];
    expect(bestRows(tied).map((r) => r.run)).toEqual(["a", "b"]);
  });

  it("never crowns a model that answered few of the questions", () => {
    // 2 of 19,544 questions answered, both right (gensim's test_glove.txt in the demo), beside
    // a model that answered 290 of them: the second is best despite its 0.7 %.
    const tiny: AnalogyResult = { ...analogy(1, 1, 0), questions: 19544, oov: 19542, oov_ratio: 99.99, total: { correct: 2, incorrect: 0, total: 2, accuracy: 1 } };
    const lee: AnalogyResult = { ...analogy(0.0069, 0.0069, 0), questions: 19544, oov: 19254, oov_ratio: 98.5, total: { correct: 2, incorrect: 288, total: 290, accuracy: 0.0069 } };
    expect(bestRows([row("tiny", tiny), row("lee", lee)]).map((r) => r.run)).toEqual(["lee"]);
    // None answered anything: no badge.
    const none: AnalogyResult = { ...tiny, oov: 19544, total: { correct: 0, incorrect: 0, total: 0, accuracy: null } };
    expect(bestRows([row("none", none)])).toEqual([]);
    // Comparable coverage (at least half the largest): the higher score wins.
    const half: AnalogyResult = { ...lee, total: { correct: 100, incorrect: 50, total: 150, accuracy: 0.667 } };
    expect(bestRows([row("half", half), row("lee", lee)]).map((r) => r.run)).toEqual(["half"]);
  });

  it("measures coverage as answered / asked, and never shows 0 % or 100 % for what is not", () => {
    const lee: AnalogyResult = { ...analogy(0.0069), questions: 19544, oov: 19254, total: { correct: 2, incorrect: 288, total: 290, accuracy: 0.0069 } };
    expect(coverageOf(lee)).toBeCloseTo(290 / 19544, 10);
    expect(coverageOf(pairs(0.5))).toBe(0.8);
    expect(coverageOf(null)).toBeNull();
    expect(formatCoverage(290 / 19544)).toBe("1.5%");
    expect(formatCoverage(2 / 19544)).toBe("<0.1%");
    expect(formatCoverage(19543 / 19544)).toBe(">99.9%");
    expect(formatCoverage(1)).toBe("100.0%");
    expect(formatCoverage(0)).toBe("0.0%");
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
    // A 0.69 % maximum gets an axis that ends below 1 %, not at 1.8 %.
    const [, top] = scoreDomain("analogies", [0.0034, 0.0069]);
    expect(top).toBeGreaterThan(0.0069);
    expect(top).toBeLessThan(0.008);
    const [a, b] = scoreDomain("pairs", [0.2, 0.3]);
    expect(a).toBeLessThan(0.2);
    expect(b).toBeGreaterThan(0.3);
  });
});
