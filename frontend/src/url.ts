/**
 * The state in the URL: the iframe's own hash, and TensorBoard's (`#word2vec&w2v=<encoded>`)
 * while our tab is the one shown and the page is reachable (same origin).
 */
import { decodeState, defaultState, parentHashWithState, stateFromParentHash, type Rules, type State } from "./state";

export const PLUGIN_NAME = "word2vec";

/** The state the URL holds (TensorBoard's hash first, then the iframe's own), checked against `rules`. */
export function readInitialState(rules: Rules): State {
  let fromParent: string | null = null;
  try {
    const top = window.top;
    if (top && top !== window) fromParent = stateFromParentHash(top.location.hash);
  } catch {
    fromParent = null;
  }
  const own = window.location.hash.replace(/^#/, "");
  const text = fromParent ?? own;
  return text ? decodeState(text, rules) : defaultState(rules);
}

/** Writes the encoded state into the iframe's hash and, while our tab is shown, TensorBoard's. */
export function writeUrl(encoded: string): void {
  try {
    const url = `${window.location.pathname}${window.location.search}#${encoded}`;
    window.history.replaceState(window.history.state, "", url);
  } catch {
    /* sandboxed: ignore */
  }
  try {
    const top = window.top;
    if (top && top !== window) {
      const hash = top.location.hash; // throws when not same-origin
      const tab = hash.replace(/^#/, "").split("&")[0];
      // Only while our tab is the one shown: never write into another tab's URL.
      if (tab !== "" && tab !== PLUGIN_NAME) return;
      const next = parentHashWithState(hash, encoded, PLUGIN_NAME);
      if (next !== hash) {
        top.history.replaceState(top.history.state, "", `${top.location.pathname}${top.location.search}${next}`);
      }
    }
  } catch {
    /* the TensorBoard page is not reachable: the iframe URL still holds the state */
  }
}

/**
 * TensorBoard keeps this iframe alive while other tabs are shown and rewrites its own hash
 * (`#projector`, then `#word2vec` again). When our tab comes back, put our state back into
 * the URL (`current()` is the encoded state); when someone navigates the page to a different
 * state of ours, reopen with it.
 */
export function watchParentHash(current: () => string): void {
  let top: Window | null = null;
  try {
    top = window.top && window.top !== window ? window.top : null;
    void top?.location.hash; // throws when not same-origin
  } catch {
    top = null;
  }
  if (!top) return;
  const parent = top;
  parent.addEventListener("hashchange", () => {
    let hash: string;
    try {
      hash = parent.location.hash;
    } catch {
      return;
    }
    if (hash.replace(/^#/, "").split("&")[0] !== PLUGIN_NAME) return;
    const theirs = stateFromParentHash(hash);
    if (theirs === null) {
      // TensorBoard may rewrite its URL again right after switching tabs: say it twice more.
      writeUrl(current());
      setTimeout(() => writeUrl(current()), 250);
      setTimeout(() => writeUrl(current()), 1000);
    } else if (theirs !== current()) {
      window.history.replaceState(null, "", `${window.location.pathname}${window.location.search}#${theirs}`);
      window.location.reload();
    }
  });
}
