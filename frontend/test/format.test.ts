import { describe, expect, it } from "vitest";
import { barWidth, describeFormat, describeTraining, formatInt, formatSim } from "../src/format";
import { pluginBase } from "../src/api";

describe("formatting", () => {
  it("formats numbers", () => {
    expect(formatInt(1234567)).toBe("1,234,567");
    expect(formatInt(null)).toBe("–");
    expect(formatSim(0.73456)).toBe("0.735");
    expect(formatSim(Number.NaN)).toBe("–");
  });

  it("clamps similarity bars", () => {
    expect(barWidth(0.5)).toBe(50);
    expect(barWidth(-0.3)).toBe(0);
    expect(barWidth(1.2)).toBe(100);
  });

  it("describes training parameters in words", () => {
    const d = Object.fromEntries(describeTraining({ sg: 1, hs: 0, window: 5, corpus_total_words: 59890 }));
    expect(d["Architecture"]).toBe("skip-gram");
    expect(d["Hierarchical softmax"]).toBe("no");
    expect(d["Window"]).toBe("5");
    expect(d["Corpus words"]).toBe("59,890");
    expect(describeTraining(null)).toEqual([]);
    // Every label starts with a capital, named or not.
    const labels = describeTraining({ max_vocab_size: null, ns_exponent: 0.75, some_new_field: 1 }).map(([k]) => k);
    expect(labels).toEqual(["Max vocab size", "Negative sampling exponent", "Some new field"]);
  });

  it("names formats in plain words", () => {
    expect(describeFormat("gensim-keyedvectors")).toBe("gensim KeyedVectors (vectors only)");
    expect(describeFormat("some-new-format")).toBe("some-new-format");
    expect(describeFormat(null)).toBe("unknown");
  });
});

describe("plugin base URL", () => {
  it("resolves routes next to the module", () => {
    expect(pluginBase("http://h:6006/data/plugin/word2vec/index.js").toString()).toBe("http://h:6006/data/plugin/word2vec/");
    expect(pluginBase("http://h:6006/prefix/data/plugin/word2vec/static/index.js").toString()).toBe(
      "http://h:6006/prefix/data/plugin/word2vec/",
    );
  });
});
