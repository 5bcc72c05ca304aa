// Where crit's bytes come from and go to: stdin/stdout when no file is given
// (as upstream), atomic files otherwise, and a quiet end when stdout is closed.
import { once } from 'node:events';
import { writeFileAtomic } from '@ckpt/images';

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

/**
 * Atomic file output (temporary file + rename), from the images library. An
 * error names the output file, also when the system call had no path (a write
 * that found the disk full).
 */
export function toFileAtomic(path: string, data: Iterable<string | Uint8Array>): void {
  try {
    writeFileAtomic(path, data);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code && !err.path) err.path = path;
    throw err;
  }
}

/**
 * All of stdin (a pipe, a socket or a redirected file). Read through the
 * stream, not readFileSync(0): importing node:process (chalk does) opens
 * process.stdin, which makes a pipe non-blocking, and a slow writer then made
 * a synchronous read fail with EAGAIN.
 */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
