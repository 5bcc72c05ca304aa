// One error type for everything the format layer refuses, carrying where.

export interface ErrorPlace {
  /** the image file (or "<stdin>") */
  file?: string;
  /** index of the entry in the image (0-based) */
  entry?: number;
  /** byte offset in the file where the offending item starts */
  offset?: number;
  /** JSON path of the offending value when encoding, e.g. entries[3].vmas[0].start */
  path?: string;
}

export class ImageError extends Error {
  constructor(message: string, public place: ErrorPlace = {}) {
    super(message);
    this.name = 'ImageError';
  }

  /** Adds place information that an outer layer knows (does not overwrite). */
  at(place: ErrorPlace): this {
    this.place = { ...place, ...this.place };
    return this;
  }

  /** "file: entry 3 at offset 120: message" (one line). */
  describe(): string {
    const p = this.place;
    const where: string[] = [];
    if (p.file) where.push(p.file);
    const loc: string[] = [];
    if (p.entry !== undefined) loc.push(`entry ${p.entry}`);
    if (p.offset !== undefined) loc.push(p.entry !== undefined ? `at offset ${p.offset}` : `offset ${p.offset}`);
    if (p.path) loc.push(`at ${p.path}`);
    if (loc.length) where.push(loc.join(' '));
    return [...where, this.message].join(': ');
  }
}
