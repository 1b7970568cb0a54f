/**
 * Request validation with valibot, reported as FastAPI does: 422 with
 * `{"detail":[{"loc":["body"|"query"|"path", ...],"msg":"...","type":"..."}]}`.
 * Also the query-string building blocks that accept FastAPI's spellings.
 */
import * as v from 'valibot';
import { ValidationError, type ValidationIssue } from '../errors';
import type { AnySchema } from './routes';

export type Source = 'path' | 'query' | 'body';

/**
 * Validates each present part of a request against its schema (a part without a schema passes
 * unchanged); throws one ValidationError listing the issues of all parts together.
 */
export function validateParts<K extends string>(parts: Record<K, [AnySchema | undefined, unknown, Source]>): Record<K, unknown> {
  const issues: ValidationIssue[] = [];
  const output = {} as Record<K, unknown>;
  for (const key of Object.keys(parts) as K[]) {
    const [schema, value, source] = parts[key];
    if (!schema) {
      output[key] = value;
      continue;
    }
    const result = v.safeParse(schema, value, { abortEarly: false });
    if (result.success) output[key] = result.output;
    else issues.push(...result.issues.map((issue) => toFastApiIssue(issue, source)));
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return output;
}

function toFastApiIssue(issue: v.BaseIssue<unknown>, source: Source): ValidationIssue {
  const loc: (string | number)[] = [source, ...(issue.path ?? []).map((item) => item.key as string | number)];
  if (issue.received === 'undefined') return { loc, msg: 'field required', type: 'value_error.missing' };
  const kind = issue.kind === 'schema' ? 'type_error' : 'value_error';
  return { loc, msg: issue.message, type: `${kind}.${issue.type}` };
}

/** The 422 of a body that is absent or not JSON. */
export function bodyIssue(msg: string, type: string): ValidationError {
  return new ValidationError([{ loc: ['body'], msg, type }]);
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

/** A boolean query parameter (true/false/1/0/yes/no/on/off, any case). */
export function queryBool(defaultValue: boolean) {
  return v.optional(
    v.pipe(
      v.string(),
      v.toLowerCase(),
      v.picklist([...TRUE_WORDS, ...FALSE_WORDS], 'value could not be parsed to a boolean'),
      v.transform((word) => TRUE_WORDS.includes(word)),
    ),
    defaultValue ? 'true' : 'false',
  );
}

/** An integer query or path parameter; rejects "1.5". */
export const integerParam = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^[-+]?\d+$/, 'value is not a valid integer'),
  v.transform(Number),
  v.safeInteger('value is out of range'),
);

/** Comma list → array of trimmed, non-empty items. */
export function commaList(defaultValue = '') {
  return v.pipe(
    v.optional(v.string(), defaultValue),
    v.transform((text) => text.split(',').map((item) => item.trim()).filter(Boolean)),
  );
}

/** A JSON object (valibot's object and record schemas also accept arrays). */
export const jsonObject = v.custom<Record<string, unknown>>(
  (input) => typeof input === 'object' && input !== null && !Array.isArray(input),
  'value is not a JSON object',
);
