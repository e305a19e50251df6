/** A `/info` answer for the tests (the plugin's values at the time of writing). */
import type { ServerInfo } from "../src/api";

export const INFO: ServerInfo = {
  plugin: "word2vec",
  version: "0.1.0",
  limits: { k: 1000, vocab_limit: 1000, query_words: 100, project_words: 5000, export_n: 99999, compare_words: 5000, compare_k: 100, drift_top: 1000, axes_k: 1000 },
  defaults: { k: 10, vocab_limit: 50, method: "3cosadd", compare_words: 1000, compare_k: 10, compare_scope: "shared", restrict_vocab: 300000, export_n: 1000, drift_top: 20, axes_k: 10, weat_test: "weat1" },
  methods: [
    { name: "3cosadd", label: "3CosAdd" },
    { name: "3cosmul", label: "3CosMul" },
  ],
  scopes: ["shared", "all"],
  benchmarks: [
    { name: "analogies", kind: "analogies", source: "builtin" },
    { name: "wordsim353", kind: "pairs", source: "builtin" },
    { name: "simlex999", kind: "pairs", source: "builtin" },
  ],
};
