/**
 * The neuPrint adapter: a custom Cypher query sent to `{NEUPRINT_SCHEME}://{server}/api/custom/custom`
 * with the service's neuPrint token. neuPrint's status and JSON body are passed through byte for
 * byte (body ids beyond 2^53 stay exact); an answer that is not JSON is a 502.
 */
import type { Config } from '../../shared/config';
import { HttpError } from '../../shared/errors';
import { Reply } from '../../shared/http/reply';
import { parseJson } from '../../shared/json';
import { callUpstream } from '../../shared/upstream';
import type { CustomQuery } from './schemas';

export async function customQuery(config: Config, credentials: string, server: string, query: CustomQuery): Promise<Reply> {
  const service = `neuPrint at ${server}`;
  const reply = await callUpstream(
    service,
    `${config.neuprintScheme}://${server}/api/custom/custom`,
    {
      method: 'POST',
      headers: { Authorization: `Bearer ${credentials}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ cypher: query.cypher, dataset: query.dataset }),
    },
    config.upstreamTimeoutMs,
  );
  try {
    parseJson(reply.body.toString('utf8'));
  } catch {
    throw new HttpError(502, `${service} answered ${reply.status} with a body that is not JSON`);
  }
  return new Reply(reply.body, { status: reply.status, headers: { 'Content-Type': 'application/json' } });
}
