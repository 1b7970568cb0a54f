/**
 * JSON that keeps uint64 values exact. Neuron body ids go beyond 2^53, so an integer that a JS
 * number cannot hold is parsed as a bigint and written back as bare digits.
 */
import { isSafeNumber, parse as losslessParse, stringify as losslessStringify } from 'lossless-json';

// Only a run of 16 or more digits can be an integer beyond 2^53; anything else takes the fast path.
const LONG_DIGIT_RUN = /\d{16}/;

function toNumberOrBigInt(text: string): number | bigint {
  if (isSafeNumber(text)) return Number(text);
  return /^-?\d+$/.test(text) ? BigInt(text) : Number(text);
}

/** Parses JSON text; integers outside the safe range become bigints. Throws SyntaxError. */
export function parseJson(text: string): unknown {
  if (!LONG_DIGIT_RUN.test(text)) return JSON.parse(text);
  return losslessParse(text, null, toNumberOrBigInt);
}

/** Serialises a value; bigints are written as plain JSON numbers. */
export function stringifyJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    if (!(error instanceof TypeError) || !/BigInt/i.test(error.message)) throw error;
    return losslessStringify(value) ?? 'null';
  }
}
