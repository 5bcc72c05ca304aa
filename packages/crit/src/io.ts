// Where crit's bytes come from and go to: stdin/stdout when no file is given
// (as upstream), atomic files otherwise, and a quiet end when stdout is closed.
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';

let pipeClosedHandled = false;

/** A reader that went away (`crit decode ... | head`) is not an error. */
export function endQuietlyOnEpipe(): void {
  if (pipeClosedHandled) return;
  pipeClosedHandled = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

/** Writes text or bytes to stdout, respecting back-pressure so memory stays bounded. */
export async function toStdout(chunks: Iterable<string | Uint8Array>): Promise<void> {
  endQuietlyOnEpipe();
  for (const c of chunks) {
    if (!process.stdout.write(c)) await once(process.stdout, 'drain');
  }
}

/**
 * Writes chunks to a temporary file beside `path`, then renames it over `path`:
 * a failure half-way leaves neither a partial file nor a damaged original.
 */
export function toFileAtomic(path: string, chunks: Iterable<string | Uint8Array>): void {
  const tmp = join(dirname(path), `.${basename(path)}.crit-${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) writeSync(fd, typeof c === 'string' ? Buffer.from(c) : c);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* closed already */
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to remove */
    }
    throw e;
  }
}

/** All of stdin (a pipe or a redirected file). */
export function readStdin(): Buffer {
  return readFileSync(0);
}
