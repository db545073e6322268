export function median(values: readonly number[]): number {
  return percentile(values.toSorted((a, b) => a - b), 50);
}

/** Nearest-rank percentile of values sorted ascending. */
export function percentile(sorted: readonly number[], percent: number): number {
  if (sorted.length === 0) throw new Error('no values');
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
