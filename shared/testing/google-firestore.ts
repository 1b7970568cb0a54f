/**
 * Google's own Firestore client (@google-cloud/firestore) on the test emulator. Tests seed and
 * inspect the database through it, so that what the service writes with its own client is read
 * back by another, as existing clio-store data and other writers are; the benchmarks' bare-client
 * baseline uses it with its defaults.
 */
import { Firestore, type Settings } from '@google-cloud/firestore';

export function googleFirestore(emulatorHost: string, projectId: string, settings: Settings = {}): Firestore {
  const [host, port] = emulatorHost.split(':');
  return new Firestore({ projectId, host, port: Number(port), ssl: false, customHeaders: { Authorization: 'Bearer owner' }, ...settings });
}
