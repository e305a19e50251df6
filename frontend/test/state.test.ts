import { describe, expect, it } from "vitest";
import {
  decodeState,
  decodeTarget,
  defaultState,
  encodeState,
  encodeTarget,
  methodLabel,
  parentHashWithState,
  stateFromParentHash,
  type Rules,
  type State,
} from "../src/state";
import { INFO } from "./info";

const enc = (s: State, rules: Rules = INFO) => encodeState(s, rules);
const dec = (text: string, rules: Rules = INFO) => decodeState(text, rules);
const def = (rules: Rules = INFO) => defaultState(rules);

describe("URL state", () => {
  it("encodes the default state as an empty string", () => {
    expect(enc(def())).toBe("");
  });

  it("round-trips every field", () => {
    const s: State = {
      ...def(),
      run: "runs/a b&c",
      model: "w2v.model",
      step: 30,
      mode: "analogy",
      q: "<img src=x onerror=alert(1)>",
      k: 25,
      rv: 5000,
      exact: true,
      aform: "expr",
      a: "man",
      b: "king",
      c: "woman",
      expr: "king - man + woman",
      method: "3cosmul",
      s1: "cat",
      s2: "dog",
      odd: ["breakfast", "cereal", "dinner", "lunch"],
      cmp: [
        { run: "run|b", model: "m%odel", step: null },
        { run: ".", model: "w2v", step: 10 },
      ],
      n: 99999,
    };
    expect(dec(enc(s))).toEqual(s);
  });

  it("round-trips the evaluate and compare-models fields", () => {
    const s: State = {
      ...def(),
      mode: "evaluate",
      bench: "my questions.txt",
      erv: 30000,
      esel: [
        { run: "run_a", model: "w2v.model", step: null },
        { run: "r&b", model: "m|1", step: null },
      ],
      m2: { run: "run_steps", model: "lee", step: 1 },
      cwords: "king, queen <b>",
      cn: 200,
      ck: 25,
      cscope: "all",
    };
    expect(dec(enc(s))).toEqual(s);
    expect(dec(enc({ ...s, mode: "models" })).mode).toBe("models");
  });

  it("keeps the evaluate and compare-models defaults out of the URL and within limits", () => {
    expect(enc({ ...def(), mode: "neighbors" })).toBe("");
    const s = dec("erv=0&cn=5001&ck=101&m2=broken&bench=&cscope=bogus");
    expect(s.cscope).toBe("shared");
    const d = def();
    expect(s.erv).toBe(300000);
    expect(s.cn).toBe(d.cn);
    expect(s.ck).toBe(d.ck);
    expect(s.m2).toBeNull();
    expect(s.bench).toBe("analogies");
  });

  it("accepts a leading # or ?", () => {
    expect(dec("#q=king&k=5").q).toBe("king");
    expect(dec("?q=king&k=5").k).toBe(5);
  });

  it("falls back to defaults for invalid values", () => {
    const s = dec("mode=bogus&k=0&n=999999999&step=abc&method=x&aform=y&rv=-3&cmp=broken");
    const d = def();
    expect(s.mode).toBe(d.mode);
    expect(s.k).toBe(d.k);
    expect(s.n).toBe(d.n);
    expect(s.step).toBeNull();
    expect(s.method).toBe(d.method);
    expect(s.aform).toBe(d.aform);
    expect(s.rv).toBeNull();
    expect(s.cmp).toEqual([]);
  });

  it("keeps k within its limits", () => {
    expect(dec("k=1000").k).toBe(1000);
    expect(dec("k=1001").k).toBe(10);
  });

  it("takes its limits, defaults, methods and scopes from the plugin's /info", () => {
    const other: Rules = {
      ...INFO,
      limits: { ...INFO.limits, k: 50, export_n: 500, compare_words: 20, compare_k: 5 },
      defaults: { ...INFO.defaults, k: 7, method: "cosine3", compare_scope: "all", restrict_vocab: 1234, export_n: 300, drift_top: 8, axes_k: 4, weat_test: "weat3" },
      methods: [...INFO.methods, { name: "cosine3", label: "Cos3" }],
      scopes: ["all", "shared", "near"],
      benchmarks: [{ name: "mine" }],
    };
    const d = def(other);
    expect([d.k, d.method, d.cscope, d.erv, d.bench]).toEqual([7, "cosine3", "all", 1234, "mine"]);
    expect([d.n, d.dtop, d.axk, d.btest]).toEqual([300, 8, 4, "weat3"]);
    expect(enc(d, other)).toBe("");
    // The same URL read under the two sets of rules.
    const url = "k=60&n=600&cn=21&ck=6&method=cosine3&cscope=near";
    const s = dec(url, other);
    expect([s.k, s.n, s.cn, s.ck, s.method, s.cscope]).toEqual([7, 300, 1000, 10, "cosine3", "near"]);
    const t = dec(url, INFO);
    expect([t.k, t.n, t.cn, t.ck, t.method, t.cscope]).toEqual([60, 600, 21, 6, "3cosadd", "shared"]);
    expect(methodLabel(other, "cosine3")).toBe("Cos3");
    expect(methodLabel(INFO, "3cosmul")).toBe("3CosMul");
    expect(methodLabel(INFO, "unknown")).toBe("unknown");
  });

  it("encodes compare targets unambiguously", () => {
    const t = { run: "a|b", model: "c|d", step: 7 };
    expect(decodeTarget(encodeTarget(t))).toEqual(t);
    expect(decodeTarget("x|y")).toBeNull();
    expect(decodeTarget("x|y|z")).toBeNull();
    expect(decodeTarget("x||")).toBeNull();
  });
});

describe("TensorBoard (parent) hash", () => {
  it("adds our state after the plugin id", () => {
    expect(parentHashWithState("#word2vec", "q=king")).toBe("#word2vec&w2v=q%3Dking");
  });

  it("replaces an older state and keeps other parts", () => {
    const h = parentHashWithState("#word2vec&w2v=q%3Dold&other=1", "q=new");
    expect(h).toBe("#word2vec&other=1&w2v=q%3Dnew");
    expect(stateFromParentHash(h)).toBe("q=new");
  });

  it("uses the plugin name when the hash is empty", () => {
    expect(parentHashWithState("", "q=a")).toBe("#word2vec&w2v=q%3Da");
  });

  it("round-trips a full encoded state", () => {
    const s = { ...def(), run: "r&1", model: "m=2", q: "a+b c", odd: ["x", "y#z"] };
    const hash = parentHashWithState("#word2vec", enc(s));
    expect(dec(stateFromParentHash(hash) ?? "")).toEqual(s);
  });

  it("returns null without our key or on bad escapes", () => {
    expect(stateFromParentHash("#scalars")).toBeNull();
    expect(stateFromParentHash("#word2vec&w2v=%E0%A4%A")).toBeNull();
  });
});
