/**
 * Parsing of free analogy expressions such as `king - man + woman`.
 *
 * Rules (kept simple so hyphenated vocabulary words still work):
 * - tokens are separated by whitespace;
 * - a token that is just `+` or `-` (or the Unicode minus `−`) sets the sign of the next word;
 * - a word directly prefixed by `+`/`-` (e.g. `-man`) carries that sign;
 * - anything else is a word (so `new-york` is one word) and gets the current sign (default +).
 */

export interface ParsedExpression {
  positive: string[];
  negative: string[];
}

export class ExpressionError extends Error {}

const MINUS = new Set(["-", "\u2212", "\u2013"]);

export function parseExpression(text: string): ParsedExpression {
  const tokens = text.trim().split(/\s+/).filter((t) => t.length > 0);
  if (tokens.length === 0) throw new ExpressionError("Type an expression such as “king - man + woman”.");
  const positive: string[] = [];
  const negative: string[] = [];
  let sign: 1 | -1 | null = null;
  for (const tok of tokens) {
    if (tok === "+" || MINUS.has(tok)) {
      if (sign !== null) throw new ExpressionError(`Two operators in a row before “${tok}”.`);
      sign = tok === "+" ? 1 : -1;
      continue;
    }
    let word = tok;
    let s: 1 | -1 = sign ?? 1;
    const first = tok[0];
    if (sign === null && (first === "+" || MINUS.has(first))) {
      s = first === "+" ? 1 : -1;
      word = tok.slice(1);
    } else if (sign === null && positive.length + negative.length > 0) {
      throw new ExpressionError(`Missing + or - before “${tok}”.`);
    }
    (s === 1 ? positive : negative).push(word);
    sign = null;
  }
  if (sign !== null) throw new ExpressionError("The expression ends with an operator.");
  if (positive.length === 0) throw new ExpressionError("An expression needs at least one word with +.");
  return { positive, negative };
}

/** Formats positive/negative word lists back into an expression string. */
export function formatExpression(positive: string[], negative: string[]): string {
  const parts: string[] = [];
  positive.forEach((w, i) => parts.push(i === 0 ? w : `+ ${w}`));
  negative.forEach((w) => parts.push(`- ${w}`));
  return parts.join(" ");
}

/** "a is to b as c is to ?" → b - a + c, i.e. positive [b, c], negative [a]. */
export function analogyTerms(a: string, b: string, c: string): ParsedExpression {
  return { positive: [b, c], negative: [a] };
}

/** True when a compare/search query should be treated as an expression rather than one word. */
export function looksLikeExpression(text: string): boolean {
  const toks = text.trim().split(/\s+/);
  return toks.length > 1 && toks.some((t) => /^[+\-\u2212\u2013]/.test(t));
}

/** Splits a list of words typed with spaces or commas. */
export function splitWords(text: string): string[] {
  return text.split(/[\s,]+/).filter((w) => w.length > 0);
}
