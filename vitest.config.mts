import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['functions/**/*.test.ts', 'shared/**/*.test.ts', 'infra/**/*.test.ts', 'emulator/**/*.test.ts'],
    // One Firestore emulator for the whole run; every test file works in its own project id.
    globalSetup: ['shared/testing/global-setup.ts'],
    // After each file: no token or secret its tests used may appear in a log line or an error body.
    setupFiles: ['shared/testing/no-leaks.setup.ts'],
    env: { METADATA_SERVER_DETECTION: 'none' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
