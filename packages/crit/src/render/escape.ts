// Text from an image (comm, paths, argv, environment, socket names) is data:
// written raw to a terminal, a hostile image could send escape sequences, move
// the cursor or hide a line. Human output shows such characters escaped:
//   C0 controls and DEL as \xNN (a tab or newline too: one field, one line),
//   C1 controls and invisible reordering/separator characters as \uNNNN,
//   bytes that were not UTF-8 (kept by the images library as \udc80..\udcff) as \xNN.
// Printable text, backslashes included, is left as it is, so that names of
// ordinary dumps print exactly as upstream CRIT prints them.

// C0, DEL, C1; bidi embeddings/overrides/isolates, marks, line/paragraph separators; lone surrogates
const UNSAFE = /[\0-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]/;
const JSON_RAW = /[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

function escapeOne(c: string): string {
  const n = c.charCodeAt(0);
  if (n < 0x20 || n === 0x7f) return `\\x${hex2(n)}`;
  // a byte that was not UTF-8, as the images library keeps it
  if (n >= 0xdc80 && n <= 0xdcff) return `\\x${hex2(n - 0xdc00)}`;
  return `\\u${n.toString(16).padStart(4, '0')}`;
}

/** `s` with every character that could act on a terminal escaped (see above). */
export function safeText(s: string): string {
  // most names are clean: test once, replace only when needed
  if (!UNSAFE.test(s)) return s;
  // a valid surrogate pair is an ordinary character (emoji): keep it
  return s.replace(/[\ud800-\udbff][\udc00-\udfff]|[^]/g, (c) => (c.length === 2 || !UNSAFE.test(c) ? c : escapeOne(c)));
}

/** JSON text with the characters JSON.stringify leaves raw (DEL, C1, bidi, separators) as \u escapes: same value, safe on a terminal. */
export function safeJson(text: string): string {
  // JSON.stringify already escapes C0 controls and lone surrogates
  return text.replace(JSON_RAW, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
