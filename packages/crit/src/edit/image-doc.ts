// An image loaded for editing: its bytes, and its JSON in the chosen form,
// refused up front when that JSON would not give back the same bytes.
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { encodeImage, ImageError, imageToJsonText, parseImageJson, type JsonForm } from '@ckpt/images';
import { archivePath } from '../archive/source.js';
import { toFileAtomic } from '../io.js';

export interface LoadedImage {
  file: string;
  bytes: Buffer;
  form: JsonForm;
  text: string;
  doc: unknown;
}

export function loadForEdit(file: string, form: JsonForm): LoadedImage {
  if (!existsSync(file) && archivePath(file)) {
    throw new ImageError('is inside a checkpoint archive, which crit only reads: extract the archive to change its images', { file });
  }
  const bytes = readFileSync(file);
  let text: string;
  try {
    text = imageToJsonText(bytes, form);
  } catch (e) {
    throw e instanceof ImageError ? e.at({ file }) : e;
  }
  const doc = parseImageJson(text);
  if (!encodeImage(doc).equals(bytes)) {
    throw new ImageError('this image does not re-encode to the same bytes (non-canonical encoding?), so it cannot be edited safely', { file });
  }
  return { file, bytes, form, text, doc };
}

/** Replaces the image file atomically, keeping its permissions. */
export function replaceImage(file: string, image: Buffer): void {
  const mode = statSync(file).mode & 0o7777;
  toFileAtomic(file, [image]);
  chmodSync(file, mode);
}
