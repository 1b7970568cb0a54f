import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_VARS } from '../shared/config';
import { README, readmeWithGeneratedSections } from './readme';

const readme = readFileSync(README, 'utf8');

describe('README', () => {
  it('has the route table, deploy settings and Hosting limits of the code (run `npm run readme` after changing routes)', () => {
    expect(readme).toBe(readmeWithGeneratedSections(readme));
  });

  it('documents every environment variable the service reads', () => {
    for (const name of ENV_VARS) expect(readme, name).toContain(`\`${name}\``);
  });

  it('gives the two commands and the test command CI runs', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
    expect(readFileSync(`${__dirname}/../.ci/run`, 'utf8')).toMatch(/^npm test$/m);
  });
});
