/** The 2-D view card: a PCA of some words from the plugin's `/project`, drawn by `ScatterPlot`. */
import { isAbort } from "./api";
import * as client from "./client";
import { h } from "./dom";
import { formatPercent } from "./format";
import { ScatterPlot, type PlotArrow, type PlotPoint, type PointRole } from "./plot";
import type { Target } from "./state";
import { Slot } from "./slot";

const TITLE = "2-D view (PCA)";

export interface Projection {
  words: string[];
  role: (w: string) => PointRole;
  similarity: (w: string) => number | null;
  arrows: PlotArrow[];
  /** What the similarity in a point's tooltip is to, e.g. `“king”`. */
  similarityTo: string;
  /** What a point's score is, when not a cosine similarity (the tooltip says it). */
  scoreName?: string;
  title: string;
}

export class PlotPanel {
  readonly el = h("section", { class: "w2v-card w2v-plot-card", "aria-label": "2-D view" });
  readonly plot: ScatterPlot;
  private readonly title = h("h2", { class: "w2v-card-title", "data-testid": "plot-title" }, TITLE);
  private readonly slot = new Slot();

  constructor(onPick: (word: string) => void) {
    this.plot = new ScatterPlot(onPick);
    this.el.append(this.title, this.plot.el);
  }

  /** Nothing drawn: `message` in place of the picture, and the plain title (no query's name). */
  clear(message: string): void {
    this.slot.cancel();
    this.title.textContent = TITLE;
    this.plot.clear(message);
  }

  /** Projects the words of `p` (each once) with the model `t` and draws them. */
  async project(t: Target, p: Projection): Promise<void> {
    const unique = [...new Set(p.words)];
    this.title.textContent = `${p.title} — ${TITLE}`;
    if (unique.length < 2) {
      this.plot.clear("Need at least two words to draw.");
      return;
    }
    const signal = this.slot.next();
    this.plot.setLoading();
    try {
      const res = await client.project(t, unique, signal);
      if (signal.aborted) return;
      const ev = res.explained_variance ?? [];
      const points: PlotPoint[] = (res.points ?? []).map((q) => ({ word: q.word, x: q.x, y: q.y, role: p.role(q.word), similarity: p.similarity(q.word) }));
      this.plot.update({
        points,
        arrows: p.arrows,
        xLabel: `PC1${ev.length > 0 ? ` (${formatPercent(ev[0])} of variance)` : ""}`,
        yLabel: `PC2${ev.length > 1 ? ` (${formatPercent(ev[1])})` : ""}`,
        similarityTo: p.similarityTo,
        scoreName: p.scoreName,
      });
    } catch (e) {
      if (isAbort(e)) return;
      this.plot.clear(`The 2-D view is not available: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
