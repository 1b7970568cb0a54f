/**
 * vitest global setup: one Firestore emulator for the whole run (or the one named by
 * FIRESTORE_EMULATOR_HOST), handed to the test files through `inject('firestoreEmulatorHost')`.
 */
import type { TestProject } from 'vitest/node';
import { startFirestoreEmulator } from '../../emulator/firestore-emulator';

declare module 'vitest' {
  export interface ProvidedContext {
    firestoreEmulatorHost: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulator = await startFirestoreEmulator({ env: process.env });
  project.provide('firestoreEmulatorHost', emulator.host);
  return () => emulator.stop();
}
