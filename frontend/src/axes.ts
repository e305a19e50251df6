/** Axis titles shared by the tab's charts (the 2-D view and the score-over-steps chart). */

import type { Selection } from "d3-selection";

export interface Margin {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

/** `xLabel` centred under the plot area, `yLabel` rotated along its left edge. */
export function appendAxisTitles(
  svg: Selection<SVGSVGElement, unknown, null, undefined>,
  width: number,
  height: number,
  margin: Margin,
  xLabel: string,
  yLabel: string,
): void {
  svg
    .append("text")
    .attr("class", "w2v-axis-label")
    .attr("x", (margin.left + width - margin.right) / 2)
    .attr("y", height - 6)
    .attr("text-anchor", "middle")
    .text(xLabel);
  svg
    .append("text")
    .attr("class", "w2v-axis-label")
    .attr("transform", `translate(14,${(margin.top + height - margin.bottom) / 2}) rotate(-90)`)
    .attr("text-anchor", "middle")
    .text(yLabel);
}
