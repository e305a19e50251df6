/** What the parts of the Evaluate view share: the request for the chosen benchmark, polling, Cancel. */
import * as client from "../client";
import { pollUntilDone, type EvalResult } from "../evaluate";
import type { Target } from "../state";
import type { Store } from "../store";

/** How long one request lets the plugin compute before it answers 202. */
export const POLL_WAIT_SECONDS = 2;

/** The benchmark, method and restrict_vocab the state holds. */
export function evalOptions(store: Store): client.EvaluateOptions {
  const s = store.state;
  return { benchmark: s.bench, method: s.method, restrict_vocab: s.erv, wait: POLL_WAIT_SECONDS };
}

/** Evaluates `t` on the state's benchmark, asking again while the plugin answers 202. */
export async function evaluateUntilDone(store: Store, t: Target, signal: AbortSignal, onRunning?: (attempt: number, answer: EvalResult) => void): Promise<EvalResult> {
  const opts = evalOptions(store);
  let waited = false;
  const res = await pollUntilDone((sig) => client.evaluate(t, opts, sig), {
    signal,
    onRunning: (attempt, answer) => {
      waited = true;
      onRunning?.(attempt, answer);
    },
  });
  // The answer after a 202 is the evaluation this request started, which the plugin then
  // serves from its cache: it was not "computed earlier".
  return waited ? { ...res, cached: false } : res;
}

/** Asks the plugin to stop the evaluation of `t` (best effort: the answer is not needed). */
export function cancelOnServer(store: Store, t: Target): void {
  client.cancelEvaluation(t, evalOptions(store)).catch(() => undefined);
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
