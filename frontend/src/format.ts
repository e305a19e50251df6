/** Small formatting helpers shared by the views. */

export function formatInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return Math.round(n).toLocaleString("en-US");
}

export function formatSim(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return x.toFixed(digits);
}

export function formatPercent(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return `${(x * 100).toFixed(1)}%`;
}

/** Width (0–100) of a similarity bar; cosine similarity is in [-1, 1], negative values show empty. */
export function barWidth(sim: number): number {
  if (!Number.isFinite(sim)) return 0;
  return Math.max(0, Math.min(1, sim)) * 100;
}

const TRAINING_LABELS: Record<string, string> = {
  sg: "Architecture",
  window: "Window",
  negative: "Negative samples",
  hs: "Hierarchical softmax",
  epochs: "Epochs",
  min_count: "Min count",
  vector_size: "Vector size",
  alpha: "Learning rate (alpha)",
  min_alpha: "Final learning rate",
  sample: "Down-sampling",
  corpus_total_words: "Corpus words",
  corpus_count: "Corpus sentences",
  cbow_mean: "CBOW mean",
  ns_exponent: "Negative sampling exponent",
  seed: "Seed",
  max_vocab_size: "Max vocab size",
  max_final_vocab: "Max final vocab",
  min_n: "Min n-gram",
  max_n: "Max n-gram",
  bucket: "Buckets",
};

/** "max vocab size" → "Max vocab size": every label starts with a capital. */
function sentenceCase(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Turns the `training` dict of a model into human-readable label/value pairs. */
export function describeTraining(training: Record<string, unknown> | null | undefined): [string, string][] {
  if (!training) return [];
  const out: [string, string][] = [];
  for (const [key, value] of Object.entries(training)) {
    const label = TRAINING_LABELS[key] ?? sentenceCase(key.replace(/_/g, " "));
    let text: string;
    if (key === "sg") text = value ? "skip-gram" : "CBOW";
    else if (key === "hs") text = value ? "yes" : "no";
    else if (typeof value === "number") text = Number.isInteger(value) ? formatInt(value) : String(value);
    else if (value === null || value === undefined) text = "–";
    else if (typeof value === "object") text = JSON.stringify(value);
    else text = String(value);
    out.push([label, text]);
  }
  return out;
}

const FORMAT_NAMES: Record<string, string> = {
  "gensim-word2vec": "gensim Word2Vec model",
  "gensim-fasttext": "gensim FastText model",
  "gensim-keyedvectors": "gensim KeyedVectors (vectors only)",
  "word2vec-binary": "word2vec binary vectors",
  "word2vec-text": "word2vec text vectors",
  "fasttext-vec": "fastText .vec text vectors",
  "fasttext-bin": "fastText binary model",
  "glove-text": "GloVe text vectors",
  "projector-raw-float32": "Projector embedding (raw float32)",
  "projector-tsv": "Projector embedding (TSV)",
};

/** A model format id in plain words (unknown ids are shown as they are). */
export function describeFormat(format: string | null | undefined): string {
  if (!format) return "unknown";
  return FORMAT_NAMES[format] ?? format;
}
