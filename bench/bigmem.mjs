// Shared set-up of bench/dump and bench/restore: the 512 MiB test program and
// the environment ckpt runs in.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** A work dir with test/engine/progs/bigmem.c compiled into it. */
export function bigmemProgram(name) {
  const work = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const prog = join(work, 'bigmem');
  execFileSync('gcc', ['-O2', '-o', prog, join(here, '../test/engine/progs/bigmem.c')]);
  return { work, prog };
}

export const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
