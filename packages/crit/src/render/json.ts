// The --json output of crit's own commands: two-space indented, bigints as
// decimal numbers when safe, otherwise as strings (JSON numbers lose precision);
// characters that JSON leaves raw but a terminal acts on are \u-escaped.
import { safeJson } from './escape.js';

export function jsonText(value: unknown): string {
  return safeJson(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? (v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v.toString()) : v), 2)) + '\n';
}

/** An address as crit's reports write it: 0x + lowercase hex. */
export const hexAddr = (v: bigint | number): string => '0x' + v.toString(16);
