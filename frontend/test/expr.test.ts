import { describe, expect, it } from "vitest";
import { analogyTerms, ExpressionError, formatExpression, looksLikeExpression, parseExpression, splitWords } from "../src/expr";

describe("parseExpression", () => {
  it("parses the classic analogy", () => {
    expect(parseExpression("king - man + woman")).toEqual({ positive: ["king", "woman"], negative: ["man"] });
  });

  it("accepts operators glued to words and the Unicode minus", () => {
    expect(parseExpression("king -man +woman")).toEqual({ positive: ["king", "woman"], negative: ["man"] });
    expect(parseExpression("king − man + woman")).toEqual({ positive: ["king", "woman"], negative: ["man"] });
  });

  it("keeps hyphenated words whole", () => {
    expect(parseExpression("new-york - usa + france")).toEqual({ positive: ["new-york", "france"], negative: ["usa"] });
  });

  it("accepts a single word and extra whitespace", () => {
    expect(parseExpression("  paris  ")).toEqual({ positive: ["paris"], negative: [] });
  });

  it("accepts a leading minus", () => {
    expect(parseExpression("- man + woman")).toEqual({ positive: ["woman"], negative: ["man"] });
  });

  it.each([
    ["", /Type an expression/],
    ["king -", /ends with an operator/],
    ["king - + man", /Two operators/],
    ["king man", /Missing \+ or -/],
    ["- man", /at least one word/],
  ])("rejects %j", (text, message) => {
    expect(() => parseExpression(text)).toThrow(ExpressionError);
    expect(() => parseExpression(text)).toThrow(message);
  });

  it("round-trips through formatExpression", () => {
    const p = { positive: ["king", "woman"], negative: ["man"] };
    expect(formatExpression(p.positive, p.negative)).toBe("king + woman - man");
    expect(parseExpression(formatExpression(p.positive, p.negative))).toEqual(p);
  });
});

describe("analogy helpers", () => {
  it("maps a:b::c:? to b - a + c", () => {
    expect(analogyTerms("man", "king", "woman")).toEqual({ positive: ["king", "woman"], negative: ["man"] });
  });

  it("tells expressions from words", () => {
    expect(looksLikeExpression("king - man + woman")).toBe(true);
    expect(looksLikeExpression("king -man")).toBe(true);
    expect(looksLikeExpression("new-york")).toBe(false);
    expect(looksLikeExpression("king")).toBe(false);
  });

  it("splits word lists on spaces and commas", () => {
    expect(splitWords(" a, b  c,,d ")).toEqual(["a", "b", "c", "d"]);
  });
});
