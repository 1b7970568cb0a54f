import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAMILIES } from '../functions/registry';
import { mountedPaths, Router } from '../shared/http/routes';
import { deployCommand } from './deploy';
import { FIREBASE_JSON, firebaseConfig } from './firebase-json';
import { functionFor, rewriteTable } from './rewrites';

/** A concrete request path for a mounted route pattern. */
const concrete = (path: string) => path.replace(/:[^/]+/g, 'x1').replace(/\*[^/]+/g, 'a/b');

describe('route table and rewrites', () => {
  const table = rewriteTable(FAMILIES);

  it('sends every route of every family to that family, whose router then matches it', () => {
    for (const family of FAMILIES) {
      const router = new Router(family.routes, '');
      for (const route of family.routes) {
        for (const path of mountedPaths(route)) {
          const request = concrete(path);
          expect(functionFor(table, request), request).toBe(family.name);
          expect(functionFor(table, `${request}/`), `${request}/`).toBe(family.name);
          expect(router.match(route.method, request).route, `${route.method} ${request}`).toBe(route);
        }
      }
    }
  });

  it('has no rewrite without a route behind it', () => {
    for (const rewrite of table) {
      const family = FAMILIES.find((f) => f.name === rewrite.functionName)!;
      const served = family.routes.flatMap(mountedPaths).some((path) => path === rewrite.prefix || path.startsWith(`${rewrite.prefix}/`));
      expect(served, rewrite.prefix).toBe(true);
    }
  });

  it('is what the committed firebase.json rewrites (run `npm run firebase-json` after changing routes)', () => {
    const committed = JSON.parse(readFileSync(FIREBASE_JSON, 'utf8'));
    expect(committed).toEqual(firebaseConfig());
  });

  it('applies URL_PREFIX to every rewrite', () => {
    const prefixed = rewriteTable(FAMILIES, '/clio');
    expect(prefixed.every((rewrite) => rewrite.prefix.startsWith('/clio/'))).toBe(true);
    expect(functionFor(prefixed, '/clio/v2/datasets')).toBe('datasets');
    expect(functionFor(prefixed, '/v2/datasets')).toBeUndefined();
  });

  it('refuses two families claiming one path', () => {
    const clash = { name: 'other', routes: FAMILIES[0].routes };
    expect(() => rewriteTable([FAMILIES[0], clash])).toThrow(/claimed by both/);
  });
});

describe('deploy', () => {
  it('deploys each function as a gen2 nodejs22 HTTP function from its bundle', () => {
    const command = deployCommand(FAMILIES[0], { project: 'p', region: 'r', envVarsFile: 'e.yaml', frontDoor: 'lb' }).join(' ');
    for (const part of ['gcloud functions deploy', '--gen2', '--runtime=nodejs22', '--trigger-http', '--allow-unauthenticated', `--entry-point=${FAMILIES[0].name}`, `--source=dist/${FAMILIES[0].name}`, '--region=r', '--project=p', '--env-vars-file=e.yaml']) {
      expect(command).toContain(part);
    }
  });

  it('rejects an unknown function name', () => {
    const result = spawnSync('npx', ['tsx', 'infra/deploy.ts', '--dry-run', '--only', 'nope'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/Unknown function/);
  });
});
