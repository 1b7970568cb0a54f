/**
 * A test service in a DatasetGateway mode, in front of its own DSG stand-in holding the standard
 * identities (`as: 'reader'` sends the reader's DSG key), with the standard data seeded.
 */
import { type DsgStandInConfig, DsgTestServer } from './dsg-test-server';
import { dsgKeyFor, standardDsgConfig } from './dsg-identities';
import { seedStandardData, startTestService, type TestService } from './harness';

export interface DsgService {
  readonly svc: TestService;
  readonly dsg: DsgTestServer;
  close(): Promise<void>;
}

export async function startDsgService(env: Record<string, string> = {}, config: DsgStandInConfig = standardDsgConfig()): Promise<DsgService> {
  const dsg = await new DsgTestServer(config).start();
  const svc = await startTestService({ DSG_URL: dsg.url, ...env }, { tokenFor: dsgKeyFor });
  await seedStandardData(svc.db);
  return {
    svc,
    dsg,
    async close() {
      await svc.close();
      await dsg.close();
    },
  };
}
