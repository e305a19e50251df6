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
  const app = new App(root);
  await app.start();
}
