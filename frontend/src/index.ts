/**
 * Entry point of the Word2Vec tab. TensorBoard loads this ES module inside its plugin
 * iframe (/data/plugin_entry.html?name=word2vec) and calls `render()`.
 */
import css from "./style.css";
import { App } from "./app";

export async function render(): Promise<void> {
  const style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);
  document.documentElement.lang = document.documentElement.lang || "en";
  if (!document.title) document.title = "Word2Vec";
  const root = document.createElement("div");
  root.id = "w2v-root";
  document.body.appendChild(root);
  followDarkMode();
  const app = new App(root);
  await app.start();
}

/** Mirrors TensorBoard's dark mode (its page's `body.dark-mode`) onto this iframe. */
function followDarkMode(): void {
  const apply = (dark: boolean) => document.documentElement.classList.toggle("w2v-dark", dark);
  try {
    const top = window.top;
    if (top && top !== window) {
      const body = top.document.body; // throws when not same-origin
      apply(body.classList.contains("dark-mode"));
      new MutationObserver(() => apply(body.classList.contains("dark-mode"))).observe(body, {
        attributes: true,
        attributeFilter: ["class"],
      });
      return;
    }
  } catch {
    /* not reachable: follow the system setting below */
  }
  const query = window.matchMedia?.("(prefers-color-scheme: dark)");
  if (query) {
    apply(query.matches);
    query.addEventListener?.("change", (e) => apply(e.matches));
  }
}
