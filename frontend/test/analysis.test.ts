import { describe, expect, it } from "vitest";
import {
  driftDomain,
  driftSeries,
  effectWord,
  formatP,
  joinList,
  maxAbs,
  neighborChanges,
  pMethod,
  signedBar,
  splitList,
  type TrajectoryStep,
} from "../src/analysis";
import { decodeState, defaultState, encodeState, type State } from "../src/state";
import { INFO } from "./info";

const step = (n: number, drift: number | null, words: string[], inVocab = true): TrajectoryStep => ({
  step: n,
  drift,
  in_vocabulary: inVocab,
  neighbors: words.map((word, i) => ({ word, similarity: 1 - i / 10 })),
});

describe("trajectory", () => {
  it("lists the neighbours that came and went between consecutive steps", () => {
    const steps = [step(1, 0.5, ["a", "b", "c"]), step(5, 0.2, ["b", "d", "a"]), step(9, 0, ["d", "e", "f"])];
    expect(neighborChanges(steps)).toEqual([
      { step: 5, came: ["d"], went: ["c"] },
      { step: 9, came: ["e", "f"], went: ["b", "a"] },
    ]);
  });

  it("treats a step without the word as having no neighbours", () => {
    const steps = [step(1, null, [], false), step(2, 0.1, ["x"])];
    expect(neighborChanges(steps)).toEqual([{ step: 2, came: ["x"], went: [] }]);
  });

  it("charts only the steps with a drift, and scales from 0", () => {
    const steps = [step(1, null, [], false), step(2, 0.3, ["x"]), step(3, 0, ["x"])];
    expect(driftSeries(steps)).toEqual([
      { step: 2, value: 0.3 },
      { step: 3, value: 0 },
    ]);
    expect(driftDomain([0.3, 0])[0]).toBe(0);
    expect(driftDomain([0.3, 0])[1]).toBeCloseTo(0.33);
    expect(driftDomain([])).toEqual([0, 0.01]);
  });
});

describe("word lists and bars", () => {
  it("splits on lines and commas, keeps multi-word lines, drops blanks and repeats", () => {
    expect(splitList("rose, tulip\nNew York\n\n rose \n,")).toEqual(["rose", "tulip", "New York"]);
    expect(splitList(joinList(["a b", "c"]))).toEqual(["a b", "c"]);
  });

  it("draws signed values from the middle of the track", () => {
    expect(signedBar(0.5, 1)).toEqual({ left: 50, width: 25 });
    expect(signedBar(-1, 1)).toEqual({ left: 0, width: 50 });
    expect(signedBar(-3, 1)).toEqual({ left: 0, width: 50 });
    expect(signedBar(null, 1)).toEqual({ left: 50, width: 0 });
    expect(signedBar(0.2, 0)).toEqual({ left: 50, width: 0 });
    expect(maxAbs([0.1, -0.4, null, Number.NaN])).toBe(0.4);
  });
});

describe("WEAT figures", () => {
  it("names effect sizes as Cohen did", () => {
    expect([1.2, -0.8, 0.5, 0.2, 0.19, null].map(effectWord)).toEqual(["large", "large", "medium", "small", "negligible", "undefined"]);
  });

  it("formats p-values and says how they were reached", () => {
    expect(formatP(0.5161)).toBe("0.5161");
    expect(formatP(1 / 100000)).toBe("1.0e-5");
    expect(formatP(undefined)).toBe("–");
    expect(pMethod({ exact: true, splits: 12870, seed: null })).toBe("exact: all 12,870 splits");
    expect(pMethod({ exact: false, splits: 100000, seed: 14 })).toBe("sampled: the observed split and 99,999 random ones (seed 14)");
  });
});

describe("URL state of the analysis views", () => {
  it("round-trips every field and leaves defaults out", () => {
    const s: State = {
      ...defaultState(INFO),
      mode: "bias",
      d2: { run: "run b", model: "w2v.model", step: 3 },
      dtop: 50,
      drv: 10000,
      danc: 5000,
      dword: "police",
      axx: "woman - man",
      axy: "good + great - bad",
      axw: "king, queen",
      axn: "doctor",
      axk: 25,
      btest: "custom",
      bx: "rose\ntulip",
      by: "ant, flea",
      ba: "love",
      bb: "hate",
      bsel: [{ run: ".", model: "a.kv", step: null }],
    };
    expect(decodeState(encodeState(s, INFO), INFO)).toEqual(s);
    expect(encodeState({ ...defaultState(INFO), mode: "drift" }, INFO)).toBe("mode=drift");
  });

  it("drops invalid values", () => {
    const s = decodeState("mode=axes&dtop=0&axk=5000&danc=x&d2=bad", INFO);
    expect(s.mode).toBe("axes");
    expect(s.dtop).toBe(20);
    expect(s.axk).toBe(10);
    expect(s.danc).toBeNull();
    expect(s.d2).toBeNull();
  });
});
