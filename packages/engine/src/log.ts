// Leveled log in CRIU's spirit: -v N (0 none .. 4 debug), -o FILE (relative to the images dir).
// Errors always also go to stderr.
import { appendFileSync, writeFileSync } from 'node:fs';

export class Log {
  private start = process.hrtime.bigint();
  constructor(public level = 2, private file?: string) {
    if (file) writeFileSync(file, '');
  }
  private emit(lvl: number, tag: string, msg: string): void {
    if (lvl > this.level && lvl > 1) return;
    const t = Number(process.hrtime.bigint() - this.start) / 1e9;
    const line = `(${t.toFixed(6).padStart(12)}) ${tag}${msg}\n`;
    if (this.file && lvl <= this.level) appendFileSync(this.file, line);
    if (lvl <= 1 || (!this.file && lvl <= this.level)) process.stderr.write(line);
  }
  error(msg: string): void { this.emit(1, 'Error: ', msg); }
  warn(msg: string): void { this.emit(2, 'Warn: ', msg); }
  info(msg: string): void { this.emit(3, '', msg); }
  debug(msg: string): void { this.emit(4, '', msg); }
}

/** An error that names what failed (task, fd, resource) and carries the CLI exit code. */
export class DumpError extends Error {
  constructor(message: string, public readonly code = 1) {
    super(message);
  }
}

const size = (bytes: number, gib: boolean) => (gib ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`);

/**
 * How far a dump's copy of memory is, as one line on the terminal rewritten in
 * place and cleared once the task is done; undefined when the stream is not a
 * terminal (logs and pipes get no progress lines).
 */
export function memoryProgress(stream: NodeJS.WriteStream = process.stderr): ((p: { pid: number; done: number; total: number }) => void) | undefined {
  if (!stream.isTTY) return undefined;
  return ({ pid, done, total }) => {
    const gib = total >= 2 ** 30;
    stream.write(done >= total ? '\r\x1b[K'
      : `\r\x1b[Kdumping memory of task ${pid}: ${size(done, gib)} of ${size(total, gib)} (${Math.floor((100 * done) / total)}%)`);
  };
}
