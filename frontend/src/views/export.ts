/**
 * "Open in the Projector": writes the query word and its neighbours as a run of the logdir,
 * says which run to pick in the Projector (it opens on the first run of its list and reads no
 * run from its URL), and lists the exports so they can be removed.
 */
import { ApiError, isAbort, routeUrl, safeServerUrl, type ExportResponse } from "../api";
import * as client from "../client";
import { h, setChildren } from "../dom";
import { formatInt } from "../format";
import { targetLabel } from "../store";
import { button, errorBox, loadingBox, numberField } from "../widgets";
import { Slot } from "../slot";
import type { ViewContext } from "./view";

/** The export section of the Neighbours view; `word()` is the query word to send. */
export function projectorExport(ctx: ViewContext, word: () => string): { el: HTMLElement; clear(): void; refresh(): void } {
  const { store } = ctx;
  const out = h("div", { class: "w2v-export-out", "aria-live": "polite", "data-testid": "export-results" });
  const listEl = h("div", { class: "w2v-export-list", "data-testid": "exports" });
  const slot = new Slot();
  const max = store.info.limits.export_n;
  const listSlot = new Slot();
  const nField = numberField(`Neighbours to send (≤ ${formatInt(max)})`, store.state.n, {
    min: 1,
    max,
    width: "96px",
    onChange: (v) => store.setState({ n: v ?? store.info.defaults.export_n }),
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
      setChildren(out, sent(res));
      void refresh();
    } catch (e) {
      if (isAbort(e)) return;
      if (e instanceof ApiError && e.status === 409) {
        setChildren(out, tsvDownloads(e));
        return;
      }
      setChildren(out, errorBox(e, (w) => ctx.queryWord(w)));
    }
  }

  async function refresh(): Promise<void> {
    const signal = listSlot.next();
    try {
      const rows = await client.listExports(signal);
      if (signal.aborted) return;
      setChildren(listEl, rows.length ? exportsList(rows, remove) : null);
    } catch (e) {
      if (isAbort(e)) return;
      setChildren(listEl, errorBox(e));
    }
  }

  async function remove(runs: string[]): Promise<void> {
    try {
      await client.removeExports(runs);
    } catch (e) {
      setChildren(listEl, errorBox(e));
      return;
    }
    // The run named in the last "sent" box is gone too: do not offer it any more.
    const shown = out.querySelector<HTMLElement>("[data-run]")?.dataset["run"];
    if (shown && runs.includes(shown)) setChildren(out);
    void refresh();
  }

  const el = h(
    "div",
    { class: "w2v-export" },
    h("h3", { class: "w2v-subtitle" }, "Open in the Projector"),
    h("p", { class: "w2v-muted w2v-small" }, "Sends the query word and its nearest neighbours to TensorBoard’s Projector tab as a run of their own (t-SNE, UMAP, 3-D)."),
    h("div", { class: "w2v-form" }, nField.el, h("div", { class: "w2v-field w2v-field-end" }, button("Send to Projector", () => void send(), { testId: "export-button" }))),
    out,
    listEl,
  );
  void refresh();
  return { el, clear: () => setChildren(out), refresh: () => void refresh() };
}

/** What a successful send says: the run to pick in the Projector, copyable, and a link to it. */
function sent(res: ExportResponse): HTMLElement {
  const projectorHref = new URL(`../../../#projector`, routeUrl("./")).toString();
  const what = res.word ? [`“${res.word}” and ${formatInt((res.points ?? 1) - 1)} neighbours`] : [`${formatInt(res.points)} words`];
  return h(
    "div",
    { class: "w2v-ok", role: "status", "data-testid": "export-ok", "data-run": res.run },
    h("div", null, "Sent ", what, res.source ? ` of ${targetLabel(res.source)}` : "", " to the Projector as the run"),
    copyableName(res.run, "export-run"),
    h(
      "p",
      { class: "w2v-small" },
      h("strong", null, "In the Projector, choose this run in the “Run” menu"),
      " (top left): it opens on the first run of its list. TensorBoard lists a new run within a few seconds. ",
      h("a", { href: projectorHref, target: "_top", class: "w2v-link", "data-testid": "open-projector" }, "Open the Projector tab"),
    ),
  );
}

/** A name in a read-only field (select it to copy) with a Copy button. */
function copyableName(name: string, testId: string): HTMLElement {
  const input = h("input", { class: "w2v-input w2v-copy-input", readonly: true, value: name, "aria-label": "Run name", "data-testid": testId, onfocus: (ev: Event) => (ev.target as HTMLInputElement).select() }) as HTMLInputElement;
  input.size = Math.min(72, Math.max(20, name.length));
  const copy = button("Copy", async () => {
    copy.textContent = (await copyText(name, input)) ? "Copied" : "Press Ctrl+C";
  }, { testId: `${testId}-copy`, title: "Copy the run name" });
  return h("div", { class: "w2v-copy" }, input, copy);
}

/** Puts `text` on the clipboard (the Clipboard API, else the selected field); whether it worked. */
async function copyText(text: string, input: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input.focus();
    input.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }
}

/** The exports of the logdir, each with its run name and a Remove button, and "Remove all". */
function exportsList(rows: ExportResponse[], remove: (runs: string[]) => Promise<void>): HTMLElement {
  const when = (r: ExportResponse) => (r.created ? new Date(r.created * 1000).toLocaleString() : "");
  return h(
    "details",
    { class: "w2v-training w2v-exports", open: true },
    h("summary", null, `Projector exports in this log directory (${rows.length})`),
    h("p", { class: "w2v-muted w2v-small" }, "Each export is a run of its own, so TensorBoard lists it in every tab. Remove the ones you no longer need."),
    h(
      "table",
      { class: "w2v-table", "data-testid": "exports-table" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Run"), h("th", { scope: "col" }, "Word"), h("th", { scope: "col", class: "w2v-num" }, "Points"), h("th", { scope: "col" }, "Made"), h("th", { scope: "col" }, ""))),
      h(
        "tbody",
        null,
        rows.map((r) =>
          h(
            "tr",
            { "data-run": r.run },
            h("td", { class: "w2v-export-run" }, h("code", { title: r.source ? `from ${targetLabel(r.source)}` : "" }, r.run)),
            h("td", null, r.word ?? "–"),
            h("td", { class: "w2v-num" }, formatInt(r.points)),
            h("td", { class: "w2v-small" }, when(r)),
            h("td", null, button("Remove", () => void remove([r.run]), { testId: "export-remove", title: `Delete the run ${r.run}` })),
          ),
        ),
      ),
    ),
    rows.length > 1 ? h("div", { class: "w2v-form" }, button("Remove all", () => void remove(rows.map((r) => r.run)), { testId: "exports-remove-all" })) : null,
  );
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
