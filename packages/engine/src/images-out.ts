// The one place the engine turns image documents into files, through @ckpt/images (the format's
// single home). Written atomically (temp file + rename).
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { encodeImage, imageFileName } from '@ckpt/images';

export interface ImageDoc { magic: string; entries: any[] }

/**
 * Writes DIR/<the image STEM (with ID) as CRIU names it>; returns its size in bytes.
 *   writeImage(dir, 'files', doc) -> files.img;  writeImage(dir, 'core', 42, doc) -> core-42.img
 */
export function writeImage(dir: string, stem: string, doc: ImageDoc): number;
export function writeImage(dir: string, stem: string, id: number | bigint | string, doc: ImageDoc): number;
export function writeImage(dir: string, stem: string, ...rest: [ImageDoc] | [number | bigint | string, ImageDoc]): number {
  const [id, doc] = rest.length === 1 ? [undefined, rest[0]] : rest;
  const buf = Buffer.from(encodeImage(doc as any));
  const path = join(dir, imageFileName(stem, id));
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, buf);
  renameSync(tmp, path);
  return buf.length;
}
