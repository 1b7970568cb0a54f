/**
 * Request bodies are JSON whatever the Content-Type says (none, text/plain, application/json):
 * the original's clients send all three. Under the Functions Framework the bytes may already
 * have been read into `rawBody`; otherwise they are read here, up to the platform's 32 MiB.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../errors';
import { parseJson } from '../json';
import { bodyIssue } from './validate';

export const MAX_BODY_BYTES = 32 * 1024 * 1024;

type RequestWithRawBody = IncomingMessage & { rawBody?: unknown };

const tooLarge = () => new HttpError(413, `Request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`);

export async function readBody(req: RequestWithRawBody, limit = MAX_BODY_BYTES): Promise<Buffer> {
  if (Buffer.isBuffer(req.rawBody)) {
    if (req.rawBody.length > limit) throw tooLarge();
    return req.rawBody;
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses body bytes as JSON; an empty body is `undefined`, unparsable JSON a 422. */
export function parseBody(bytes: Buffer): unknown {
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') return undefined;
  try {
    return parseJson(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw bodyIssue(`Request body is not valid JSON: ${reason}`, 'value_error.jsondecode');
  }
}
