/**
 * A text field with vocabulary autocomplete (ARIA combobox). Suggestions show the word
 * and its corpus count; ArrowUp/ArrowDown move, Enter picks (and runs), Escape closes (and
 * keeps closed until the next keystroke).
 * In `tokens` mode it completes the last word of a list or expression.
 */
import type { VocabWord } from "./api";
import { debounce, h, setChildren, uid } from "./dom";
import { formatInt } from "./format";

export type SuggestFn = (prefix: string, signal: AbortSignal) => Promise<VocabWord[]>;

export interface WordInputOptions {
  label: string;
  value?: string;
  placeholder?: string;
  tokens?: boolean; // complete the last whitespace/comma separated token
  suggest: SuggestFn;
  onEnter: () => void;
  onInput?: (value: string) => void;
  width?: string;
  testId?: string;
}

const TOKEN_RE = /^(.*[\s,])?([^\s,]*)$/s;

export class WordInput {
  readonly el: HTMLElement;
  readonly input: HTMLInputElement;
  private readonly list: HTMLUListElement;
  private items: VocabWord[] = [];
  private active = -1;
  private controller: AbortController | null = null;
  /** Set when a query was just run or the list dismissed, so a late answer does not reopen it. */
  private suppressed = false;
  private readonly opts: WordInputOptions;

  constructor(opts: WordInputOptions) {
    this.opts = opts;
    const id = uid("wi");
    const listId = `${id}-list`;
    this.input = h("input", {
      id,
      type: "text",
      class: "w2v-input",
      value: opts.value ?? "",
      placeholder: opts.placeholder ?? "",
      autocomplete: "off",
      maxlength: 1000,
      autocapitalize: "off",
      spellcheck: "false",
      role: "combobox",
      "aria-autocomplete": "list",
      "aria-expanded": "false",
      "aria-controls": listId,
      "data-testid": opts.testId,
      style: opts.width ? `width:${opts.width}` : undefined,
    });
    this.list = h("ul", { id: listId, class: "w2v-suggest", role: "listbox", hidden: true });
    this.el = h(
      "div",
      { class: "w2v-field" },
      h("label", { for: id, class: "w2v-label" }, opts.label),
      h("div", { class: "w2v-combo" }, this.input, this.list),
    );
    const fetchLater = debounce(() => void this.fetchSuggestions(), 120);
    this.input.addEventListener("input", () => {
      this.suppressed = false;
      opts.onInput?.(this.input.value);
      fetchLater();
    });
    this.input.addEventListener("keydown", (ev) => this.onKey(ev));
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 100));
  }

  get value(): string {
    return this.input.value.trim();
  }

  set value(v: string) {
    this.input.value = v;
  }

  focus(): void {
    this.input.focus();
  }

  private currentToken(): { head: string; token: string } {
    const text = this.input.value;
    if (!this.opts.tokens) return { head: "", token: text.trim() };
    const m = TOKEN_RE.exec(text);
    if (!m) return { head: text, token: "" };
    let head = m[1] ?? "";
    let token = m[2] ?? "";
    // `-man` / `+woman`: the operator belongs to the expression, not to the word.
    if (/^[+\-\u2212\u2013]/.test(token)) {
      head += token[0];
      token = token.slice(1);
    }
    return { head, token };
  }

  private async fetchSuggestions(): Promise<void> {
    const { token } = this.currentToken();
    this.controller?.abort();
    if (this.suppressed || token.length === 0 || document.activeElement !== this.input) {
      this.close();
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    try {
      const items = await this.opts.suggest(token, controller.signal);
      if (controller.signal.aborted || this.suppressed) return;
      this.show(items);
    } catch {
      if (!controller.signal.aborted) this.close();
    }
  }

  private show(items: VocabWord[]): void {
    this.items = items;
    this.active = -1;
    if (items.length === 0) {
      this.close();
      return;
    }
    setChildren(
      this.list,
      items.map((item, i) =>
        h(
          "li",
          {
            id: `${this.list.id}-${i}`,
            role: "option",
            class: "w2v-suggest-item",
            "aria-selected": "false",
            onmousedown: (ev: Event) => {
              ev.preventDefault(); // keep focus in the input
              this.pick(i, true);
            },
          },
          h("span", { class: "w2v-suggest-word" }, item.word),
          h("span", { class: "w2v-suggest-count" }, item.count === null || item.count === undefined ? "" : formatInt(item.count)),
        ),
      ),
    );
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  close(): void {
    this.controller?.abort();
    this.list.hidden = true;
    this.items = [];
    this.active = -1;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  private highlight(i: number): void {
    this.active = i;
    Array.from(this.list.children).forEach((li, j) => li.setAttribute("aria-selected", String(j === i)));
    if (i >= 0) {
      const li = this.list.children[i] as HTMLElement;
      this.input.setAttribute("aria-activedescendant", li.id);
      li.scrollIntoView({ block: "nearest" });
    } else this.input.removeAttribute("aria-activedescendant");
  }

  private pick(i: number, run: boolean): void {
    const item = this.items[i];
    if (!item) return;
    const { head } = this.currentToken();
    this.input.value = this.opts.tokens ? head + item.word + " " : item.word;
    this.opts.onInput?.(this.input.value);
    this.close();
    if (run) {
      this.suppressed = true;
      this.opts.onEnter();
    }
  }

  private onKey(ev: KeyboardEvent): void {
    const open = !this.list.hidden && this.items.length > 0;
    if (ev.key === "ArrowDown") {
      ev.preventDefault();
      if (!open) {
        this.suppressed = false;
        void this.fetchSuggestions();
      }
      else this.highlight(Math.min(this.items.length - 1, this.active + 1));
    } else if (ev.key === "ArrowUp") {
      if (open) {
        ev.preventDefault();
        this.highlight(Math.max(-1, this.active - 1));
      }
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (open && this.active >= 0) this.pick(this.active, !this.opts.tokens);
      else {
        this.suppressed = true;
        this.close();
        this.opts.onEnter();
      }
    } else if (ev.key === "Escape") {
      if (open) ev.preventDefault();
      // Until the next keystroke: suggestions still on their way (the debounced request, or its
      // answer) must not open the list again over the buttons the user reaches for next.
      this.suppressed = true;
      this.close();
    } else if (ev.key === "Tab" && open && this.active >= 0) {
      this.pick(this.active, false);
    }
  }
}
