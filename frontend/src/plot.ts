/**
 * 2-D scatter plot of word vectors (PCA computed by the plugin), drawn with d3:
 * linear scales + axes, pan/zoom with d3-zoom (labels stay readable while zooming),
 * hover tooltip with the similarity to the query, optional arrows for analogy offsets.
 */
import { axisBottom, axisLeft } from "d3-axis";
import { scaleLinear } from "d3-scale";
import { select, type Selection } from "d3-selection";
import { zoom, zoomIdentity, type D3ZoomEvent, type ZoomBehavior, type ZoomTransform } from "d3-zoom";
import { appendAxisTitles } from "./axes";
import { h } from "./dom";
import { formatSim } from "./format";

export type PointRole = "query" | "neighbor" | "positive" | "negative" | "result";

export interface PlotPoint {
  word: string;
  x: number;
  y: number;
  role: PointRole;
  similarity: number | null;
}

export interface PlotArrow {
  from: string;
  to: string;
  kind: "offset" | "result";
}

export interface PlotData {
  points: PlotPoint[];
  arrows: PlotArrow[];
  xLabel: string;
  yLabel: string;
  similarityTo: string; // what "similarity" in the tooltip refers to
  /** The tooltip's name for a point's score: "similarity" (cosine) unless given, e.g. "3CosMul score". */
  scoreName?: string;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const MARGIN = { top: 16, right: 24, bottom: 40, left: 52 };
const HEIGHT = 460;
const MAX_LABELS = 40;

export class ScatterPlot {
  readonly el: HTMLElement;
  private readonly svgEl: SVGSVGElement;
  private readonly tooltip: HTMLElement;
  private readonly message: HTMLElement;
  /** Says how many words have no label (crowded or past MAX_LABELS) and how to read them. */
  private readonly hiddenNote: HTMLElement;
  private data: PlotData | null = null;
  private transform: ZoomTransform = zoomIdentity;
  private zoomBehavior: ZoomBehavior<SVGSVGElement, unknown>;
  private width = 600;
  private readonly onPick: (word: string) => void;

  constructor(onPick: (word: string) => void) {
    this.onPick = onPick;
    this.svgEl = document.createElementNS(SVG_NS, "svg");
    this.svgEl.setAttribute("class", "w2v-plot-svg");
    this.svgEl.setAttribute("role", "img");
    this.svgEl.setAttribute("aria-label", "2-D projection of the words");
    this.tooltip = h("div", { class: "w2v-tooltip", role: "status", hidden: true });
    this.message = h("div", { class: "w2v-plot-message" }, "Run a query to see its neighbourhood in 2-D.");
    this.hiddenNote = h("p", { class: "w2v-hint w2v-plot-note", "data-testid": "plot-hidden-labels", hidden: true });
    const zoomIn = h("button", { class: "w2v-btn w2v-btn-small", type: "button", title: "Zoom in", "aria-label": "Zoom in", onclick: () => this.zoomBy(1.5) }, "+");
    const zoomOut = h("button", { class: "w2v-btn w2v-btn-small", type: "button", title: "Zoom out", "aria-label": "Zoom out", onclick: () => this.zoomBy(1 / 1.5) }, "−");
    const reset = h("button", { class: "w2v-btn w2v-btn-small", type: "button", onclick: () => this.resetZoom() }, "Reset view");
    this.el = h(
      "div",
      { class: "w2v-plot", "data-testid": "plot" },
      h("div", { class: "w2v-plot-tools" }, h("span", { class: "w2v-hint" }, "Scroll or use +/− to zoom, drag to pan, click a word to query it."), zoomIn, zoomOut, reset),
      h("div", { class: "w2v-plot-area" }, this.svgEl, this.tooltip, this.message),
      this.hiddenNote,
    );
    this.zoomBehavior = zoom<SVGSVGElement, unknown>()
      .scaleExtent([0.5, 40])
      .on("zoom", (ev: D3ZoomEvent<SVGSVGElement, unknown>) => {
        this.transform = ev.transform;
        this.draw();
      });
    select(this.svgEl).call(this.zoomBehavior);
    const ro = new ResizeObserver(() => {
      const w = this.svgEl.parentElement?.clientWidth ?? 0;
      if (w > 0 && Math.abs(w - this.width) > 2) {
        this.width = w;
        this.draw();
      }
    });
    ro.observe(this.el);
  }

  clear(message: string): void {
    this.data = null;
    this.message.textContent = message;
    this.message.hidden = false;
    select(this.svgEl).selectAll("*").remove();
    this.tooltip.hidden = true;
    this.hiddenNote.hidden = true;
  }

  setLoading(): void {
    this.message.textContent = "Projecting…";
    this.message.hidden = false;
  }

  update(data: PlotData): void {
    this.data = data;
    this.message.hidden = true;
    this.transform = zoomIdentity;
    select(this.svgEl).call(this.zoomBehavior.transform, zoomIdentity);
    this.draw();
  }

  private zoomBy(k: number): void {
    select(this.svgEl).call(this.zoomBehavior.scaleBy, k);
  }

  private resetZoom(): void {
    select(this.svgEl).call(this.zoomBehavior.transform, zoomIdentity);
  }

  private draw(): void {
    const svg = select(this.svgEl);
    const width = Math.max(320, this.svgEl.parentElement?.clientWidth || this.width);
    this.width = width;
    svg.attr("width", width).attr("height", HEIGHT).attr("viewBox", `0 0 ${width} ${HEIGHT}`);
    svg.selectAll("*").remove();
    this.hiddenNote.hidden = true;
    const data = this.data;
    if (!data || data.points.length === 0) return;

    const xs = data.points.map((p) => p.x);
    const ys = data.points.map((p) => p.y);
    const pad = (lo: number, hi: number): [number, number] => {
      const span = hi - lo || 1;
      return [lo - span * 0.08, hi + span * 0.1];
    };
    const x0 = scaleLinear().domain(pad(Math.min(...xs), Math.max(...xs))).range([MARGIN.left, width - MARGIN.right]);
    const y0 = scaleLinear().domain(pad(Math.min(...ys), Math.max(...ys))).range([HEIGHT - MARGIN.bottom, MARGIN.top]);
    const x = this.transform.rescaleX(x0);
    const y = this.transform.rescaleY(y0);

    const defs = svg.append("defs");
    for (const [id, color] of [["w2v-arrow-offset", "var(--w2v-grey)"], ["w2v-arrow-result", "var(--w2v-orange)"]] as const) {
      defs
        .append("marker")
        .attr("id", id)
        .attr("viewBox", "0 0 10 10")
        .attr("refX", 9)
        .attr("refY", 5)
        .attr("markerWidth", 7)
        .attr("markerHeight", 7)
        .attr("orient", "auto-start-reverse")
        .append("path")
        .attr("d", "M 0 0 L 10 5 L 0 10 z")
        .style("fill", color);
    }
    defs
      .append("clipPath")
      .attr("id", "w2v-clip")
      .append("rect")
      .attr("x", MARGIN.left)
      .attr("y", MARGIN.top)
      .attr("width", width - MARGIN.left - MARGIN.right)
      .attr("height", HEIGHT - MARGIN.top - MARGIN.bottom);

    svg
      .append("g")
      .attr("class", "w2v-axis")
      .attr("transform", `translate(0,${HEIGHT - MARGIN.bottom})`)
      .call(axisBottom(x).ticks(Math.max(2, Math.floor(width / 90))));
    svg.append("g").attr("class", "w2v-axis").attr("transform", `translate(${MARGIN.left},0)`).call(axisLeft(y).ticks(6));
    appendAxisTitles(svg, width, HEIGHT, MARGIN, data.xLabel, data.yLabel);

    const plot = svg.append("g").attr("clip-path", "url(#w2v-clip)");
    const byWord = new Map(data.points.map((p) => [p.word, p]));
    const segments: [number, number, number, number][] = [];
    for (const arrow of data.arrows) {
      const a = byWord.get(arrow.from);
      const b = byWord.get(arrow.to);
      if (!a || !b) continue;
      const [ax, ay, bx, by] = shorten(x(a.x), y(a.y), x(b.x), y(b.y), 6);
      segments.push([ax, ay, bx, by]);
      plot
        .append("line")
        .attr("class", `w2v-arrow w2v-arrow-${arrow.kind}`)
        .attr("x1", ax)
        .attr("y1", ay)
        .attr("x2", bx)
        .attr("y2", by)
        .attr("marker-end", `url(#w2v-arrow-${arrow.kind})`);
    }

    // Draw neighbours first so the query/analogy terms sit on top.
    const order: Record<PointRole, number> = { neighbor: 0, negative: 1, positive: 2, result: 3, query: 4 };
    const points = [...data.points].sort((p, q) => order[p.role] - order[q.role]);
    const groups: Selection<SVGGElement, PlotPoint, SVGGElement, unknown> = plot
      .selectAll<SVGGElement, PlotPoint>("g.w2v-point")
      .data(points)
      .join("g")
      .attr("class", (p) => `w2v-point w2v-role-${p.role}`)
      .attr("data-word", (p) => p.word)
      .attr("transform", (p) => `translate(${x(p.x)},${y(p.y)})`);
    groups.append("circle").attr("r", (p) => (p.role === "neighbor" ? 4 : 6));
    const labels = groups
      .append("text")
      .attr("x", 8)
      .attr("y", 4)
      .text((p) => p.word); // d3's .text() sets textContent: words are never parsed as HTML
    const hidden = this.placeLabels(labels, x, y, width, segments);
    if (hidden > 0) {
      this.hiddenNote.textContent = `${hidden} of ${points.length} words are not labelled, to keep the labels apart: hover a dot to read its word, or zoom in.`;
      this.hiddenNote.hidden = false;
    }
    groups
      .on("mouseenter", (ev: MouseEvent, p: PlotPoint) => {
        select(ev.currentTarget as SVGGElement).raise(); // its label above the other dots
        this.showTooltip(ev, p);
      })
      .on("mousemove", (ev: MouseEvent, p: PlotPoint) => this.showTooltip(ev, p))
      .on("mouseleave", () => {
        this.tooltip.hidden = true;
      })
      .on("click", (_ev: MouseEvent, p: PlotPoint) => this.onPick(p.word));
  }

  /**
   * Greedy label placement: the query and analogy words first, then neighbours by similarity;
   * each label takes the first of right/left/above/below that overlaps no placed label and
   * stays inside the plot. Returns how many labels were hidden.
   */
  private placeLabels(
    labels: Selection<SVGTextElement, PlotPoint, SVGGElement, unknown>,
    x: (v: number) => number,
    y: (v: number) => number,
    width: number,
    segments: [number, number, number, number][] = [],
  ): number {
    type Box = { x0: number; y0: number; x1: number; y1: number };
    const placed: Box[] = [];
    // Arrows are obstacles: small boxes every few pixels along each one.
    for (const [x1, y1, x2, y2] of segments) {
      const n = Math.max(1, Math.ceil(Math.hypot(x2 - x1, y2 - y1) / 6));
      for (let i = 0; i <= n; i++) {
        const cx = x1 + ((x2 - x1) * i) / n;
        const cy = y1 + ((y2 - y1) * i) / n;
        placed.push({ x0: cx - 2, y0: cy - 2, x1: cx + 2, y1: cy + 2 });
      }
    }
    const overlaps = (b: Box) => placed.some((o) => b.x0 < o.x1 && b.x1 > o.x0 && b.y0 < o.y1 && b.y1 > o.y0);
    const inside = (b: Box) => b.x0 >= MARGIN.left && b.x1 <= width - MARGIN.right && b.y0 >= MARGIN.top && b.y1 <= HEIGHT - MARGIN.bottom;
    const items: { el: SVGTextElement; p: PlotPoint; w: number; h: number }[] = [];
    labels.each(function (p) {
      let w = p.word.length * 7;
      let h = 14;
      try {
        const bb = this.getBBox();
        if (bb.width > 0) {
          w = bb.width;
          h = bb.height;
        }
      } catch {
        /* not rendered yet: estimate */
      }
      items.push({ el: this, p, w, h });
    });
    // Dots are obstacles too, so a label never hides under another word's dot.
    for (const it of items) {
      const px = x(it.p.x);
      const py = y(it.p.y);
      placed.push({ x0: px - 5, y0: py - 5, x1: px + 5, y1: py + 5 });
    }
    const rank: Record<PointRole, number> = { query: 0, result: 1, positive: 2, negative: 3, neighbor: 4 };
    items.sort((a, b) => rank[a.p.role] - rank[b.p.role] || (b.p.similarity ?? 0) - (a.p.similarity ?? 0));
    let hidden = 0;
    items.forEach((it, i) => {
      // Past MAX_LABELS, neighbours show their word on hover only, to keep the picture legible.
      if (i >= MAX_LABELS && it.p.role === "neighbor") {
        it.el.setAttribute("visibility", "hidden");
        it.el.parentElement?.classList.add("w2v-label-on-hover");
        hidden += 1;
        return;
      }
      const px = x(it.p.x);
      const py = y(it.p.y);
      const candidates: { dx: number; dy: number; anchor: string; box: Box }[] = [
        { dx: 8, dy: 4, anchor: "start", box: { x0: px + 8, y0: py - it.h / 2, x1: px + 8 + it.w, y1: py + it.h / 2 } },
        { dx: -8, dy: 4, anchor: "end", box: { x0: px - 8 - it.w, y0: py - it.h / 2, x1: px - 8, y1: py + it.h / 2 } },
        { dx: 0, dy: -8, anchor: "middle", box: { x0: px - it.w / 2, y0: py - 8 - it.h, x1: px + it.w / 2, y1: py - 8 } },
        { dx: 0, dy: 8 + it.h * 0.8, anchor: "middle", box: { x0: px - it.w / 2, y0: py + 8, x1: px + it.w / 2, y1: py + 8 + it.h } },
      ];
      const free = candidates.find((c) => inside(c.box) && !overlaps(c.box));
      if (!free && it.p.role === "neighbor") {
        // No room: the word shows on hover (and zooming in makes room).
        it.el.setAttribute("visibility", "hidden");
        it.el.parentElement?.classList.add("w2v-label-on-hover");
        hidden += 1;
        return;
      }
      const choice = free ?? candidates.find((c) => inside(c.box)) ?? candidates[0];
      it.el.setAttribute("x", String(choice.dx));
      it.el.setAttribute("y", String(choice.dy));
      it.el.setAttribute("text-anchor", choice.anchor);
      placed.push(choice.box);
    });
    return hidden;
  }

  /** Emphasises one word's point (e.g. while its table row is hovered); null clears. */
  highlight(word: string | null): void {
    select(this.svgEl)
      .selectAll<SVGGElement, PlotPoint>("g.w2v-point")
      .classed("w2v-highlight", (p) => word !== null && p.word === word)
      .filter((p) => word !== null && p.word === word)
      .raise();
  }

  private showTooltip(ev: MouseEvent, p: PlotPoint): void {
    const data = this.data;
    if (!data) return;
    const rect = this.svgEl.getBoundingClientRect();
    this.tooltip.replaceChildren();
    const word = document.createElement("strong");
    word.textContent = p.word;
    const sim = document.createElement("div");
    sim.textContent =
      p.similarity === null ? roleText(p.role) : `${data.scoreName ?? "similarity"} to ${data.similarityTo}: ${formatSim(p.similarity)}`;
    this.tooltip.append(word, sim);
    this.tooltip.hidden = false;
    const left = Math.min(ev.clientX - rect.left + 12, rect.width - 200);
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${ev.clientY - rect.top + 12}px`;
  }
}

function roleText(role: PointRole): string {
  switch (role) {
    case "query":
      return "query word";
    case "positive":
      return "added (+)";
    case "negative":
      return "subtracted (−)";
    default:
      return "";
  }
}

/** Shortens a segment by `d` pixels at both ends so arrowheads do not cover the dots. */
function shorten(x1: number, y1: number, x2: number, y2: number, d: number): [number, number, number, number] {
  const len = Math.hypot(x2 - x1, y2 - y1);
  if (len < 2 * d + 1) return [x1, y1, x2, y2];
  const ux = (x2 - x1) / len;
  const uy = (y2 - y1) / len;
  return [x1 + ux * d, y1 + uy * d, x2 - ux * d, y2 - uy * d];
}
