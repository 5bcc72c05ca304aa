// The one place the engine turns image documents into files, through @ckpt/images (the format's
// single home). Written atomically (temp file + rename).
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { encodeImage } from '@ckpt/images';

export interface ImageDoc { magic: string; entries: any[] }

/** Writes DIR/NAME; returns its size in bytes. */
export function writeImage(dir: string, name: string, doc: ImageDoc): number {
  const buf = Buffer.from(encodeImage(doc as any));
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, buf);
  renameSync(tmp, path);
  return buf.length;
}
