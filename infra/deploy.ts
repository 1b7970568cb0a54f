/**
 * `npm run deploy -- [--dry-run] [--project P] [--region R] [--domain D] [--front-door lb|hosting|none]
 * [--env-vars-file F] [--url-prefix /p] [--only a,b]`: every built function (gen2, nodejs22, HTTP,
 * the settings its family declares, its secrets from Secret Manager), then the front door that
 * gives them one origin. Every step is idempotent, so a deploy can be repeated; `--dry-run`
 * prints the steps as the shell script that does exactly what a real run does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAMILIES } from '../functions/registry';
import { AUTHENTICATION_SECRET_ENV_VARS, SECRET_ENV_VARS } from '../shared/config';
import type { Family } from '../shared/http/routes';
import { DEFAULT_REGION } from './firebase-json';
import { frontDoorSteps } from './front-door';
import { runStep, type Step, stepAsShell, StepFailed } from './steps';

export type FrontDoor = 'lb' | 'hosting' | 'none';

export interface DeployOptions {
  readonly project: string;
  readonly region: string;
  readonly envVarsFile: string;
  readonly frontDoor: FrontDoor;
}

/**
 * The secrets a family's function reads: those of authentication when any route needs a token,
 * and those of the features its routes require. Each reaches the function from Secret Manager.
 */
export function secretsOf(family: Family): string[] {
  const authenticates = family.routes.some((route) => !route.public);
  const featureVariables = new Set(family.routes.flatMap((route) => route.requires ?? []).flatMap((feature) => feature.variables));
  return SECRET_ENV_VARS.filter(
    (name) => (authenticates && (AUTHENTICATION_SECRET_ENV_VARS as readonly string[]).includes(name)) || featureVariables.has(name),
  );
}

export function deployCommand(family: Family, options: DeployOptions): string[] {
  const { memory, cpu, timeoutSeconds, concurrency, minInstances } = family.deploy;
  const secrets = secretsOf(family);
  return [
    'gcloud',
    'functions',
    'deploy',
    family.name,
    '--gen2',
    '--runtime=nodejs22',
    '--trigger-http',
    // The API authenticates callers itself, and browsers' CORS preflights carry no token.
    '--allow-unauthenticated',
    // Behind the load balancer, nothing may bypass it through the function's own URL.
    `--ingress-settings=${options.frontDoor === 'lb' ? 'internal-and-gclb' : 'all'}`,
    `--entry-point=${family.name}`,
    `--source=${join('dist', family.name)}`,
    `--region=${options.region}`,
    `--project=${options.project}`,
    `--env-vars-file=${options.envVarsFile}`,
    ...(secrets.length > 0 ? [`--set-secrets=${secrets.map((name) => `${name}=${name}:latest`).join(',')}`] : []),
    `--memory=${memory}`,
    `--cpu=${cpu}`,
    `--timeout=${timeoutSeconds}s`,
    `--concurrency=${concurrency}`,
    `--min-instances=${minInstances ?? 0}`,
  ];
}

/** The variables an env vars file (YAML, one `NAME: value` per line) sets. */
export function envFileVariables(text: string): Map<string, string> {
  const variables = new Map<string, string>();
  for (const match of text.matchAll(/^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$/gm)) {
    variables.set(match[1], match[2].trim().replace(/^(['"])(.*)\1$/, '$2'));
  }
  return variables;
}

/** A check that a secret exists before any function that reads it is deployed. */
function secretCheck(name: string, project: string): Step {
  return {
    kind: 'require',
    describe: ['gcloud', 'secrets', 'describe', name, `--project=${project}`],
    missing:
      `Secret ${name} does not exist in project ${project}. Create it, then run the deploy again:\n` +
      `  printf %s "$VALUE" | gcloud secrets create ${name} --data-file=- --project=${project}`,
  };
}

export function deploySteps(families: readonly Family[], options: DeployOptions & { domain: string; urlPrefix: string }): Step[] {
  const secrets = [...new Set(families.flatMap(secretsOf))];
  const steps: Step[] = [
    ...secrets.map((name) => secretCheck(name, options.project)),
    ...families.map((family): Step => ({ kind: 'always', run: deployCommand(family, options) })),
  ];
  if (options.frontDoor === 'lb') steps.push(...frontDoorSteps(FAMILIES, options));
  if (options.frontDoor === 'hosting') steps.push({ kind: 'always', run: ['npx', 'firebase', 'deploy', '--only', 'hosting', `--project=${options.project}`] });
  return steps;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      project: { type: 'string' },
      region: { type: 'string' },
      domain: { type: 'string' },
      'front-door': { type: 'string', default: 'lb' },
      'env-vars-file': { type: 'string', default: 'infra/env.yaml' },
      'url-prefix': { type: 'string' },
      only: { type: 'string' },
    },
  });
  const dryRun = values['dry-run'];
  const project = values.project ?? process.env.GOOGLE_CLOUD_PROJECT;
  if (!project && !dryRun) fail('Give the Google Cloud project: --project <id> (or set GOOGLE_CLOUD_PROJECT).');
  const frontDoor = values['front-door'] as FrontDoor;
  if (!['lb', 'hosting', 'none'].includes(frontDoor)) fail(`--front-door must be lb (the default), hosting or none, not ${frontDoor}.`);
  if (frontDoor === 'lb' && !values.domain && !dryRun) fail('The load balancer needs the domain it serves: --domain clio-store.example.org (or --front-door hosting|none).');
  const only = values.only?.split(',').map((name) => name.trim());
  const unknown = only?.filter((name) => !FAMILIES.some((family) => family.name === name)) ?? [];
  if (unknown.length > 0) fail(`Unknown function(s): ${unknown.join(', ')}. Known: ${FAMILIES.map((f) => f.name).join(', ')}`);

  const envVarsFile = values['env-vars-file']!;
  const fileVariables = existsSync(envVarsFile) ? envFileVariables(readFileSync(envVarsFile, 'utf8')) : undefined;
  if (!fileVariables && !dryRun) fail(`No env vars file at ${envVarsFile}; create it (YAML, e.g. "OWNER: admin@example.org") or pass --env-vars-file.`);
  const leaked = SECRET_ENV_VARS.filter((name) => fileVariables?.has(name));
  if (leaked.length > 0) {
    fail(`${leaked.join(', ')} must not be in ${envVarsFile}: secrets come from Secret Manager. Remove them and create the secrets (see the README).`);
  }
  const steps = deploySteps(
    FAMILIES.filter((family) => !only || only.includes(family.name)),
    {
      project: project ?? 'YOUR_PROJECT',
      region: values.region ?? process.env.DEPLOY_REGION ?? DEFAULT_REGION,
      envVarsFile,
      frontDoor,
      domain: values.domain ?? 'clio-store.example.org',
      // The functions and the URL map must agree on the prefix; the env vars file is where the functions get theirs.
      urlPrefix: values['url-prefix'] ?? fileVariables?.get('URL_PREFIX') ?? '',
    },
  );
  if (dryRun) {
    process.stdout.write(`set -e\n${steps.map(stepAsShell).join('\n')}\n`);
    return;
  }
  for (const family of FAMILIES.filter((f) => !only || only.includes(f.name))) {
    if (!existsSync(join('dist', family.name, 'index.js'))) fail(`dist/${family.name} is missing; run npm run build first.`);
  }
  try {
    for (const step of steps) {
      process.stdout.write(`${stepAsShell(step)}\n`);
      runStep(step);
    }
  } catch (error) {
    if (error instanceof StepFailed) fail(error.message);
    throw error;
  }
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

if (require.main === module) main();
