/**
 * The service the route sweeps (hostile ids, fuzzing) ask: every optional feature configured
 * against local stand-ins (Cloud Storage, DVID; neuPrint and the transfer service are never
 * reached), the standard data, and one caller who may do everything, so that requests get as far
 * as storage.
 */
import { DvidTestServer } from '../../functions/json-annotations/dvid-test-server';
import { COLLECTIONS } from '../collections';
import { GcsTestServer } from './gcs-test-server';
import { DS, seedStandardData, startTestService, type TestService } from './harness';
import type { InputContext } from './route-inputs';

/** A global admin who may also read and write every dataset. */
export const EVERYTHING = 'everything@test.org';

/** The inputs of a sweep's valid requests: about the private standard dataset, as EVERYTHING. */
export const SWEEP_CONTEXT: InputContext = { dataset: DS, email: EVERYTHING, atlasEntryId: 'no-such-entry' };

export interface SweepService {
  readonly svc: TestService;
  readonly close: () => Promise<void>;
}

export async function startSweepService(): Promise<SweepService> {
  const gcs = await new GcsTestServer().start();
  const dvid = await DvidTestServer.start();
  dvid.addNode('u1');
  const svc = await startTestService({
    STORAGE_API_URL: gcs.url,
    SIG_BUCKET: 'signatures',
    NEUPRINT_APPLICATION_CREDENTIALS: 'neuprint-token-for-sweeps',
    // Never reached: every transfer of a sweep names a dataset that is missing, offers no model or cannot exist.
    TRANSFER_FUNC: 'http://127.0.0.1:9/transfer',
    TRANSFER_DEST: 'transfer-dest',
  });
  await seedStandardData(svc.db);
  await svc.db.collection(COLLECTIONS.users).doc(EVERYTHING).set({ global_roles: ['admin', 'clio_general', 'clio_write'] });
  await svc.db.collection(COLLECTIONS.datasets).doc(DS).set({ dvid: dvid.url, neuprintHTTP: { server: '127.0.0.1:9', dataset: 'hemibrain' } }, { merge: true });
  await svc.db.collection(COLLECTIONS.volumes).doc(DS).set({ bucket: 'volume-bucket', path: 'p' });
  await svc.ctx.datasets.refresh();
  return {
    svc,
    close: async () => {
      await svc.close();
      await Promise.all([gcs.close(), dvid.close()]);
    },
  };
}
