// Checks that make an edited image safe to write: it encodes (types, ranges,
// enum and flag names, IP addresses: the format library's checks, with the
// JSON path), nothing written was silently dropped (unknown keys), and
// socket addresses fit the socket's family.
import { decodeImage, encodeImage, ImageError, imageToJsonText, parseImageJson, type JsonForm } from '@ckpt/images';
import { pathText, type Step } from './path.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

/** Keys present in `wrote` but absent from `got` (what the encoder ignored), as paths. */
function dropped(wrote: unknown, got: unknown, at: Step[], out: string[]): void {
  if (isObj(wrote)) {
    for (const [k, v] of Object.entries(wrote)) {
      if (!isObj(got) || !(k in got)) {
        if (!(Array.isArray(v) && v.length === 0)) out.push(pathText([...at, k]));
      } else dropped(v, got[k], [...at, k], out);
    }
  } else if (Array.isArray(wrote) && Array.isArray(got)) {
    wrote.forEach((v, i) => dropped(v, got[i], [...at, i], out));
  }
}

const INET = 2;
const INET6 = 10;

/** Inet sockets whose addresses do not match their family (one u32 for IPv4, four for IPv6). */
function familyMismatch(image: Buffer): void {
  const doc = decodeImage(image);
  doc.entries.forEach((e, i) => {
    const isk = (e as Obj).isk as Obj | undefined;
    if (!isk) return;
    for (const key of ['src_addr', 'dst_addr']) {
      const words = isk[key] as unknown[] | undefined;
      if (!words?.length) continue;
      const fam = Number(isk.family);
      if ((fam === INET && words.length !== 1) || (fam === INET6 && words.length !== 4)) {
        throw new ImageError(`an ${fam === INET ? 'IPv4 (INET)' : 'IPv6 (INET6)'} socket needs an ${fam === INET ? 'IPv4' : 'IPv6'} address (change family too to switch)`, { path: `entries[${i}].isk.${key}` });
      }
    }
  });
}

/**
 * Encodes an edited document and proves it safe: returns the new image bytes
 * and the document as it will read back. Throws ImageError naming the JSON path.
 */
export function encodeChecked(doc: unknown, form: JsonForm): { image: Buffer; readBack: unknown } {
  const image = encodeImage(doc);
  const readBack = parseImageJson(imageToJsonText(image, form));
  refuseDropped(doc, readBack);
  familyMismatch(image);
  return { image, readBack };
}

/**
 * Refuses a document holding keys that are not in `readBack` (the image it
 * encoded to, read back: as JSON, or decoded, whose keys are the same), i.e.
 * keys the encoder ignored: a typo, or a field of a newer CRIU not in its
 * lossless "$unknown" form. Names the first by its JSON path.
 */
export function refuseDropped(doc: unknown, readBack: unknown, hint = ''): void {
  const lost: string[] = [];
  dropped(doc, readBack, [], lost);
  if (lost.length) throw new ImageError(`no such field in the schema (it would be dropped${hint})${lost.length > 1 ? `; also ${lost.slice(1).join(', ')}` : ''}`, { path: lost[0] });
}
