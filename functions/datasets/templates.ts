/**
 * Dataset template substitution: `{tag}` and `{uuid}` in string values and object keys anywhere in
 * a dataset document are replaced by the document's own `tag` and `uuid`.
 */
export function substituteTemplates(doc: Record<string, unknown>): Record<string, unknown> {
  const replacements: [string, string][] = [];
  if (typeof doc.tag === 'string') replacements.push(['{tag}', doc.tag]);
  if (typeof doc.uuid === 'string') replacements.push(['{uuid}', doc.uuid]);
  if (replacements.length === 0) return doc;
  const text = (s: string) => replacements.reduce((out, [from, to]) => out.replaceAll(from, to), s);
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return text(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [text(key), walk(inner)]));
  };
  return walk(doc) as Record<string, unknown>;
}
