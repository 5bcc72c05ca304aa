// Locates ../shared/corpus (upstream CRIU 4.2 images + upstream CRIT outputs).
// Without it, tests that need it skip locally but FAIL under CI.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CORPUS = process.env.CORPUS_DIR ?? resolve(ROOT, '../shared/corpus');
export const CRIT = join(ROOT, 'node_modules/.bin/crit');

/** Options for node:test: skip (or, under CI, fail) when the corpus is absent. */
export function corpusOrSkip(t) {
  if (existsSync(CORPUS)) return true;
  if (process.env.CI) throw new Error(`corpus not found at ${CORPUS} (required under CI)`);
  t.skip(`corpus not found at ${CORPUS}`);
  return false;
}

export function cases() {
  if (!existsSync(CORPUS)) return [];
  return readdirSync(CORPUS).filter((c) => existsSync(join(CORPUS, c, 'ref')) && statSync(join(CORPUS, c)).isDirectory()).sort();
}

/** The image files of a case: everything but the program, logs and refs. */
export function images(caseName) {
  const dir = join(CORPUS, caseName);
  return readdirSync(dir).filter((f) => (f.endsWith('.img') || f.startsWith('stats-') || f === 'irmap-cache') && statSync(join(dir, f)).isFile()).sort();
}

export const isRaw = (f) => /^pages-\d+\.img$/.test(f);
