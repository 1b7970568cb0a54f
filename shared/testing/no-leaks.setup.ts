/**
 * vitest setup file: after each test file, no token or secret its tests presented may appear in
 * any log line or error body the services wrote (shared/testing/secret-watch.ts).
 */
import { afterAll, expect } from 'vitest';
import { leaks } from './secret-watch';

afterAll(() => {
  expect(leaks(), 'credentials leaked into logs or error bodies').toEqual([]);
});
