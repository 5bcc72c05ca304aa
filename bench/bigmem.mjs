// Shared set-up of bench/dump and bench/restore: the 512 MiB test program and
// the environment ckpt runs in.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** A work dir with bench/dump-bigmem.c compiled into it. */
export function bigmemProgram(name) {
  const work = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const prog = join(work, 'bigmem');
  execFileSync('gcc', ['-O2', '-o', prog, join(here, 'dump-bigmem.c')]);
  return { work, prog };
}

// Node reads NODE_EXTRA_CA_CERTS at start-up (~30-45 ms here) although ckpt makes no TLS connection:
// the sandbox sets it for every process, so ckpt runs without it (the benches say so when it was set)
export const ckptEnv = { ...process.env };
export const caNote = ckptEnv.NODE_EXTRA_CA_CERTS !== undefined;
delete ckptEnv.NODE_EXTRA_CA_CERTS;

export const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
