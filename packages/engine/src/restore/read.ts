// Reading a dump's images for the restore: through @ckpt/images only, every failure a RestoreError that
// names what needed the image.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, ImageError, imageFileName, type ImageDoc } from '@ckpt/images';

export class RestoreError extends Error {}

export const PAGE = 4096n;

type ImageId = number | bigint | string;

/** DIR's image STEM (with ID), named as CRIU names it: load(dir, 'files', what), load(dir, 'core', tid, what). */
export function load(dir: string, stem: string, what: string): { entries: any[] };
export function load(dir: string, stem: string, id: ImageId, what: string): { entries: any[] };
export function load(dir: string, stem: string, ...rest: [string] | [ImageId, string]): { entries: any[] } {
  const [id, what] = rest.length === 1 ? [undefined, rest[0]] : rest;
  const name = imageFileName(stem, id);
  const p = join(dir, name);
  if (!existsSync(p)) throw new RestoreError(`${what}: missing image ${name} in ${dir}`);
  try {
    return decodeImage(p) as ImageDoc & { entries: any[] };
  } catch (e) {
    const m = e instanceof ImageError ? e.message : (e as Error).message;
    throw new RestoreError(`${what}: corrupt image ${name}: ${m}`);
  }
}

/** Whether DIR has the image STEM (with ID). */
export function hasImage(dir: string, stem: string, id?: ImageId): boolean {
  return existsSync(join(dir, imageFileName(stem, id)));
}

/** A decoded number field as a number (d when absent). */
export const n = (v: unknown, d = 0): number => (v === undefined || v === null ? d : Number(v));
/** A decoded number field as a bigint (d when absent). */
export const b = (v: unknown, d = 0n): bigint => (v === undefined || v === null ? d : BigInt(v as any));
