// Bundles the Word2Vec tab into one ES module that TensorBoard loads in its plugin iframe.
// Output: ../tensorboard_plugin_w2v/static/index.js (gitignored; built by setup.py's build_py).
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outfile = path.resolve(here, "..", "tensorboard_plugin_w2v", "static", "index.js");
const watch = process.argv.includes("--watch");

const options = {
  entryPoints: [path.join(here, "src", "index.ts")],
  outfile,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: !watch,
  sourcemap: false,
  legalComments: "eof",
  loader: { ".css": "text" },
  logLevel: "info",
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
