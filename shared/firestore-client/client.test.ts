/**
 * The service's Firestore client against the emulator, with Google's client on the other side:
 * every kind of value written by one reads back the same through the other (existing clio-store
 * data loads unchanged), and the calls the service makes (queries, cursors, counts, listings,
 * batches, transactions) answer as Google's client answers. Transport faults are made by local
 * servers.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:http2';
import {
  type CollectionReference as GoogleCollection,
  FieldPath as GoogleFieldPath,
  Filter as GoogleFilter,
  type Firestore as GoogleFirestore,
  GeoPoint,
  type Query as GoogleQuery,
  Timestamp as GoogleTimestamp,
} from '@google-cloud/firestore';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { googleFirestore } from '../testing/google-firestore';
import { startFakeFirestore } from '../testing/grpc-firestore-server';
import { FIRESTORE_CODEC } from './messages';
import { FrameReader } from './transport';
import { decodeFields, encodeFields, type WireFields } from './values';
import { type CollectionReference, FieldPath, FieldValue, Filter, Firestore, type FirestoreSettings, type Query, Timestamp, type Transaction } from './client';

let ours: Firestore;
let google: GoogleFirestore;
const projectId = `demo-client-${randomBytes(4).toString('hex')}`;
const emulator = (extra: Partial<FirestoreSettings> = {}) =>
  new Firestore({ baseUrl: `http://${inject('firestoreEmulatorHost')}`, projectId, headers: () => ({ authorization: 'Bearer owner' }), timeoutMs: 10_000, ...extra });

beforeAll(() => {
  ours = emulator();
  google = googleFirestore(inject('firestoreEmulatorHost'), projectId, { useBigInt: true });
});
afterAll(async () => {
  await Promise.all([ours.terminate(), google.terminate()]);
});

const KEYS_TO_QUOTE = { 'a.b': 1, 'with space': 2, '`tick`': 3, 'back\\slash': 4, ünï: 5, '9lives': 6 };

describe('values', () => {
  // Firestore keeps microseconds, so the timestamps below have none finer.
  it('reads every kind of value Google’s client wrote, as that client reads them', async () => {
    const stored = {
      text: 'hé \u{1F600} "quoted" {braces} [brackets] \\',
      zero: 0,
      negative: -7,
      big: 18446744073709551615n - 2n ** 63n,
      int64Min: -(2n ** 63n),
      double: 1.5,
      negativeZero: -0,
      huge: 1e308,
      nan: NaN,
      inf: Infinity,
      negInf: -Infinity,
      yes: true,
      nothing: null,
      time: new GoogleTimestamp(1_700_000_000, 123_456_000),
      bytes: Buffer.from([0, 1, 254, 255]),
      place: new GeoPoint(12.5, -70.25),
      ref: google.doc('elsewhere/doc'),
      nested: { deeper: { list: [1, 'two', { three: 3 }], empty: {} }, emptyList: [] },
      quoted: KEYS_TO_QUOTE,
    };
    await google.doc('values/from-google').set(stored);
    const data = (await ours.doc('values/from-google').get()).data() as Record<string, unknown>;
    expect(data).toMatchObject({
      text: stored.text,
      zero: 0n,
      negative: -7n,
      big: stored.big,
      int64Min: stored.int64Min,
      double: 1.5,
      huge: 1e308,
      inf: Infinity,
      negInf: -Infinity,
      yes: true,
      nothing: null,
      bytes: Buffer.from([0, 1, 254, 255]),
      place: { latitude: 12.5, longitude: -70.25 },
      nested: { deeper: { list: [1n, 'two', { three: 3n }], empty: {} }, emptyList: [] },
      quoted: Object.fromEntries(Object.entries(KEYS_TO_QUOTE).map(([key, n]) => [key, BigInt(n)])),
    });
    expect(Object.is(data.negativeZero, -0)).toBe(true);
    expect(data.nan).toBeNaN();
    expect(data.time).toEqual(new Timestamp(1_700_000_000, 123_456_000));
    expect((data.ref as { path: string }).path).toBe('elsewhere/doc');
  });

  it('writes values that Google’s client reads back as it would have written them', async () => {
    const written = {
      text: 'hé \u{1F600} "x" }{',
      safe: 9_007_199_254_740_991,
      bigint: 2n ** 63n - 1n,
      double: 0.1,
      negativeZero: -0,
      nan: NaN,
      inf: -Infinity,
      time: new Timestamp(1_700_000_000, 987_654_000),
      date: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
      bytes: new Uint8Array([9, 8, 7]),
      nested: { list: [{ a: [1, 2] }, null, true], undefinedLeftOut: undefined },
      quoted: KEYS_TO_QUOTE,
    };
    await ours.doc('values/from-ours').set(written);
    const data = (await google.doc('values/from-ours').get()).data() as Record<string, unknown>;
    expect(data).toMatchObject({
      text: written.text,
      safe: 9_007_199_254_740_991n,
      bigint: 2n ** 63n - 1n,
      double: 0.1,
      inf: -Infinity,
      time: new GoogleTimestamp(1_700_000_000, 987_654_000),
      date: GoogleTimestamp.fromMillis(Date.UTC(2026, 0, 2, 3, 4, 5, 678)),
      nested: { list: [{ a: [1n, 2n] }, null, true] },
      quoted: Object.fromEntries(Object.entries(KEYS_TO_QUOTE).map(([key, n]) => [key, BigInt(n)])),
    });
    // Still a double, sign included (an integer would read as 0n).
    expect(Object.is(data.negativeZero, -0)).toBe(true);
    expect(data.nan).toBeNaN();
    expect(Buffer.from(data.bytes as Uint8Array)).toEqual(Buffer.from([9, 8, 7]));
    expect(data.nested).not.toHaveProperty('undefinedLeftOut');
  });

  it('refuses what Firestore cannot store before sending anything', async () => {
    const ref = ours.doc('values/refused');
    const deep = JSON.parse(`${'{"d":'.repeat(21)}1${'}'.repeat(21)}`);
    expect(() => ours.batch().set(ref, { deep })).toThrow(/deeper than 20 levels/);
    expect(() => ours.batch().set(ref, { '': 1 })).toThrow(/empty/);
    expect(() => ours.batch().set(ref, { pairs: [[1, 2]] })).toThrow(/array cannot hold an array/);
    expect(() => ours.batch().set(ref, { list: [undefined] })).toThrow(/undefined/);
    expect(() => ours.batch().set(ref, { n: 2n ** 64n })).toThrow(/64-bit/);
    expect(() => ours.batch().set(ref, { f: () => 1 })).toThrow(/function/);
    expect((await google.doc('values/refused').get()).exists).toBe(false);
  });

  it('passes a reserved field name to Firestore, whose refusal is INVALID_ARGUMENT (code 3)', async () => {
    await expect(ours.doc('values/reserved').set({ __x__: 1 })).rejects.toMatchObject({ code: 3, status: 'INVALID_ARGUMENT' });
    // Sent as a field, not lost as an object's prototype (JSON.parse makes such keys own properties).
    await expect(ours.doc('values/reserved').set(JSON.parse('{"nested": {"__proto__": 1}}') as Record<string, unknown>)).rejects.toMatchObject({ code: 3, message: expect.stringContaining('__proto__') });
  });
});

describe('documents', () => {
  it('reads single documents, several in order (missing ones included), and their times', async () => {
    const before = Date.now();
    await google.doc('docs/a').set({ n: 1 });
    await google.doc('docs/b').set({ n: 2 });
    const [b, missing, a] = await ours.getAll(ours.doc('docs/b'), ours.doc('docs/none'), ours.doc('docs/a'));
    expect([b.id, b.get('n'), missing.exists, missing.data(), a.data()]).toEqual(['b', 2n, false, undefined, { n: 1n }]);
    expect(a.createTime?.toMillis()).toBeGreaterThanOrEqual(before - 1000);
    expect(b.updateTime?.toMillis()).toBeGreaterThanOrEqual(a.updateTime?.toMillis() ?? Infinity);
    expect(a.readTime.toMillis()).toBeGreaterThanOrEqual(b.updateTime?.toMillis() ?? Infinity);
    expect((await ours.doc('docs/none').get()).exists).toBe(false);
  });

  it('creates only what does not exist (6), updates only what exists (5), deletes what may not exist', async () => {
    await ours.doc('docs/created').create({ n: 1 });
    await expect(ours.doc('docs/created').create({ n: 2 })).rejects.toMatchObject({ code: 6 });
    await expect(ours.doc('docs/absent').update({ n: 1 })).rejects.toMatchObject({ code: 5 });
    await ours.doc('docs/absent').delete();
    expect((await google.doc('docs/created').get()).data()).toEqual({ n: 1n });
  });

  it('updates dotted and FieldPath fields, removes fields, and merges only the named fields', async () => {
    await google.doc('docs/u').set({ neurons: { 'ds.one': { tag: 'x' }, other: 1 }, keep: true, drop: 1, m: { a: 1, b: 2 } });
    const tx = (write: (t: Transaction) => void) => ours.runTransaction(async (t) => void write(t));
    await tx((t) => t.update(ours.doc('docs/u'), new FieldPath('neurons', 'ds.one'), { tag: 'y' }));
    await ours.doc('docs/u').update({ 'm.a': 10, drop: FieldValue.delete(), stamped: FieldValue.serverTimestamp() });
    await ours.doc('docs/u').set({ m: { c: 3 }, keep: false, ignored: 'not named' }, { mergeFields: ['m', 'keep'] });
    const data = (await google.doc('docs/u').get()).data() as Record<string, unknown>;
    expect(data).toMatchObject({ neurons: { 'ds.one': { tag: 'y' }, other: 1n }, keep: false, m: { c: 3n } });
    expect(data).not.toHaveProperty('drop');
    expect(data).not.toHaveProperty('ignored');
    expect(data.stamped).toBeInstanceOf(GoogleTimestamp);
    expect((await ours.doc('docs/u').get()).get(new FieldPath('neurons', 'ds.one'))).toEqual({ tag: 'y' });
    expect((await ours.doc('docs/u').get()).get('m.c')).toBe(3n);
  });

  it('stamps server timestamps at the commit, nested ones too', async () => {
    const before = Date.now();
    await ours.doc('docs/stamped').set({ at: FieldValue.serverTimestamp(), inner: { at: FieldValue.serverTimestamp(), n: 1 } });
    const snapshot = await ours.doc('docs/stamped').get();
    const at = snapshot.get('at') as Timestamp;
    expect(at).toBeInstanceOf(Timestamp);
    expect(at.toMillis()).toBeGreaterThanOrEqual(before - 1000);
    expect(snapshot.get('inner.at')).toEqual(at);
    expect(snapshot.get('inner.n')).toBe(1n);
  });

  it('lists documents (those with only subcollections too) and collections', async () => {
    await google.doc('listed/plain').set({ n: 1 });
    await google.doc('listed/hollow/sub/x').set({ n: 2 });
    await google.doc('listed/hollow/other/y').set({ n: 3 });
    expect((await ours.collection('listed').listDocuments()).map((ref) => ref.path).sort()).toEqual(['listed/hollow', 'listed/plain']);
    expect((await ours.doc('listed/hollow').listCollections()).map((ref) => ref.id).sort()).toEqual(['other', 'sub']);
    expect((await ours.listCollections()).map((ref) => ref.id)).toContain('listed');
    expect(await ours.collection('never-written').listDocuments()).toEqual([]);
  });
});

describe('queries', () => {
  beforeAll(async () => {
    const batch = google.batch();
    for (let i = 0; i < 12; i++) {
      batch.set(google.doc(`q/${String(i).padStart(3, '0')}`), { n: i, even: i % 2 === 0, tags: [`t${i % 3}`], terms: { [`w.${i % 4}`]: true }, maybe: i === 5 ? null : i });
    }
    await batch.commit();
  });
  const ids = (snapshot: { docs: { id: string }[] }) => snapshot.docs.map((doc) => doc.id);
  const id = (i: number) => String(i).padStart(3, '0');

  it('answers each filter as Google’s client does', async () => {
    const cases: [string, (c: CollectionReference) => Query, (c: GoogleCollection) => GoogleQuery][] = [
      ['==', (c) => c.where('even', '==', true), (c) => c.where('even', '==', true)],
      ['!= and >=', (c) => c.where('n', '>=', 6).where('n', '!=', 8), (c) => c.where('n', '>=', 6).where('n', '!=', 8)],
      ['< on a bigint', (c) => c.where('n', '<', 3n), (c) => c.where('n', '<', 3)],
      ['in', (c) => c.where('n', 'in', [1, 4, 99]), (c) => c.where('n', 'in', [1, 4, 99])],
      ['array-contains', (c) => c.where('tags', 'array-contains', 't2'), (c) => c.where('tags', 'array-contains', 't2')],
      ['== null', (c) => c.where('maybe', '==', null), (c) => c.where('maybe', '==', null)],
      [
        'or over quoted field paths',
        (c) => c.where(Filter.or(Filter.where(new FieldPath('terms', 'w.1'), '==', true), Filter.where(new FieldPath('terms', 'w.2'), '==', true))),
        (c) => c.where(GoogleFilter.or(GoogleFilter.where(new GoogleFieldPath('terms', 'w.1'), '==', true), GoogleFilter.where(new GoogleFieldPath('terms', 'w.2'), '==', true))),
      ],
      ['id cursors', (c) => c.orderBy(FieldPath.documentId()).startAfter(id(3)).endAt(id(7)), (c) => c.orderBy(GoogleFieldPath.documentId()).startAfter(id(3)).endAt(id(7))],
      ['descending order with cursors and a limit', (c) => c.orderBy('n', 'desc').startAfter(10).endAt(2).limit(4), (c) => c.orderBy('n', 'desc').startAfter(10).endAt(2).limit(4)],
    ];
    for (const [name, build, buildGoogle] of cases) {
      const expected = ids(await buildGoogle(google.collection('q')).get());
      expect([name, ids(await build(ours.collection('q')).get())]).toEqual([name, expected]);
      expect(expected.length).toBeGreaterThan(0);
    }
  });

  it('selects fields, counts, and streams in order', async () => {
    const selected = await ours.collection('q').where('n', '>', 9).select('n', 'tags').get();
    expect(selected.docs.map((doc) => doc.data())).toEqual([{ n: 10n, tags: ['t1'] }, { n: 11n, tags: ['t2'] }]);
    expect((await ours.collection('q').select().limit(1).get()).docs[0].data()).toEqual({});
    expect((await ours.collection('q').where('even', '==', false).count().get()).data().count).toBe(6);
    const streamed: string[] = [];
    for await (const doc of ours.collection('q').orderBy(FieldPath.documentId()).stream()) streamed.push(doc.id);
    expect(streamed).toEqual(Array.from({ length: 12 }, (_, i) => id(i)));
    const empty = await ours.collection('q').where('n', '>', 100).get();
    expect([empty.empty, empty.size]).toEqual([true, 0]);
    expect(empty.readTime.toMillis()).toBeGreaterThan(0);
  });

  it('streams a long answer element by element, with strings that look like JSON structure', async () => {
    const bulk = google.bulkWriter();
    const text = (i: number) => `${'}{]["\\'.repeat(i % 7)}${'x'.repeat(900)}${i}`;
    for (let i = 0; i < 3000; i++) void bulk.set(google.doc(`long/${String(i).padStart(5, '0')}`), { i, text: text(i) });
    await bulk.close();
    let count = 0;
    for await (const doc of ours.collection('long').orderBy(FieldPath.documentId()).stream()) {
      expect([doc.get('i'), doc.get('text')]).toEqual([BigInt(count), text(count)]);
      // A slow reader: the transport pauses the answer rather than holding all of it.
      if (count % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      count++;
    }
    expect(count).toBe(3000);
  });
});

describe('transactions', () => {
  it('serializes contending read-modify-writes so that none is lost', async () => {
    await google.doc('tx/counter').set({ n: 0 });
    const other = emulator();
    const increment = (db: Firestore) =>
      db.runTransaction(
        async (tx) => {
          const snapshot = await tx.get(db.doc('tx/counter'));
          tx.set(db.doc('tx/counter'), { n: (snapshot.get('n') as bigint) + 1n });
        },
        { maxAttempts: 20 },
      );
    await Promise.all(Array.from({ length: 4 }, (_, i) => increment(i % 2 ? ours : other)));
    await other.terminate();
    expect((await google.doc('tx/counter').get()).get('n')).toBe(4n);
  });

  it('rolls back on the caller’s error (its locks released at once), and wants reads before writes', async () => {
    await google.doc('tx/held').set({ n: 1 });
    await expect(
      ours.runTransaction(async (tx) => {
        await tx.get(ours.doc('tx/held'));
        tx.set(ours.doc('tx/held'), { n: 2 });
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const started = Date.now();
    await google.runTransaction(async (tx) => {
      await tx.get(google.doc('tx/held'));
      tx.set(google.doc('tx/held'), { n: 3 });
    });
    expect(Date.now() - started).toBeLessThan(1500);
    await expect(
      ours.runTransaction(async (tx) => {
        tx.set(ours.doc('tx/held'), { n: 4 });
        await tx.get(ours.doc('tx/held'));
      }),
    ).rejects.toThrow(/reads before its writes/);
    expect((await google.doc('tx/held').get()).get('n')).toBe(3n);
  });

  it('reads a query and documents together in one transaction, and commits writes without reads', async () => {
    await google.doc('tx/q1').set({ kind: 'x' });
    const written = await ours.runTransaction(async (tx) => {
      const [query, [doc]] = await Promise.all([tx.get(ours.collection('tx').where('kind', '==', 'x')), tx.getAll(ours.doc('tx/q1'))]);
      tx.create(ours.doc('tx/q2'), { kind: 'x', seen: query.size, doc: doc.get('kind') });
      return query.size;
    });
    expect(written).toBe(1);
    await ours.runTransaction(async (tx) => void tx.delete(ours.doc('tx/q1')));
    expect([(await google.doc('tx/q1').get()).exists, (await google.doc('tx/q2').get()).data()]).toEqual([false, { kind: 'x', seen: 1n, doc: 'x' }]);
  });
});

/** A local server standing in for Firestore, answering each request with `answer`. */
describe('transport', () => {
  const client = (url: string, extra: Partial<FirestoreSettings> = {}) => new Firestore({ baseUrl: url, projectId: 'p', headers: () => ({}), timeoutMs: 5_000, ...extra });
  const READ_TIME = new Timestamp(Date.UTC(2026, 11, 1) / 1000, 500_000_000);
  const missing = (name: string) => ({ missing: name, readTime: READ_TIME });
  const found = (id: string | number) => ({ document: { name: `projects/p/databases/(default)/documents/c/${id}` }, readTime: READ_TIME });

  it('sends the configured headers and the routing header to the gRPC method, finding the project once', async () => {
    const seen: string[] = [];
    const fake = await startFakeFirestore(({ method, request, headers }, reply) => {
      seen.push(`${headers[':path']} ${headers.authorization} ${headers['x-goog-request-params']} ${String(request.database)}`);
      expect(method).toBe('BatchGetDocuments');
      reply.send(missing((request.documents as string[])[0]));
      reply.end();
    });
    let lookups = 0;
    let token = 0;
    const db = client(fake.url, {
      projectId: async () => (lookups++, 'found'),
      headers: async () => ({ authorization: `Bearer token-${++token}` }),
    });
    await db.doc('c/d').get();
    const snapshot = await db.doc('c/d').get();
    expect(snapshot.exists).toBe(false);
    expect(snapshot.readTime).toEqual(READ_TIME);
    const call = (n: number) => `/google.firestore.v1.Firestore/BatchGetDocuments Bearer token-${n} database=projects%2Ffound%2Fdatabases%2F(default) projects/found/databases/(default)`;
    expect(seen).toEqual([call(1), call(2)]);
    expect(lookups).toBe(1);
    await db.terminate();
    await fake.close();
  });

  it('reports a gRPC status by its code and message, and an answer that is not gRPC by its HTTP status', async () => {
    const fake = await startFakeFirestore(({ count, stream }, reply) => {
      if (count === 0) reply.end(10, 'Transaction lock timeout.');
      else if (count === 1) {
        stream.respond({ ':status': 503, 'content-type': 'text/html' });
        stream.end('<html>busy</html>');
      } else reply.end(3, 'refused: 100% sure');
    });
    const db = client(fake.url);
    await expect(db.doc('c/d').get()).rejects.toMatchObject({ code: 10, status: 'ABORTED', message: '10 ABORTED: Transaction lock timeout.' });
    await expect(db.doc('c/d').get()).rejects.toMatchObject({ code: 14, status: 'UNAVAILABLE', message: '14 UNAVAILABLE: HTTP 503 instead of a gRPC answer' });
    await expect(db.collection('c').get()).rejects.toMatchObject({ code: 3, message: '3 INVALID_ARGUMENT: refused: 100% sure' });
    await db.terminate();
    await fake.close();
  });

  it('fails with UNAVAILABLE (14) when refused, and with DEADLINE_EXCEEDED (4) when nothing answers', async () => {
    const closed = await startFakeFirestore(() => undefined);
    await closed.close();
    await expect(client(closed.url).doc('c/d').get()).rejects.toMatchObject({ code: 14, message: expect.stringContaining('ECONNREFUSED') });
    // A transaction does not try again against a database that is not there (its first retry waits at least 500 ms).
    const refusedAt = Date.now();
    await expect(client(closed.url).runTransaction((tx) => tx.get(client(closed.url).doc('c/d')))).rejects.toMatchObject({ code: 14 });
    expect(Date.now() - refusedAt).toBeLessThan(400);
    const silent = await startFakeFirestore(() => undefined);
    const started = Date.now();
    const db = client(silent.url, { timeoutMs: 300 });
    await expect(db.doc('c/d').get()).rejects.toMatchObject({ code: 4 });
    expect(Date.now() - started).toBeLessThan(3000);
    await db.terminate();
    await silent.close();
  });

  it('fails a streamed answer at its error status, keeping what came before', async () => {
    const fake = await startFakeFirestore((call, reply) => {
      reply.send(found('a'));
      reply.end(14, 'backend went away');
    });
    const db = client(fake.url);
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const snapshot of db.collection('c').stream()) seen.push(snapshot.id);
      })(),
    ).rejects.toMatchObject({ code: 14, message: '14 UNAVAILABLE: backend went away' });
    expect(seen).toEqual(['a']);
    await expect(db.collection('c').get()).rejects.toMatchObject({ code: 14 });
    await db.terminate();
    await fake.close();
  });

  it('fails a stream whose connection is lost in the middle of the answer with UNAVAILABLE (14), without sending it again', async () => {
    let calls = 0;
    const fake = await startFakeFirestore(({ stream }, reply) => {
      calls++;
      reply.send(found('a'));
      setTimeout(() => stream.session?.destroy(), 20);
    });
    const db = client(fake.url);
    await db.collection('c').get().catch(() => undefined);
    // The connection is now a reused one; a lost answer already under way is still not sent again.
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const snapshot of db.collection('c').stream()) seen.push(snapshot.id);
      })(),
    ).rejects.toMatchObject({ code: 14, message: expect.stringContaining('lost or refused') });
    expect(seen).toEqual(['a']);
    expect(calls).toBe(2);
    await db.terminate();
    await fake.close();
  });

  it('does not count a slow reader’s pause against the call’s time limit', async () => {
    const fake = await startFakeFirestore((call, reply) => {
      for (let i = 0; i < 5000; i++) reply.send(found(i));
      reply.end();
    });
    const db = client(fake.url, { timeoutMs: 200 });
    let count = 0;
    for await (const snapshot of db.collection('c').stream()) {
      expect(snapshot.id).toBe(String(count));
      // Long past the limit, with the answer paused behind this reader.
      if (count++ === 0) await new Promise((resolve) => setTimeout(resolve, 800));
    }
    expect(count).toBe(5000);
    await db.terminate();
    await fake.close();
  });

  it('cancels the stream its reader left early', async () => {
    let cancelled = false;
    const fake = await startFakeFirestore(({ stream }, reply) => {
      let i = 0;
      // An answer that never ends by itself: only the reader's leaving stops it.
      const timer = setInterval(() => reply.send(found(++i)), 5);
      stream.on('close', () => {
        clearInterval(timer);
        cancelled = stream.rstCode === constants.NGHTTP2_CANCEL;
      });
    });
    const db = client(fake.url);
    let count = 0;
    for await (const snapshot of db.collection('c').stream()) {
      expect(snapshot.id).toBe(String(++count));
      if (count === 3) break;
    }
    await vi.waitFor(() => expect(cancelled).toBe(true));
    await db.terminate();
    await fake.close();
  });

  it('sends a read again when its kept-alive connection was lost under it, but never a commit', async () => {
    let calls = 0;
    const fake = await startFakeFirestore(({ count, method, stream }, reply) => {
      calls = count + 1;
      // Every second call finds its connection gone, as a server closing idle connections does.
      if (count % 2 === 1) {
        stream.session?.destroy();
        return;
      }
      if (method === 'Commit') reply.send({});
      else reply.send(missing('projects/p/databases/(default)/documents/c/d'));
      reply.end();
    });
    const db = client(fake.url);
    await db.doc('c/d').get();
    // The second read's connection is lost; it is sent again (the third call) and answered.
    expect((await db.doc('c/d').get()).exists).toBe(false);
    expect(calls).toBe(3);
    // The commit's connection is lost too: it may have been applied, so it is not sent again.
    await expect(db.doc('c/d').set({ n: 1 })).rejects.toMatchObject({ code: 14 });
    expect(calls).toBe(4);
    await db.terminate();
    await fake.close();
  });
});

describe('wire format', () => {
  it('cuts any sequence of gRPC messages, arriving in any pieces, into its messages', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (messages, cuts) => {
        const bytes = Buffer.concat(messages.map((message) => Buffer.concat([Buffer.from([0, 0, 0, message.length >> 8, message.length & 255]), message])));
        const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
        const reader = new FrameReader();
        const out: Buffer[] = [];
        let from = 0;
        for (const point of [...points, bytes.length]) {
          out.push(...reader.push(bytes.subarray(from, point)));
          from = point;
        }
        expect(out.map((message) => [...message])).toEqual(messages.map((message) => [...message]));
        expect(reader.pending).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads back every value it writes, through Google’s published field numbers', () => {
    const scalar = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.string(),
      fc.double(),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
      fc.record({ seconds: fc.integer({ min: -62_135_596_800, max: 253_402_300_799 }), nanos: fc.integer({ min: 0, max: 999_999_999 }) }).map(({ seconds, nanos }) => new Timestamp(seconds, nanos)),
    );
    const { value } = fc.letrec<{ value: unknown; list: unknown[] }>((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, scalar, tie('list'), fc.dictionary(fc.string({ minLength: 1 }), tie('value'), { maxKeys: 4 })),
      list: fc.array(fc.oneof(scalar, fc.dictionary(fc.string({ minLength: 1 }), tie('value'), { maxKeys: 3 })), { maxLength: 4 }),
    }));
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), value, { maxKeys: 6 }), (data) => {
        const fields = encodeFields(data);
        const decoded = FIRESTORE_CODEC.decode('Document', FIRESTORE_CODEC.encode('Document', { name: 'n', fields })) as { fields?: WireFields };
        // Safe integers went as integers and come back as bigints, which `stringified` spells alike.
        expect(stringified(decodeFields(decoded.fields ?? {}, String))).toBe(stringified(data));
      }),
      { numRuns: 1000 },
    );
  });
});

/** Values as comparable text: bigints, bytes, timestamps, -0 and NaN spelled out. */
function stringified(value: unknown): string {
  return JSON.stringify(value, (key, inner: unknown) => {
    if (typeof inner === 'bigint') return `${inner}n`;
    if (typeof inner === 'number') return Object.is(inner, -0) ? '-0' : Number.isFinite(inner) ? (Number.isSafeInteger(inner) ? `${inner}n` : inner) : String(inner);
    if (inner instanceof Timestamp) return `${inner.seconds}s${inner.nanoseconds}`;
    if (inner && typeof inner === 'object' && (inner as { type?: string }).type === 'Buffer') return `bytes:${(inner as { data: number[] }).data.join(',')}`;
    return inner;
  });
}
