/**
 * `npm run deploy -- [--dry-run] [--project P] [--region R] [--env-vars-file F] [--only a,b]`:
 * one `gcloud functions deploy` per built function (gen2, nodejs22, HTTP, unauthenticated
 * invocations allowed because the API authenticates callers itself, and browsers' CORS preflights
 * carry no token). Run `npm run build` first. `--dry-run` prints the commands without running them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAMILIES } from '../functions/registry';
import type { Family } from '../shared/http/routes';
import { DEFAULT_REGION } from './firebase-json';

export interface DeployOptions {
  readonly project: string;
  readonly region: string;
  readonly envVarsFile: string;
}

export function deployCommand(family: Family, options: DeployOptions): string[] {
  return [
    'gcloud',
    'functions',
    'deploy',
    family.name,
    '--gen2',
    '--runtime=nodejs22',
    '--trigger-http',
    '--allow-unauthenticated',
    `--entry-point=${family.name}`,
    `--source=${join('dist', family.name)}`,
    `--region=${options.region}`,
    `--project=${options.project}`,
    `--env-vars-file=${options.envVarsFile}`,
    `--memory=${family.deploy?.memory ?? '512Mi'}`,
    `--timeout=${family.deploy?.timeoutSeconds ?? 60}s`,
  ];
}

function main(): void {
  const { values } = parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      project: { type: 'string' },
      region: { type: 'string' },
      'env-vars-file': { type: 'string', default: 'infra/env.yaml' },
      only: { type: 'string' },
    },
  });
  const dryRun = values['dry-run'];
  const project = values.project ?? process.env.GOOGLE_CLOUD_PROJECT;
  if (!project && !dryRun) fail('Give the Google Cloud project: --project <id> (or set GOOGLE_CLOUD_PROJECT).');
  const only = values.only?.split(',').map((name) => name.trim());
  const unknown = only?.filter((name) => !FAMILIES.some((family) => family.name === name)) ?? [];
  if (unknown.length > 0) fail(`Unknown function(s): ${unknown.join(', ')}. Known: ${FAMILIES.map((f) => f.name).join(', ')}`);
  const options: DeployOptions = {
    project: project ?? 'YOUR_PROJECT',
    region: values.region ?? process.env.DEPLOY_REGION ?? DEFAULT_REGION,
    envVarsFile: values['env-vars-file']!,
  };
  if (!dryRun && !existsSync(options.envVarsFile)) {
    fail(`No env vars file at ${options.envVarsFile}; create it (YAML, e.g. "FLYEM_SECRET: ...") or pass --env-vars-file.`);
  }
  for (const family of FAMILIES.filter((f) => !only || only.includes(f.name))) {
    const command = deployCommand(family, options);
    process.stdout.write(`${command.join(' ')}\n`);
    if (dryRun) continue;
    if (!existsSync(join('dist', family.name, 'index.js'))) fail(`dist/${family.name} is missing; run npm run build first.`);
    const result = spawnSync(command[0], command.slice(1), { stdio: 'inherit' });
    if (result.status !== 0) fail(`deploying ${family.name} failed (exit ${result.status ?? result.error?.message}).`);
  }
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

if (require.main === module) main();
