/** How an evaluation result is shown: overall figures, per-section bars, wrong answers, correlations. */
import { h } from "../dom";
import { coverageOf, coverageText, formatAccuracy, formatCoverage, type AnalogyResult, type PairsResult, type SectionResult } from "../evaluate";
import { formatInt, formatSim } from "../format";

function stat(label: string, value: string, testId: string, sub?: string): HTMLElement {
  return h("div", { class: "w2v-stat" }, h("div", { class: "w2v-stat-label" }, label), h("div", { class: "w2v-stat-value", "data-testid": testId }, value), sub ? h("div", { class: "w2v-stat-sub w2v-small" }, sub) : null);
}

function tallyText(t: { correct: number; total: number } | undefined): string {
  return t ? `${formatInt(t.correct)} of ${formatInt(t.total)} answered` : "";
}

/** An analogy benchmark's result; `method` is how the tab names its method. */
export function analogyView(r: AnalogyResult, method: string): HTMLElement {
  const sections = r.sections ?? [];
  const split = new Set(sections.map((s) => s.category)).size > 1;
  return h(
    "div",
    { class: "w2v-eval-result", "data-testid": "eval-analogies" },
    h(
      "p",
      { class: "w2v-summary" },
      h("strong", null, r.benchmark ?? ""),
      ` on ${r.run === "." ? "(root)" : r.run} / ${r.model}${r.step === null ? "" : ` @ ${r.step}`}, ${method}, restrict_vocab ${formatInt(r.restrict_vocab)}${r.cached ? " (computed earlier; TensorBoard kept the result)" : ""}`,
    ),
    h(
      "div",
      { class: "w2v-stats" },
      stat("Overall accuracy", formatAccuracy(r.total?.accuracy), "eval-accuracy", tallyText(r.total)),
      stat("Coverage", formatCoverage(coverageOf(r)), "eval-coverage", coverageText(r)),
      // The split only means something when the file has both kinds of section (Google's has).
      split ? stat("Semantic", formatAccuracy(r.semantic?.accuracy), "eval-semantic", tallyText(r.semantic)) : null,
      split ? stat("Syntactic", formatAccuracy(r.syntactic?.accuracy), "eval-syntactic", tallyText(r.syntactic)) : null,
      stat("Skipped (out of vocabulary)", `${formatInt(r.oov)} of ${formatInt(r.questions)}`, "eval-oov", r.oov_ratio === null ? "" : `${r.oov_ratio.toFixed(1)}% of the questions`),
    ),
    sections.length
      ? h(
          "table",
          { class: "w2v-table w2v-sections", "data-testid": "eval-sections" },
          h("caption", null, "Accuracy by section (questions with an unknown word are skipped)"),
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              h("th", { scope: "col" }, "Section"),
              h("th", { scope: "col" }, "Type"),
              h("th", { scope: "col" }, "Accuracy"),
              h("th", { scope: "col", class: "w2v-num", title: "Questions of the section answered (the others have an unknown word)" }, "Coverage"),
              h("th", { scope: "col", class: "w2v-num" }, "Correct"),
              h("th", { scope: "col", class: "w2v-num" }, "Incorrect"),
              h("th", { scope: "col", class: "w2v-num", title: "Questions with a word the model does not know (or beyond restrict_vocab)" }, "Skipped"),
            ),
          ),
          h(
            "tbody",
            null,
            sections.map((s) => {
              const pct = s.accuracy === null ? 0 : Math.max(0, Math.min(100, s.accuracy * 100));
              const mistakes = (s.mistakes ?? []).map((m) => `${m.question.join(" ")} → ${m.predicted ?? "nothing"}`);
              const skipped = s.questions === undefined ? "" : `; ${formatInt(s.oov ?? 0)} of ${formatInt(s.questions)} questions skipped (unknown words)`;
              const tip = `${s.section}: ${formatInt(s.correct)} correct, ${formatInt(s.incorrect)} incorrect of ${formatInt(s.total)} answered${skipped}${mistakes.length ? `\nFirst mistakes:\n${mistakes.join("\n")}` : ""}`;
              return h(
                "tr",
                { "data-section": s.section, title: tip },
                h("th", { scope: "row", class: "w2v-section-name" }, s.section),
                h("td", { class: `w2v-cat w2v-cat-${s.category}` }, s.category),
                h(
                  "td",
                  { class: "w2v-sim-cell" },
                  h(
                    "div",
                    { class: "w2v-sim-wrap" },
                    h("div", { class: "w2v-bar", role: "img", "aria-label": `${formatAccuracy(s.accuracy)} correct` }, h("div", { class: `w2v-bar-fill w2v-bar-${s.category}`, style: `width:${pct.toFixed(1)}%` })),
                    h("span", { class: "w2v-num w2v-acc" }, s.total ? formatAccuracy(s.accuracy) : "none answered"),
                  ),
                ),
                h("td", { class: "w2v-num w2v-coverage" }, s.questions ? formatCoverage(s.total / s.questions) : "–"),
                h("td", { class: "w2v-num" }, formatInt(s.correct)),
                h("td", { class: "w2v-num" }, formatInt(s.incorrect)),
                h("td", { class: "w2v-num w2v-skipped" }, s.oov === undefined ? "–" : formatInt(s.oov)),
              );
            }),
          ),
        )
      : null,
    mistakesList(sections),
  );
}

/** The first wrong answers of each section (the plugin keeps a few), as text. */
function mistakesList(sections: SectionResult[]): HTMLElement | null {
  const withMistakes = sections.filter((s) => (s.mistakes ?? []).length > 0);
  if (withMistakes.length === 0) return null;
  return h(
    "details",
    { class: "w2v-training w2v-mistakes", "data-testid": "eval-mistakes" },
    h("summary", null, "Examples of wrong answers"),
    h(
      "dl",
      null,
      withMistakes.map((s) => [
        h("dt", null, s.section),
        (s.mistakes ?? []).map((m) =>
          h("dd", null, h("span", { class: "w2v-muted" }, `${m.question[0]} : ${m.question[1]} :: ${m.question[2]} : `), h("strong", null, m.question[3]), h("span", { class: "w2v-muted" }, " — answered "), m.predicted ?? "nothing"),
        ),
      ]),
    ),
  );
}

export function pairsView(r: PairsResult): HTMLElement {
  const p = (x: number | null | undefined) => (x === null || x === undefined ? "" : `p = ${x < 0.001 ? x.toExponential(1) : x.toFixed(3)}`);
  return h(
    "div",
    { class: "w2v-eval-result", "data-testid": "eval-pairs" },
    h(
      "p",
      { class: "w2v-summary" },
      h("strong", null, r.benchmark ?? ""),
      ` on ${r.run === "." ? "(root)" : r.run} / ${r.model}${r.step === null ? "" : ` @ ${r.step}`}, restrict_vocab ${formatInt(r.restrict_vocab)}`,
    ),
    h(
      "div",
      { class: "w2v-stats" },
      stat("Spearman ρ", formatSim(r.spearman?.rho), "eval-spearman", p(r.spearman?.pvalue)),
      stat("Coverage", formatCoverage(coverageOf(r)), "eval-coverage", coverageText(r)),
      stat("Pearson r", formatSim(r.pearson?.r), "eval-pearson", p(r.pearson?.pvalue)),
      stat("Out of vocabulary", r.oov_ratio === null ? "–" : `${r.oov_ratio.toFixed(1)}%`, "eval-oov", `${formatInt(r.oov)} of ${formatInt(r.pairs)} pairs skipped; ${formatInt(r.used)} used`),
    ),
    r.spearman?.rho === null ? h("p", { class: "w2v-muted" }, "Fewer than two pairs are in the vocabulary: no correlation.") : null,
  );
}
