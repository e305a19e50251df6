/** The module layout stays what frontend/README.md describes: small files, one module per view. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { MODES } from "../src/state";

const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "src");
const MAX_LINES = 500;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return tsFiles(full);
    return name.endsWith(".ts") ? [full] : [];
  });
}

describe("frontend layout", () => {
  it(`has no TypeScript file over ${MAX_LINES} lines`, () => {
    const files = tsFiles(SRC);
    expect(files.length).toBeGreaterThan(20);
    const long = files
      .map((f) => [path.relative(SRC, f), readFileSync(f, "utf8").split("\n").length - 1] as const)
      .filter(([, n]) => n > MAX_LINES);
    expect(long).toEqual([]);
  });

  it("lists each mode's view in the registry, in the order of MODES", () => {
    const registry = readFileSync(path.join(SRC, "views", "registry.ts"), "utf8");
    const listed = [...registry.matchAll(/^\s+(\w+)View,$/gm)].map((m) => m[1]);
    expect(listed).toEqual([...MODES]);
    for (const mode of MODES) {
      const view = readFileSync(path.join(SRC, "views", `${mode}.ts`), "utf8");
      expect(view).toMatch(new RegExp(`mode(: |\\s*=\\s*)"${mode}"`));
    }
  });
});
