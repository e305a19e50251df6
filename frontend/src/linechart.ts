/**
 * A small line chart (score over training steps) drawn with d3 scales and axes, like the 2-D
 * view. Each point is focusable and tells its step and value in a tooltip and its label.
 */
import { axisBottom, axisLeft } from "d3-axis";
import { scaleLinear } from "d3-scale";
import { select } from "d3-selection";
import { appendAxisTitles } from "./axes";
import { h } from "./dom";
import type { StepPoint } from "./evaluate";

const SVG_NS = "http://www.w3.org/2000/svg";
const MARGIN = { top: 16, right: 24, bottom: 44, left: 64 };
const HEIGHT = 300;

export interface LineChartData {
  points: StepPoint[];
  yDomain: [number, number];
  xLabel: string;
  yLabel: string;
  format: (v: number) => string; // values in tooltips
  tickFormat: (v: number) => string; // the y axis
}

export class LineChart {
  readonly el: HTMLElement;
  private readonly svgEl: SVGSVGElement;
  private readonly tooltip: HTMLElement;
  private data: LineChartData | null = null;
  private width = 600;

  constructor(label: string, testId: string) {
    this.svgEl = document.createElementNS(SVG_NS, "svg");
    this.svgEl.setAttribute("class", "w2v-line-svg");
    this.svgEl.setAttribute("role", "group");
    this.svgEl.setAttribute("aria-label", label);
    this.tooltip = h("div", { class: "w2v-tooltip", role: "status", hidden: true });
    this.el = h("div", { class: "w2v-line-chart", "data-testid": testId }, this.svgEl, this.tooltip);
    const ro = new ResizeObserver(() => {
      const w = this.el.clientWidth;
      if (w > 0 && Math.abs(w - this.width) > 2) {
        this.width = w;
        this.draw();
      }
    });
    ro.observe(this.el);
  }

  update(data: LineChartData): void {
    this.data = data;
    this.draw();
  }

  private draw(): void {
    const svg = select(this.svgEl);
    const width = Math.max(320, this.el.clientWidth || this.width);
    svg.attr("width", width).attr("height", HEIGHT).attr("viewBox", `0 0 ${width} ${HEIGHT}`);
    svg.selectAll("*").remove();
    const data = this.data;
    if (!data || data.points.length === 0) return;
    const steps = data.points.map((p) => p.step);
    let lo = Math.min(...steps);
    let hi = Math.max(...steps);
    if (lo === hi) {
      lo -= 1;
      hi += 1;
    }
    // Half a gap of room on each side so the first and last points sit clear of the axes.
    const room = (hi - lo) * 0.04;
    const x = scaleLinear().domain([lo - room, hi + room]).range([MARGIN.left, width - MARGIN.right]);
    const y = scaleLinear().domain(data.yDomain).range([HEIGHT - MARGIN.bottom, MARGIN.top]).nice();
    // Steps are integers: only integer ticks, at most one per 70 px.
    const xTicks = x.ticks(Math.max(2, Math.floor(width / 70))).filter((t) => Number.isInteger(t));
    svg
      .append("g")
      .attr("class", "w2v-axis")
      .attr("transform", `translate(0,${HEIGHT - MARGIN.bottom})`)
      .call(axisBottom(x).tickValues(xTicks).tickFormat((v) => String(v)));
    svg
      .append("g")
      .attr("class", "w2v-axis w2v-grid")
      .attr("transform", `translate(${MARGIN.left},0)`)
      .call(
        axisLeft(y)
          .ticks(6)
          .tickSize(-(width - MARGIN.left - MARGIN.right))
          .tickFormat((v) => data.tickFormat(Number(v))),
      );
    appendAxisTitles(svg, width, HEIGHT, MARGIN, data.xLabel, data.yLabel);
    const path = data.points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join("");
    svg.append("path").attr("class", "w2v-line").attr("d", path);
    const show = (ev: { clientX: number; clientY: number } | null, p: StepPoint, target: SVGCircleElement) => {
      const rect = this.svgEl.getBoundingClientRect();
      this.tooltip.textContent = `step ${p.step}: ${data.format(p.value)}`;
      this.tooltip.hidden = false;
      const px = ev ? ev.clientX - rect.left : Number(target.getAttribute("cx"));
      const py = ev ? ev.clientY - rect.top : Number(target.getAttribute("cy"));
      this.tooltip.style.left = `${Math.max(0, Math.min(px + 12, rect.width - 160))}px`;
      this.tooltip.style.top = `${py + 12}px`;
    };
    const hide = () => {
      this.tooltip.hidden = true;
    };
    svg
      .selectAll<SVGCircleElement, StepPoint>("circle.w2v-step-point")
      .data(data.points)
      .join("circle")
      .attr("class", "w2v-step-point")
      .attr("data-step", (p) => String(p.step))
      .attr("data-value", (p) => String(p.value))
      .attr("cx", (p) => x(p.step))
      .attr("cy", (p) => y(p.value))
      .attr("r", 5)
      .attr("tabindex", 0)
      .attr("role", "img")
      .attr("aria-label", (p) => `step ${p.step}: ${data.format(p.value)}`)
      .on("mouseenter", function (ev: MouseEvent, p: StepPoint) {
        show(ev, p, this);
      })
      .on("mousemove", function (ev: MouseEvent, p: StepPoint) {
        show(ev, p, this);
      })
      .on("focus", function (_ev: FocusEvent, p: StepPoint) {
        show(null, p, this);
      })
      .on("mouseleave", hide)
      .on("blur", hide);
  }
}
