/** "Open in the Projector": writes the query word and its neighbours as a run of the logdir. */
import { ApiError, isAbort, routeUrl, safeServerUrl } from "../api";
import * as client from "../client";
import { h, setChildren } from "../dom";
import { formatInt } from "../format";
import { EXPORT_N } from "../state";
import { button, errorBox, loadingBox, numberField } from "../widgets";
import { Slot } from "../slot";
import type { ViewContext } from "./view";

/** The export section of the Neighbours view; `word()` is the query word to send. */
export function projectorExport(ctx: ViewContext, word: () => string): { el: HTMLElement; clear(): void } {
  const { store } = ctx;
  const out = h("div", { class: "w2v-export-out", "aria-live": "polite", "data-testid": "export-results" });
  const slot = new Slot();
  const max = store.info.limits.export_n;
  const nField = numberField(`Neighbours to send (≤ ${formatInt(max)})`, store.state.n, {
    min: 1,
    max,
    width: "96px",
    onChange: (v) => store.setState({ n: v ?? EXPORT_N }),
    onEnter: () => void send(),
    testId: "export-n",
  });

  async function send(): Promise<void> {
    const t = store.target();
    const w = word();
    if (!t) return;
    if (!w) {
      setChildren(out, h("p", { class: "w2v-muted" }, "Choose a query word first."));
      return;
    }
    const signal = slot.next();
    const n = store.state.n;
    setChildren(out, loadingBox(`Writing “${w}” and ${formatInt(n)} neighbours for the Projector…`));
    try {
      const res = await client.exportProjector(t, w, n, signal);
      if (signal.aborted) return;
      const projectorHref = new URL(`../../../#projector`, routeUrl("./")).toString();
      setChildren(
        out,
        h(
          "div",
          { class: "w2v-ok", role: "status", "data-testid": "export-ok" },
          res.points ? `Saved ${formatInt(res.points)} words as embedding ` : "Saved as embedding ",
          h("code", null, res.tensor_name),
          res.run ? [" in run ", h("code", null, res.run)] : null,
          ". ",
          h("a", { href: projectorHref, target: "_top", class: "w2v-link" }, "Open the Projector tab"),
          " (reload it if the embedding is not listed yet).",
        ),
      );
    } catch (e) {
      if (isAbort(e)) return;
      if (e instanceof ApiError && e.status === 409) {
        setChildren(out, tsvDownloads(e));
        return;
      }
      setChildren(out, errorBox(e, (w) => ctx.queryWord(w)));
    }
  }

  const el = h(
    "div",
    { class: "w2v-export" },
    h("h3", { class: "w2v-subtitle" }, "Open in the Projector"),
    h("p", { class: "w2v-muted w2v-small" }, "Sends the query word and its nearest neighbours to TensorBoard’s Projector tab as a separate embedding (t-SNE, UMAP, 3-D)."),
    h("div", { class: "w2v-form" }, nField.el, h("div", { class: "w2v-field w2v-field-end" }, button("Send to Projector", () => void send(), { testId: "export-button" }))),
    out,
  );
  return { el, clear: () => setChildren(out) };
}

/** A 409 (the logdir cannot be written): links to the two TSV files for the Projector's Load button. */
function tsvDownloads(e: ApiError): HTMLElement {
  const tsv = (e.body?.["tsv"] ?? {}) as Record<string, unknown>;
  const tensor = safeServerUrl(tsv["tensor"]);
  const metadata = safeServerUrl(tsv["metadata"]);
  return h(
    "div",
    { class: "w2v-warn", role: "status", "data-testid": "export-tsv" },
    h("div", null, e.message),
    h("div", null, "Download both files, then in the Projector tab click “Load” and choose them:"),
    h(
      "div",
      { class: "w2v-downloads" },
      tensor ? h("a", { href: tensor, download: "tensor.tsv", class: "w2v-btn", "data-testid": "download-tensor" }, "Download vectors (tensor.tsv)") : null,
      metadata ? h("a", { href: metadata, download: "metadata.tsv", class: "w2v-btn", "data-testid": "download-metadata" }, "Download words (metadata.tsv)") : null,
    ),
  );
}
