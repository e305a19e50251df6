import { describe, expect, it } from "vitest";
import { jaccard, jaccardMatrix, occurrenceCounts, sharedByAll } from "../src/overlap";

describe("overlap", () => {
  it("computes the Jaccard index", () => {
    expect(jaccard(["a", "b", "c"], ["b", "c", "d"])).toBeCloseTo(2 / 4);
    expect(jaccard(["a"], ["b"])).toBe(0);
    expect(jaccard(["a", "b"], ["b", "a"])).toBe(1);
    expect(jaccard([], [])).toBe(1);
    expect(jaccard(["a", "a", "b"], ["a"])).toBeCloseTo(1 / 2);
  });

  it("counts in how many lists each word occurs", () => {
    const c = occurrenceCounts([["a", "b", "a"], ["b", "c"], ["b"]]);
    expect(Object.fromEntries(c)).toEqual({ a: 1, b: 3, c: 1 });
  });

  it("finds words shared by all lists in first-list order", () => {
    expect(sharedByAll([["c", "a", "b"], ["a", "b", "c"], ["b", "c", "x"]])).toEqual(["c", "b"]);
    expect(sharedByAll([])).toEqual([]);
  });

  it("builds a symmetric matrix with ones on the diagonal", () => {
    const m = jaccardMatrix([["a", "b"], ["b", "c"], ["x"]]);
    expect(m[0][0]).toBe(1);
    expect(m[0][1]).toBeCloseTo(1 / 3);
    expect(m[1][0]).toBe(m[0][1]);
    expect(m[2][0]).toBe(0);
  });
});

describe("byLeastOverlap", () => {
  it("puts the words that changed most first and keeps ties in order", async () => {
    const { byLeastOverlap } = await import("../src/overlap");
    const words = [
      { word: "a", jaccard: 0.5 },
      { word: "b", jaccard: 0.1 },
      { word: "c", jaccard: 0.5 },
      { word: "d", jaccard: 0 },
    ];
    expect(byLeastOverlap(words).map((w) => w.word)).toEqual(["d", "b", "a", "c"]);
    expect(words[0].word).toBe("a");
  });
});
