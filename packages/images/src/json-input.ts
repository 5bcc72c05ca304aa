// Reading CRIT JSON without losing 64-bit integers (JSON.parse would round them).
import { createRequire } from 'node:module';
import { ImageError } from './errors.js';

type LosslessJson = typeof import('lossless-json');
let lossless: LosslessJson | undefined;

const LONG_NUMBER = /\d{16}/;

/**
 * Parses JSON text; integers beyond 2^53 become bigint. Falls back to the
 * (much faster) built-in parser when the text has no long numbers.
 */
export function parseImageJson(text: string): unknown {
  try {
    if (!LONG_NUMBER.test(text)) return JSON.parse(text);
    lossless ??= createRequire(import.meta.url)('lossless-json') as LosslessJson;
    const { isInteger, parse } = lossless;
    return parse(text, null, (s: string) => {
      if (isInteger(s)) {
        const n = Number(s);
        return Number.isSafeInteger(n) ? n : BigInt(s);
      }
      return Number(s);
    });
  } catch (e) {
    throw new ImageError(`not valid JSON: ${(e as Error).message}`);
  }
}
