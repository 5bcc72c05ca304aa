// Where crit's bytes come from and go to: stdin/stdout when no file is given
// (as upstream), atomic files otherwise, and a quiet end when stdout is closed.
import { readFileSync } from 'node:fs';
import { once } from 'node:events';

// the stream, not a flag: the startup snapshot runs commands at build time, and
// the process then starts with a new process.stdout
const quietOnEpipe = new WeakSet<NodeJS.WriteStream>();

/** A reader that went away (`crit decode ... | head`) is not an error. */
export function endQuietlyOnEpipe(): void {
  if (quietOnEpipe.has(process.stdout)) return;
  quietOnEpipe.add(process.stdout);
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

const BATCH = 1 << 16;

/**
 * Writes text or bytes to stdout, respecting back-pressure so memory stays
 * bounded. Short strings (an explorer's lines) go out together: one write per
 * 64 KiB instead of one system call per line.
 */
export async function toStdout(chunks: Iterable<string | Uint8Array>): Promise<void> {
  endQuietlyOnEpipe();
  const write = async (c: string | Uint8Array) => {
    if (!process.stdout.write(c)) await once(process.stdout, 'drain');
  };
  let batch = '';
  for (const c of chunks) {
    if (typeof c === 'string' && batch.length + c.length < BATCH) {
      batch += c;
      continue;
    }
    if (batch) await write(batch);
    batch = '';
    if (typeof c === 'string' && c.length < BATCH) batch = c;
    else await write(c);
  }
  if (batch) await write(batch);
}

/** Atomic file output (temporary file + rename), from the images library. */
export { writeFileAtomic as toFileAtomic } from '@ckpt/images';

/** All of stdin (a pipe or a redirected file). */
export function readStdin(): Buffer {
  return readFileSync(0);
}
