/**
 * The front door and the deploy script: the generated URL map sends every route to its family's
 * function under the load balancer's own path matching; the Terraform configuration holds the
 * same and references only what it declares; the deploy's dry run is the script a real run
 * executes, step for step (checked against a stand-in gcloud that records its calls).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAMILIES } from '../functions/registry';
import { type Family, mountedPaths, route } from '../shared/http/routes';
import { secretsOf } from './deploy';
import { DEFAULT_FUNCTION, NAMES, pathRules, TERRAFORM_FILE, terraformConfig, terraformText, urlMap } from './front-door';
import { rewriteTable } from './rewrites';

const OPTIONS = { project: 'demo-project', region: 'us-east4', domain: 'clio-store.example.org', urlPrefix: '' };

type UrlMap = ReturnType<typeof urlMap>;

/**
 * The load balancer's path matching: a rule path ending in `/*` matches everything below its
 * prefix, any other matches exactly; the longest matching path wins; otherwise the matcher's
 * default. Query strings are not part of the match. Answers the services of the winning paths.
 */
function servicesFor(map: UrlMap, path: string): string[] {
  const pathOnly = path.split('?')[0];
  let best = -1;
  let services: string[] = [];
  for (const rule of map.pathMatchers[0].pathRules) {
    for (const pattern of rule.paths) {
      const matches = pattern.endsWith('/*') ? pathOnly.startsWith(pattern.slice(0, -1)) : pathOnly === pattern;
      if (!matches) continue;
      if (pattern.length > best) [best, services] = [pattern.length, [rule.service]];
      else if (pattern.length === best) services.push(rule.service);
    }
  }
  return best < 0 ? [map.pathMatchers[0].defaultService] : services;
}

const backendOf = (fn: string) => `https://www.googleapis.com/compute/v1/projects/${OPTIONS.project}/global/backendServices/${NAMES.backend(fn)}`;
const concrete = (path: string) => (path.replace(/:[^/]+/g, 'x1').replace(/\*[^/]+/g, 'a/b') || '/');

function expectEveryRouteRouted(families: readonly Family[], urlPrefix: string): number {
  const map = urlMap(families, { ...OPTIONS, urlPrefix });
  let checked = 0;
  for (const family of families) {
    for (const r of family.routes) {
      for (const mounted of mountedPaths(r)) {
        const path = `${urlPrefix}${concrete(mounted)}`;
        for (const variant of new Set([path, path.endsWith('/') ? path : `${path}/`, `${path}?app=clio-py`])) {
          expect(servicesFor(map, variant), `${r.method} ${variant}`).toEqual([backendOf(family.name)]);
          checked += 1;
        }
      }
    }
  }
  return checked;
}

describe('the URL map', () => {
  it('sends every mounted path of every route, with and without a trailing slash, to exactly its own function', () => {
    expect(expectEveryRouteRouted(FAMILIES, '')).toBeGreaterThan(300);
  });

  it('does the same under URL_PREFIX, and sends paths outside the prefix to the default function (which answers 404)', () => {
    expectEveryRouteRouted(FAMILIES, '/clio');
    const map = urlMap(FAMILIES, { ...OPTIONS, urlPrefix: '/clio' });
    expect(servicesFor(map, '/v2/datasets')).toEqual([backendOf(DEFAULT_FUNCTION)]);
    expect(servicesFor(map, '/clio')).toEqual([backendOf('docs')]);
  });

  it('routes a route added to a family with no other edit', () => {
    const kv = FAMILIES.find((family) => family.name === 'kv')!;
    const added: Family = {
      ...kv,
      routes: [...kv.routes, route({ method: 'GET', path: '/kv-history/:scope', surfaces: ['v2', 'test'], summary: 'new', handler: async () => null })],
    };
    const families = FAMILIES.map((family) => (family === kv ? added : family));
    expectEveryRouteRouted(families, '');
    expect(servicesFor(urlMap(families, OPTIONS), '/test/kv-history/s')).toEqual([backendOf('kv')]);
    expect(JSON.stringify(terraformConfig(families, ''))).toContain('"/test/kv-history/*"');
  });

  it('has only paths the load balancer accepts, each claimed once, and the domain as its host', () => {
    const map = urlMap(FAMILIES, OPTIONS);
    const paths = map.pathMatchers[0].pathRules.flatMap((rule) => rule.paths);
    expect(new Set(paths).size).toBe(paths.length);
    for (const path of paths) expect(path, path).toMatch(/^\/([^*]*|[^*]*\/\*)$/);
    expect(map.hostRules).toEqual([{ hosts: [OPTIONS.domain], pathMatcher: 'api' }]);
    // Every function has a rule, so each one's backend is reachable.
    expect(new Set(map.pathMatchers[0].pathRules.map((rule) => rule.service))).toEqual(new Set(FAMILIES.map((family) => backendOf(family.name))));
  });
});

/** Every `${...}` reference in a Terraform JSON value. */
function references(value: unknown): string[] {
  if (typeof value === 'string') return [...value.matchAll(/\$\{([^}]+)\}/g)].map((match) => match[1]);
  if (Array.isArray(value)) return value.flatMap(references);
  if (value && typeof value === 'object') return Object.values(value).flatMap(references);
  return [];
}

describe('the Terraform configuration', () => {
  const committed = JSON.parse(readFileSync(TERRAFORM_FILE, 'utf8'));

  it('is what the route table generates (run `npm run front-door` after changing routes)', () => {
    expect(readFileSync(TERRAFORM_FILE, 'utf8')).toBe(terraformText());
  });

  it('references only variables and resources it declares', () => {
    const refs = references(committed.resource).concat(references(committed.provider), references(committed.output));
    expect(refs.length).toBeGreaterThan(40);
    for (const ref of refs) {
      const [kind, name, attribute] = ref.split('.');
      if (kind === 'var') expect(committed.variable, ref).toHaveProperty(name);
      else {
        expect(committed.resource[kind], ref).toBeDefined();
        expect(committed.resource[kind], ref).toHaveProperty(name);
        expect(['id', 'address'], ref).toContain(attribute);
      }
    }
  });

  it('names every function: a serverless NEG for its Cloud Run service, a backend, and its path rules', () => {
    const negs = Object.values(committed.resource.google_compute_region_network_endpoint_group) as { name: string; cloud_run: { service: string } }[];
    expect(negs.map((neg) => neg.cloud_run.service).sort()).toEqual(FAMILIES.map((family) => family.name).sort());
    const backends = Object.values(committed.resource.google_compute_backend_service) as { name: string; load_balancing_scheme: string }[];
    expect(backends.map((backend) => backend.name).sort()).toEqual(FAMILIES.map((family) => NAMES.backend(family.name)).sort());
    for (const backend of backends) expect(backend.load_balancing_scheme).toBe('EXTERNAL_MANAGED');
    const rules = committed.resource.google_compute_url_map.clio.path_matcher[0].path_rule as { paths: string[] }[];
    expect(rules.flatMap((rule) => rule.paths).sort()).toEqual(pathRules(rewriteTable(FAMILIES)).flatMap((rule) => rule.paths).sort());
  });
});

describe('deploy settings', () => {
  it('lets every function serve requests side by side, with at least one vCPU, within the platform limits', () => {
    for (const { name, deploy } of FAMILIES) {
      expect(deploy.concurrency, name).toBeGreaterThan(1);
      expect(deploy.cpu, name).toBeGreaterThanOrEqual(1);
      expect(deploy.timeoutSeconds, name).toBeLessThanOrEqual(3600);
      expect(deploy.memory, name).toMatch(/^\d+(Mi|Gi)$/);
      expect(deploy.why.length, name).toBeGreaterThan(20);
    }
  });

  it('gives the streaming functions time for a 200 MB answer to a slow client', () => {
    for (const name of ['json-annotations', 'volumes']) {
      expect(FAMILIES.find((family) => family.name === name)!.deploy.timeoutSeconds, name).toBe(3600);
    }
  });

  it('passes each function exactly the secrets it reads', () => {
    const secrets = Object.fromEntries(FAMILIES.map((family) => [family.name, secretsOf(family)]));
    expect(secrets.neuprint).toEqual(['FLYEM_SECRET', 'NEUPRINT_APPLICATION_CREDENTIALS']);
    expect(secrets.datasets).toEqual(['FLYEM_SECRET']);
    expect(secrets.docs).toEqual([]);
    for (const [name, list] of Object.entries(secrets)) if (name !== 'neuprint') expect(list, name).not.toContain('NEUPRINT_APPLICATION_CREDENTIALS');
  });
});

/** A gcloud stand-in: records every call; `describe` succeeds only for what it created (or was told exists). */
function fakeGcloud(existing: readonly string[]): { bin: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fake-gcloud-'));
  const log = join(dir, 'calls.log');
  const state = join(dir, 'state');
  writeFileSync(state, existing.map((name) => `${name}\n`).join(''));
  writeFileSync(log, '');
  writeFileSync(
    join(dir, 'gcloud'),
    `#!/usr/bin/env bash
echo "$*" >> '${log}'
args=("$@")
for i in "\${!args[@]}"; do
  case "\${args[$i]}" in
    describe) grep -qxF "\${args[$((i + 1))]}" '${state}'; exit $? ;;
    create) echo "\${args[$((i + 1))]}" >> '${state}'; exit 0 ;;
  esac
done
exit 0
`,
  );
  chmodSync(join(dir, 'gcloud'), 0o755);
  return { bin: dir, log };
}

const deploy = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'infra/deploy.ts', ...args], { encoding: 'utf8', env, cwd: join(__dirname, '..') });

describe('npm run deploy', () => {
  const args = ['--project', 'demo-project', '--domain', 'clio-store.example.org'];

  it('prints, with --dry-run, every function and the whole front door as a valid shell script, and runs nothing', () => {
    const gcloud = fakeGcloud([]);
    const result = deploy(['--dry-run', ...args], { ...process.env, PATH: `${gcloud.bin}:${process.env.PATH}` });
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(gcloud.log, 'utf8')).toBe('');
    expect(spawnSync('bash', ['-n'], { input: result.stdout }).status).toBe(0);
    const script = result.stdout;
    for (const family of FAMILIES) {
      const { memory, cpu, timeoutSeconds, concurrency } = family.deploy;
      const line = script.split('\n').find((text) => text.startsWith(`gcloud functions deploy ${family.name} `))!;
      expect(line, family.name).toBeDefined();
      for (const part of [`--memory=${memory}`, `--cpu=${cpu}`, `--timeout=${timeoutSeconds}s`, `--concurrency=${concurrency}`, '--ingress-settings=internal-and-gclb', '--project=demo-project']) {
        expect(line, `${family.name} ${part}`).toContain(part);
      }
      const secrets = secretsOf(family);
      if (secrets.length > 0) expect(line).toContain(`--set-secrets=${secrets.map((name) => `${name}=${name}:latest`).join(',')}`);
      else expect(line).not.toContain('--set-secrets');
      expect(script).toContain(`--cloud-run-service=${family.name}`);
      expect(script).toContain(`backend-services create ${NAMES.backend(family.name)} `);
    }
    expect(script).toContain('gcloud compute url-maps import clio-url-map');
    expect(script).toContain('ssl-certificates create clio-cert-clio-store-example-org --domains=clio-store.example.org');
    expect(script).toContain('--target-https-proxy=clio-https-proxy --ports=443');
    expect(script).toContain('"hosts": [\n        "clio-store.example.org"');
  });

  it('does, when run, exactly what its dry run prints, creating what is missing and only updating what exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-'));
    const envFile = join(dir, 'env.yaml');
    writeFileSync(envFile, 'OWNER: admin@example.org\n');
    const secrets = ['FLYEM_SECRET', 'NEUPRINT_APPLICATION_CREDENTIALS'];
    const scripted = fakeGcloud(secrets);
    const dry = deploy(['--dry-run', ...args, '--env-vars-file', envFile]);
    const asScript = spawnSync('bash', [], { input: dry.stdout, env: { ...process.env, PATH: `${scripted.bin}:${process.env.PATH}` }, cwd: dir });
    expect(asScript.status, asScript.stderr?.toString()).toBe(0);
    const run = fakeGcloud(secrets);
    const real = deploy([...args, '--env-vars-file', envFile], { ...process.env, PATH: `${run.bin}:${process.env.PATH}` });
    expect(real.status, real.stderr).toBe(0);
    const calls = readFileSync(run.log, 'utf8');
    expect(calls).toBe(readFileSync(scripted.log, 'utf8'));
    expect(calls).toMatch(/^compute addresses create clio-ip /m);

    // A second run finds everything and creates nothing.
    const again = deploy([...args, '--env-vars-file', envFile], { ...process.env, PATH: `${run.bin}:${process.env.PATH}` });
    expect(again.status, again.stderr).toBe(0);
    const second = readFileSync(run.log, 'utf8').slice(calls.length);
    expect(second).not.toMatch(/ create /);
    expect(second).toMatch(/^compute target-https-proxies update clio-https-proxy /m);
  });

  it('stops before deploying anything when a secret is missing from Secret Manager', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-'));
    const envFile = join(dir, 'env.yaml');
    writeFileSync(envFile, 'OWNER: admin@example.org\n');
    const gcloud = fakeGcloud(['FLYEM_SECRET']);
    const result = deploy([...args, '--env-vars-file', envFile], { ...process.env, PATH: `${gcloud.bin}:${process.env.PATH}` });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Secret NEUPRINT_APPLICATION_CREDENTIALS does not exist in project demo-project');
    expect(readFileSync(gcloud.log, 'utf8')).not.toMatch(/functions deploy/);
  });

  it('refuses an env vars file that holds a secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-'));
    const envFile = join(dir, 'env.yaml');
    writeFileSync(envFile, 'OWNER: admin@example.org\nFLYEM_SECRET: "do-not-put-me-here"\n');
    const result = deploy(['--dry-run', ...args, '--env-vars-file', envFile]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/FLYEM_SECRET must not be in .*Secret Manager/);
  });

  it('needs a domain for the load balancer, and deploys with Hosting or no front door when asked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-'));
    const envFile = join(dir, 'env.yaml');
    writeFileSync(envFile, 'OWNER: admin@example.org\n');
    const noDomain = deploy(['--project', 'p', '--env-vars-file', envFile]);
    expect(noDomain.status).toBe(1);
    expect(noDomain.stderr).toMatch(/--domain/);
    const hosting = deploy(['--dry-run', '--project', 'p', '--front-door', 'hosting']);
    expect(hosting.status, hosting.stderr).toBe(0);
    expect(hosting.stdout).toContain('--ingress-settings=all');
    expect(hosting.stdout).toContain('npx firebase deploy --only hosting --project=p');
    expect(hosting.stdout).not.toContain('compute');
    const none = deploy(['--dry-run', '--project', 'p', '--front-door', 'none']);
    expect(none.stdout).not.toMatch(/compute|firebase/);
  });

  it('takes URL_PREFIX for the URL map from the env vars file the functions get', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deploy-'));
    const envFile = join(dir, 'env.yaml');
    writeFileSync(envFile, "URL_PREFIX: '/clio'\n");
    const result = deploy(['--dry-run', ...args, '--env-vars-file', envFile]);
    expect(result.stdout).toContain('"/clio/v2/datasets/*"');
    expect(result.stdout).not.toContain('"/v2/datasets/*"');
  });
});
