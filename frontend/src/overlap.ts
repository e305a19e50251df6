/** Overlap statistics between several top-k word lists (compare view). */

export function jaccard(a: Iterable<string>, b: Iterable<string>): number {
  const sa = new Set(a);
  const sb = new Set(b);
  if (sa.size === 0 && sb.size === 0) return 1;
  let inter = 0;
  for (const w of sa) if (sb.has(w)) inter++;
  return inter / (sa.size + sb.size - inter);
}

/** For each word, in how many of the lists it appears. */
export function occurrenceCounts(lists: string[][]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const list of lists) {
    for (const w of new Set(list)) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  return counts;
}

/** Words present in every list, in the order of the first list. */
export function sharedByAll(lists: string[][]): string[] {
  if (lists.length === 0) return [];
  const sets = lists.map((l) => new Set(l));
  return [...new Set(lists[0])].filter((w) => sets.every((s) => s.has(w)));
}

/** Symmetric matrix of pairwise Jaccard indices. */
export function jaccardMatrix(lists: string[][]): number[][] {
  return lists.map((a, i) => lists.map((b, j) => (i === j ? 1 : jaccard(a, b))));
}

/** Items ordered from the least overlap to the most (the words that changed most first); ties keep their order. */
export function byLeastOverlap<T extends { jaccard: number }>(items: T[]): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => a.item.jaccard - b.item.jaccard || a.i - b.i)
    .map((x) => x.item);
}
