/**
 * The deployed entry under the real Functions Framework (its test server, in this process):
 * request work runs outside the framework's per-request domain.
 */
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { type LocalServer, listenLocally } from '../testing/listen-locally';
import { outsideFrameworkDomain } from './entry';

const inDomain = () => (process as { domain?: unknown }).domain !== undefined;

/** Answers whether a domain is active at the start of the request and after an await. */
async function reportDomain(_req: IncomingMessage, res: ServerResponse): Promise<void> {
  const atStart = inDomain();
  await new Promise((done) => setTimeout(done, 1));
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ atStart, afterAwait: inDomain() }));
}

http('entry-test-plain', reportDomain);
http('entry-test-outside', outsideFrameworkDomain(reportDomain));

const listening: LocalServer[] = [];
afterAll(() => Promise.all(listening.map((server) => server.close())));

async function ask(name: string): Promise<unknown> {
  const local = await listenLocally(getTestServer(name));
  listening.push(local);
  return (await fetch(local.url)).json();
}

describe('the deployed entry', () => {
  it('the framework itself runs a function inside a domain', async () => {
    expect(await ask('entry-test-plain')).toEqual({ atStart: true, afterAwait: true });
  });

  it('runs the request outside it, also after an await', async () => {
    expect(await ask('entry-test-outside')).toEqual({ atStart: false, afterAwait: false });
  });
});
