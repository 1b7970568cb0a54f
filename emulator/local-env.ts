/**
 * The environment `npm start` and `npm run token` use: the developer's variables, plus local
 * defaults for the project, the owner, the FlyEM secret and TEST_USER.
 */
export const LOCAL_DEFAULTS = {
  GOOGLE_CLOUD_PROJECT: 'demo-clio',
  OWNER: 'owner@demo.clio.local',
  // Only ever used with the emulator; production sets its own secret.
  FLYEM_SECRET: 'local-development-secret',
} as const;

export type EnvObject = Record<string, string | undefined>;

export function localEnv(env: EnvObject): EnvObject {
  const merged: EnvObject = { ...env };
  for (const [key, value] of Object.entries(LOCAL_DEFAULTS)) if (!merged[key]) merged[key] = value;
  // TEST_USER defaults to the owner so that the README's curl examples need no token;
  // an explicitly empty TEST_USER turns the switch off.
  if (env.TEST_USER === undefined) merged.TEST_USER = merged.OWNER;
  return merged;
}
