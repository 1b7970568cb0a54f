/**
 * Deployment steps, each idempotent, and the two things done with them: printed as the shell
 * script that does exactly what a run does (`--dry-run`), or run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type Step =
  /** Runs every time (a deploy or an import that creates or replaces). */
  | { readonly kind: 'always'; readonly run: readonly string[] }
  /** `describe` tells whether the resource exists: `create` runs when it does not, `update` (if any) when it does. */
  | { readonly kind: 'ensure'; readonly describe: readonly string[]; readonly create: readonly (readonly string[])[]; readonly update?: readonly (readonly string[])[] }
  /** Stops the deploy with `missing` unless `describe` succeeds (what only the operator can create). */
  | { readonly kind: 'require'; readonly describe: readonly string[]; readonly missing: string }
  /** Writes a file a later step reads. */
  | { readonly kind: 'write'; readonly path: string; readonly content: string };

/** A word for a shell command line, quoted only when it needs to be. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const line = (command: readonly string[]) => command.map(shellWord).join(' ');

export function stepAsShell(step: Step): string {
  switch (step.kind) {
    case 'always':
      return line(step.run);
    case 'write':
      return `mkdir -p ${shellWord(dirname(step.path))} && cat > ${shellWord(step.path)} <<'JSON'\n${step.content}JSON`;
    case 'require':
      return `${line(step.describe)} >/dev/null 2>&1 || { echo ${shellWord(step.missing)} >&2; exit 1; }`;
    case 'ensure': {
      const exists = `${line(step.describe)} >/dev/null 2>&1`;
      const create = step.create.map(line).join(' && ');
      return step.update ? `if ${exists}; then ${step.update.map(line).join(' && ')}; else ${create}; fi` : `${exists} || { ${create}; }`;
    }
  }
}

export class StepFailed extends Error {}

const succeeds = (command: readonly string[]) => spawnSync(command[0], command.slice(1), { stdio: 'ignore' }).status === 0;

function run(command: readonly string[]): void {
  const result = spawnSync(command[0], command.slice(1), { stdio: 'inherit' });
  if (result.status !== 0) throw new StepFailed(`${command.slice(0, 4).join(' ')} failed (exit ${result.status ?? result.error?.message}).`);
}

/** Does what `stepAsShell(step)` says; throws StepFailed when a command fails or a requirement is missing. */
export function runStep(step: Step): void {
  switch (step.kind) {
    case 'always':
      return run(step.run);
    case 'write':
      mkdirSync(dirname(step.path), { recursive: true });
      return writeFileSync(step.path, step.content);
    case 'require':
      if (!succeeds(step.describe)) throw new StepFailed(step.missing);
      return;
    case 'ensure':
      return (succeeds(step.describe) ? (step.update ?? []) : step.create).forEach(run);
  }
}
