// The field types schema.mjs is written with (see generate.mjs for what each becomes).

/** a number; TypeScript gives a number or a bigint */
export const u64 = { t: 'u64' };
/** a signed number, sent as its 64-bit two's complement (C: uint64_t, cast where used) */
export const i64 = { t: 'u64', signed: true };
/** TypeScript boolean, 0 or 1 */
export const bool = { t: 'bool' };
/** UTF-8 without NUL; C: a malloc'ed NUL-terminated char * */
export const str = { t: 'str' };
/** a byte string; C: struct buf pointing into the plan. Checks: len (exact), max, multipleOf */
export const bytes = (o = {}) => ({ t: 'bytes', ...o });
/** n elements, no count on the wire; C: type name[n] */
export const fixed = (of, n) => ({ t: 'fixed', of, n });
/** a u64 count and that many elements; `of` is a type or a record name. Options: min, max; c and count
 *  (C member names, default name and nr_name); cap (C: a fixed array of that size, not a pointer);
 *  layout 'flat' (C: uint64_t *, the record's u64 fields one after the other) or 'soa' (C: one array per
 *  field, named prefix + field) */
export const array = (of, o = {}) => ({ t: 'array', of, ...o });
/** a position in another array: `table` is a field of this record, of the record that holds it, or of the
 *  plan. none: -1 (C: UINT64_MAX) allowed; before: below this record's own position in that table;
 *  kind: the element it names has that kind */
export const index = (table, o = {}) => ({ t: 'index', table, ...o });
/** the tag of a union: a value of enums[name] */
export const kind = (name) => ({ t: 'kind', enum: name });
/** per tag value (enum names), the fields that follow */
export const union = (on, cases) => ({ t: 'union', on, cases });
/** a union field kept, in TypeScript and C alike, in the record's positional `nums` array (in order of
 *  declaration; C also names it: kind.field); a trailing array of u64 takes the rest of nums */
export const num = (type) => ({ ...type, num: true });
