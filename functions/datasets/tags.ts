/**
 * Orders version tags numerically, component by component (`v0.10` after `v0.9`).
 * Tags without digits fall back to plain string order.
 */
export function compareTags(a: string, b: string): number {
  const numbers = (tag: string) => (tag.match(/\d+/g) ?? []).map(Number);
  const [x, y] = [numbers(a), numbers(b)];
  if (x.length === 0 || y.length === 0) return a < b ? -1 : a > b ? 1 : 0;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const diff = (x[i] ?? 0) - (y[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}
