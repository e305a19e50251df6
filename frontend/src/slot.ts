/** Runs one async job per slot; a newer job aborts the older one so stale answers never show. */
export class Slot {
  private controller: AbortController | null = null;
  next(): AbortSignal {
    this.controller?.abort();
    this.controller = new AbortController();
    return this.controller.signal;
  }
  cancel(): void {
    this.controller?.abort();
    this.controller = null;
  }
}
