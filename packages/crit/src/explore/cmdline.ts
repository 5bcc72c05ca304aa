// A task's argv and environment, read from its dumped memory between
// mm_arg_start/end and mm_env_start/end (FORMAT.md §6.5).
import { taskPages } from '@ckpt/images';
import type { ImageDir } from './imagedir.js';

export interface TaskStrings {
  argv: string[];
  env: string[];
  /** bytes of those areas that the dump does not hold (read as zeros) */
  missing: number;
}

function splitNul(b: Buffer): string[] {
  const parts = b.toString('utf8').split('\0');
  while (parts.length && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

export function taskStrings(dir: ImageDir, pid: number, pageSize = 4096): TaskStrings {
  const mm = dir.first('mm', pid);
  const pages = taskPages(dir.files, pid, { pageSize });
  try {
    const area = (start: unknown, end: unknown) => {
      const s = BigInt((start as bigint) ?? 0n);
      const e = BigInt((end as bigint) ?? 0n);
      return e > s && e - s < 1n << 24n ? pages.read(s, Number(e - s)) : { data: Buffer.alloc(0), missing: 0 };
    };
    const a = area(mm.mm_arg_start, mm.mm_arg_end);
    const e = area(mm.mm_env_start, mm.mm_env_end);
    return { argv: splitNul(a.data), env: splitNul(e.data), missing: a.missing + e.missing };
  } finally {
    pages.close();
  }
}
