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
