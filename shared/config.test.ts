import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config';

const problemsOf = (env: Record<string, string>): readonly string[] => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('loadConfig', () => {
  it('has the original defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      urlPrefix: '',
      allowedOrigins: '*',
      owner: undefined,
      testUser: undefined,
      flyemSecret: undefined,
      authAudiences: [],
      subvolWidth: 256,
      firestoreApiUrl: 'https://firestore.googleapis.com',
      storageApiUrl: 'https://storage.googleapis.com',
      neuprintScheme: 'https',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses lists, lower-cases e-mails and trims values', () => {
    const config = loadConfig({
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
      AUTH_AUDIENCES: 'x.apps.googleusercontent.com,y',
      OWNER: ' Boss@Example.org ',
      URL_PREFIX: '/clio',
      CLIO_SUBVOL_WIDTH: '128',
      PORT: '9000',
    });
    expect(config.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.authAudiences).toEqual(['x.apps.googleusercontent.com', 'y']);
    expect(config.owner).toBe('boss@example.org');
    expect(config.urlPrefix).toBe('/clio');
    expect(config.subvolWidth).toBe(128);
    expect(config.port).toBe(9000);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({ URL_PREFIX: 'clio/', OWNER: 'nobody', PORT: 'eighty', SIG_BUCKET: 'gs://bucket', NEUPRINT_SCHEME: 'ftp' });
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/URL_PREFIX/);
    expect(problems.join('\n')).toMatch(/OWNER/);
    expect(problems.join('\n')).toMatch(/PORT/);
    expect(problems.join('\n')).toMatch(/SIG_BUCKET/);
    expect(problems.join('\n')).toMatch(/NEUPRINT_SCHEME/);
  });

  it('refuses TEST_USER unless the Firestore emulator is in use, and says why', () => {
    expect(problemsOf({ TEST_USER: 'dev@example.org' })).toEqual([expect.stringMatching(/only honoured on the Firestore emulator/)]);
    expect(loadConfig({ TEST_USER: 'Dev@Example.org', FIRESTORE_EMULATOR_HOST: '127.0.0.1:8181' }).testUser).toBe('dev@example.org');
    expect(loadConfig({ TEST_USER: '' }).testUser).toBeUndefined();
  });

  it('treats a * anywhere in ALLOWED_ORIGINS as any origin', () => {
    expect(loadConfig({ ALLOWED_ORIGINS: 'https://a.example,*' }).allowedOrigins).toBe('*');
  });
});

describe('loadConfig: authentication modes', () => {
  it('is legacy without DSG_URL (or with an empty one), DSG with it, and strips its trailing slash', () => {
    expect(loadConfig({})).toMatchObject({ authMode: 'legacy', dsg: undefined, ignoredSettings: [] });
    expect(loadConfig({ DSG_URL: '' }).authMode).toBe('legacy');
    expect(loadConfig({ DSG_URL: ' https://dsg.example.org/ ' })).toMatchObject({
      authMode: 'dsg',
      dsg: { url: 'https://dsg.example.org', timeoutMs: 10_000, cookieDomain: '.janelia.org', tokenMode: 'create_token' },
    });
    expect(loadConfig({ DSG_URL: 'http://127.0.0.1:9000/dsg', AUTH_MODE: 'hybrid' })).toMatchObject({ authMode: 'hybrid', dsg: { url: 'http://127.0.0.1:9000/dsg' } });
  });

  it('reads the DSG settings', () => {
    const config = loadConfig({ DSG_URL: 'https://dsg.example.org', DSG_TIMEOUT_MS: '2500', DSG_COOKIE_DOMAIN: '', DSG_TOKEN_MODE: 'long_lived' });
    expect(config.dsg).toEqual({ url: 'https://dsg.example.org', timeoutMs: 2500, cookieDomain: undefined, tokenMode: 'long_lived' });
    expect(loadConfig({ DSG_URL: 'https://dsg.example.org', DSG_COOKIE_DOMAIN: '.example.org' }).dsg?.cookieDomain).toBe('.example.org');
  });

  it('ignores the legacy-only settings in DSG mode (TEST_USER even off the emulator), and TEST_USER in hybrid mode', () => {
    const env = { FLYEM_SECRET: 's', TEST_USER: 'dev@example.org', NEUPRINT_APPLICATION_CREDENTIALS: 'n', DSG_URL: 'https://dsg.example.org' };
    expect(loadConfig(env)).toMatchObject({ flyemSecret: undefined, testUser: undefined, neuprintCredentials: undefined });
    expect(loadConfig(env).ignoredSettings).toEqual(['FLYEM_SECRET', 'TEST_USER', 'NEUPRINT_APPLICATION_CREDENTIALS']);
    const hybrid = loadConfig({ ...env, AUTH_MODE: 'hybrid' });
    expect(hybrid).toMatchObject({ flyemSecret: 's', testUser: undefined, neuprintCredentials: 'n', ignoredSettings: ['TEST_USER'] });
  });

  it('refuses to start with a bad DSG_URL, an unknown AUTH_MODE, or a mode that contradicts DSG_URL', () => {
    for (const bad of ['dsg.janelia.org', 'ftp://dsg.janelia.org', 'https://', 'https://dsg.org/?x=1']) {
      expect(problemsOf({ DSG_URL: bad }), bad).toEqual([expect.stringMatching(/DSG_URL must be an absolute http\(s\) URL/)]);
    }
    expect(problemsOf({ AUTH_MODE: 'both', DSG_URL: 'https://d.org' })).toEqual([expect.stringMatching(/AUTH_MODE must be legacy, dsg or hybrid/)]);
    expect(problemsOf({ AUTH_MODE: 'hybrid' })).toEqual(['AUTH_MODE=hybrid needs DSG_URL, the DatasetGateway\'s base URL']);
    expect(problemsOf({ AUTH_MODE: 'dsg', DSG_URL: '' })).toEqual(['AUTH_MODE=dsg needs DSG_URL, the DatasetGateway\'s base URL']);
    expect(problemsOf({ AUTH_MODE: 'legacy', DSG_URL: 'https://d.org' })).toEqual([expect.stringMatching(/AUTH_MODE=legacy contradicts DSG_URL/)]);
    expect(problemsOf({ DSG_URL: 'https://d.org', DSG_TIMEOUT_MS: '0', DSG_TOKEN_MODE: 'forever', DSG_COOKIE_DOMAIN: 'a b' })).toHaveLength(3);
  });
});
