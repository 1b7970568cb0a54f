/**
 * Bulk import into and export from a Firestore-native dataset (`npm run neurons`). Import reads
 * a DVID neuronjson instance (its `keys`, then `keyvalues` a batch at a time, so memory stays
 * bounded) or an NDJSON file, and stores each annotation exactly as given (companions included)
 * with one change record per body (op `import`), BODIES_PER_TRANSACTION bodies per transaction.
 * A checkpoint after every batch (`clio_neurons/{dataset}/imports/{source}`) lets a rerun resume
 * where an interrupted one stopped; importing a state again records nothing. Export writes NDJSON
 * in body-id order, at HEAD or `as_of`, and resumes after the last line of an existing file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import * as v from 'valibot';
import type { AppContext } from '../../shared/context';
import { COLLECTIONS } from '../../shared/collections';
import { HttpError } from '../../shared/errors';
import { parseJson, stringifyJson } from '../../shared/json';
import { dvidBytes, type DvidTimeouts } from './dvid';
import { type Annotation, compareIds } from './neuronjson';
import { BODIES_PER_TRANSACTION, id20, importBodies, type Provenance, scan } from './native-store';
import { WriteBody } from './schemas';

/** How far a run has come, for the progress bar. */
export interface Progress {
  readonly done: number;
  /** Undefined when the total is not known in advance. */
  readonly total: number | undefined;
}

export interface ImportResult {
  readonly bodies: number;
  readonly changes: number;
  readonly resumedAfter: string | null;
}

function checkpointRef(ctx: AppContext, dataset: string, source: string) {
  const name = createHash('sha256').update(source).digest('hex').slice(0, 32);
  return ctx.db().collection(COLLECTIONS.neurons).doc(dataset).collection('imports').doc(name);
}

/** Parses and checks one batch as the write endpoint would (422 naming the offending item). */
function checked(items: unknown[], where: string): Annotation[] {
  const result = v.safeParse(WriteBody, items);
  if (!result.success) {
    const issue = result.issues[0];
    const index = issue.path?.[0]?.key;
    throw new HttpError(422, `${where}: item ${String(index)}: ${issue.message}`);
  }
  return result.output;
}

/**
 * Imports every annotation of a DVID neuronjson instance URL (e.g.
 * `https://dvid.example/api/node/<uuid>/segmentation_annotations`).
 */
export async function importFromDvid(
  ctx: AppContext,
  dataset: string,
  url: string,
  who: Provenance,
  onProgress: (progress: Progress) => void = () => {},
): Promise<ImportResult> {
  const base = url.replace(/\/+$/, '');
  const timeouts: DvidTimeouts = ctx.config;
  const keys = parseJson((await dvidBytes(timeouts, { method: 'GET', url: `${base}/keys` })).toString('utf8'));
  if (!Array.isArray(keys)) throw new HttpError(502, `${base}/keys did not answer a JSON array`);
  const ids = keys.map(String).filter((key) => /^\d+$/.test(key) && key !== '0').sort(compareIds);
  const checkpoint = checkpointRef(ctx, dataset, base);
  const after = ((await checkpoint.get()).get('after') as string | undefined) ?? null;
  const todo = after === null ? ids : ids.filter((id) => compareIds(id, after) > 0);
  let changes = 0;
  let done = ids.length - todo.length;
  onProgress({ done, total: ids.length });
  for (let start = 0; start < todo.length; start += BODIES_PER_TRANSACTION) {
    const batch = todo.slice(start, start + BODIES_PER_TRANSACTION);
    const text = (await dvidBytes(timeouts, { method: 'GET', url: `${base}/keyvalues?json=true&show=all`, body: `[${batch.join(',')}]` })).toString('utf8');
    const byId = parseJson(text) as Record<string, unknown>;
    const items = batch.filter((id) => Object.hasOwn(byId, id)).map((id) => byId[id]);
    changes += await importBodies(ctx, dataset, checked(items, `${base}/keyvalues`), who);
    await checkpoint.set({ source: base, after: batch[batch.length - 1], at: Date.now() });
    done += batch.length;
    onProgress({ done, total: ids.length });
  }
  return { bodies: ids.length, changes, resumedAfter: after };
}

/** Imports an NDJSON file, one annotation per line (blank lines skipped). */
export async function importFromFile(
  ctx: AppContext,
  dataset: string,
  path: string,
  who: Provenance,
  onProgress: (progress: Progress) => void = () => {},
): Promise<ImportResult> {
  const checkpoint = checkpointRef(ctx, dataset, `file:${path}:${statSync(path).size}`);
  const afterLine = Number((await checkpoint.get()).get('after') ?? 0);
  const total = statSync(path).size;
  const stream = createReadStream(path);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNumber = 0;
  let bodies = 0;
  let changes = 0;
  let batch: unknown[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    changes += await importBodies(ctx, dataset, checked(batch, `${path} before line ${lineNumber + 1}`), who);
    bodies += batch.length;
    batch = [];
    await checkpoint.set({ source: path, after: String(lineNumber), at: Date.now() });
    onProgress({ done: stream.bytesRead, total });
  };
  for await (const line of lines) {
    lineNumber += 1;
    if (lineNumber <= afterLine || line.trim() === '') continue;
    try {
      batch.push(parseJson(line));
    } catch (error) {
      throw new HttpError(422, `${path} line ${lineNumber} is not JSON: ${(error as Error).message}`);
    }
    if (batch.length === BODIES_PER_TRANSACTION) await flush();
  }
  await flush();
  onProgress({ done: total, total });
  return { bodies, changes, resumedAfter: afterLine > 0 ? `line ${afterLine}` : null };
}

/** The body id of the last complete line of an NDJSON export, to resume after it. */
function lastExported(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const lines = readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '');
  if (lines.length === 0) return undefined;
  const last = parseJson(lines[lines.length - 1]) as Annotation;
  return id20(BigInt(last.bodyid as number | bigint).toString());
}

/** Writes every live body (at HEAD or at `atMs`) to `path` as NDJSON, appending after what a previous run wrote. */
export async function exportToFile(
  ctx: AppContext,
  dataset: string,
  path: string,
  atMs: number | undefined,
  onProgress: (progress: Progress) => void = () => {},
): Promise<{ bodies: number; resumedAfter: string | null }> {
  const after = lastExported(path);
  const live = ctx.db().collection(COLLECTIONS.neurons).doc(dataset).collection('bodies').where('deleted', '==', false);
  const total = atMs === undefined ? Number((await live.count().get()).data().count) : undefined;
  const out = createWriteStream(path, { flags: 'a' });
  let bodies = 0;
  for await (const { annotation } of scan(ctx, dataset, { after, atMs })) {
    if (!out.write(`${stringifyJson(annotation)}\n`)) await once(out, 'drain');
    bodies += 1;
    if (bodies % 1000 === 0) onProgress({ done: bodies, total });
  }
  out.end();
  await once(out, 'finish');
  onProgress({ done: bodies, total: total ?? bodies });
  return { bodies, resumedAfter: after === undefined ? null : BigInt(after).toString() };
}
