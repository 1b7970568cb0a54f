/** Summaries of repeated measurements, printed by the benchmarks: median and range, percentiles. */

export interface Figures {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function figures(values: readonly number[]): Figures {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), min: sorted[0], max: sorted[sorted.length - 1] };
}

/** The nearest-rank median. */
export const median = (values: readonly number[]): number => figures(values).median;

/** The nearest-rank percentile of already sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `median (min-max)` with `digits` decimals. */
export function formatRange({ median, min, max }: Figures, digits: number): string {
  return `${median.toFixed(digits)} (${min.toFixed(digits)}-${max.toFixed(digits)})`;
}
