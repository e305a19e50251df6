/**
 * The views of the tab, in tab order. To add one: write a module under `views/` exporting a
 * `ViewFactory` (see `view.ts` and e.g. `similarity.ts`), add its mode to `MODES` in
 * `../state.ts`, and list it here.
 */
import { analogyView } from "./analogy";
import { biasView } from "./bias";
import { compareView } from "./compare";
import { axesView } from "./axes";
import { driftView } from "./drift";
import { evaluateView } from "./evaluate";
import { modelsView } from "./models";
import { neighborsView } from "./neighbors";
import { oddView } from "./odd";
import { similarityView } from "./similarity";
import type { ViewFactory } from "./view";

export const VIEWS: ViewFactory[] = [
  neighborsView,
  analogyView,
  similarityView,
  oddView,
  compareView,
  modelsView,
  evaluateView,
  driftView,
  axesView,
  biasView,
];
