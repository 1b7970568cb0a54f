/**
 * The transfer-service adapter: POSTs jobs to TRANSFER_FUNC (a Cloud Run service) with an
 * identity token for that audience from google-auth-library's ID-token client (the metadata
 * server when deployed; a service-account key locally), all jobs at once, each retried with
 * exponential backoff when the service fails transiently.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { IdTokenClient } from 'google-auth-library';
import type { Config } from '../../shared/config';
import { HttpError } from '../../shared/errors';
import { IMAGE_TRANSFER } from '../../shared/features';
import { callUpstream, reasonOf, type UpstreamReply } from '../../shared/upstream';
import type { TransferJob } from './plan';

/** Tries per job; the waits between them are TRANSFER_RETRY_DELAY_MS, then twice, four times that. */
export const TRANSFER_ATTEMPTS = 4;
const SERVICE = 'the transfer service';

/** Statuses worth another try: overload, timeouts reported by a proxy, server errors. */
const isTransient = (status: number) => status === 408 || status === 429 || status >= 500;

export class TransferService {
  private readonly url: string;
  private readonly timeoutMs: number;
  private readonly retryDelayMs: number;
  private idTokens: Promise<IdTokenClient> | undefined;

  constructor(url: string, config: Config) {
    this.url = url;
    this.timeoutMs = config.upstreamTimeoutMs;
    this.retryDelayMs = config.transferRetryDelayMs;
  }

  /** Sends every job; when any fails for good (after the others finish), throws 502/503/504. */
  async run(jobs: readonly TransferJob[]): Promise<void> {
    const outcomes = await Promise.allSettled(jobs.map((job) => this.send(job)));
    const failures = outcomes.flatMap((outcome, index) => (outcome.status === 'rejected' ? [{ index, reason: outcome.reason as unknown }] : []));
    if (failures.length === 0) return;
    const first = failures[0];
    const status = first.reason instanceof HttpError ? first.reason.status : 502;
    const detail = first.reason instanceof HttpError ? first.reason.detail : reasonOf(first.reason);
    throw new HttpError(status, `${failures.length} of ${jobs.length} transfer jobs failed; job ${first.index + 1} (start ${JSON.stringify(jobs[first.index].start)}): ${detail}`);
  }

  private async send(job: TransferJob): Promise<void> {
    const body = JSON.stringify(job);
    for (let attempt = 1; ; attempt++) {
      const failure = await this.attempt(body);
      if (!failure) return;
      if (!failure.transient) throw failure.error;
      if (attempt === TRANSFER_ATTEMPTS) throw new HttpError(502, `${failure.error.detail} (after ${attempt} attempts)`);
      await sleep(this.retryDelayMs * 2 ** (attempt - 1));
    }
  }

  /** One POST of a job: undefined when it succeeded, else the error and whether another try may help. */
  private async attempt(body: string): Promise<{ error: HttpError; transient: boolean } | undefined> {
    const headers = { 'Content-Type': 'application/json', Authorization: await this.bearer() };
    let reply: UpstreamReply;
    try {
      reply = await callUpstream(SERVICE, this.url, { method: 'POST', headers, body }, this.timeoutMs);
    } catch (error) {
      // callUpstream throws 502 (unreachable: worth another try) or 504 (a timeout: another try would only wait again).
      const failure = error as HttpError;
      return { error: failure, transient: failure.status === 502 };
    }
    if (reply.status >= 200 && reply.status < 300) return undefined;
    const error = new HttpError(502, `${SERVICE} answered ${reply.status}: ${reply.body.toString('utf8').slice(0, 300)}`);
    return { error, transient: isTransient(reply.status) };
  }

  /** `Bearer <identity token>`; the client caches the token until shortly before it expires. */
  private async bearer(): Promise<string> {
    try {
      // google-auth-library loads with the first transfer, not at the function's start.
      this.idTokens ??= import('google-auth-library').then(({ GoogleAuth }) => new GoogleAuth().getIdTokenClient(this.url));
      const headers = await (await this.idTokens).getRequestHeaders();
      const authorization = headers.get('authorization');
      if (!authorization) throw new Error('the ID-token client returned no Authorization header');
      return authorization;
    } catch (error) {
      this.idTokens = undefined;
      throw new HttpError(503, `no identity token for ${SERVICE} could be obtained: ${reasonOf(error)}`);
    }
  }
}

const services = new WeakMap<Config, TransferService>();

/** This instance's transfer-service adapter and destination bucket. */
export function transferService(config: Config): { service: TransferService; dest: string } {
  const { url, dest } = IMAGE_TRANSFER.settings(config);
  let service = services.get(config);
  if (!service) {
    service = new TransferService(url, config);
    services.set(config, service);
  }
  return { service, dest };
}
