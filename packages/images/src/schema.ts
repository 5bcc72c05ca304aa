// The CRIU image schema, as compiled from proto/ by scripts/build-schema.mjs,
// turned into per-message plans that the codecs walk.
import { readFileSync } from 'node:fs';

/** Scalar wire kinds, named as in .proto files. */
export type ScalarKind =
  | 'double' | 'float' | 'int32' | 'int64' | 'uint32' | 'uint64' | 'sint32' | 'sint64'
  | 'fixed32' | 'fixed64' | 'sfixed32' | 'sfixed64' | 'bool' | 'string' | 'bytes';

/** CRIU's custom field options (proto/opts.proto), which drive CRIT's human forms. */
export interface CriuOptions {
  hex?: boolean;
  ipadd?: boolean;
  flags?: string;
  dev?: boolean;
  odev?: boolean;
  dict?: string;
  conv?: string;
}

export interface FieldPlan {
  name: string;
  id: number;
  /** scalar kind, or 'enum' / 'message' */
  kind: ScalarKind | 'enum' | 'message';
  repeated: boolean;
  required: boolean;
  /** 64-bit integer kinds decode to bigint */
  wide: boolean;
  opts: CriuOptions;
  enumPlan?: EnumPlan;
  /** the message type of a message field (plans are looked up lazily: types can be recursive) */
  msgName?: string;
}

export interface EnumPlan {
  name: string;
  byNumber: Map<number, string>;
  byName: Map<string, number>;
}

export interface MessagePlan {
  name: string;
  /** fields in ascending field-number order (the order on the wire and in JSON) */
  fields: FieldPlan[];
  byId: Map<number, FieldPlan>;
  byName: Map<string, FieldPlan>;
}

interface CompiledField {
  name: string;
  id: number;
  type: string;
  ref?: string;
  rule: 'required' | 'optional' | 'repeated';
  opts?: CriuOptions;
}

interface Compiled {
  messages: Record<string, CompiledField[]>;
  enums: Record<string, Record<string, number>>;
}

const WIDE = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

let compiled: Compiled | undefined;
const plans = new Map<string, MessagePlan>();
const enums = new Map<string, EnumPlan>();

function schema(): Compiled {
  compiled ??= JSON.parse(readFileSync(new URL('./schema.json', import.meta.url), 'utf8')) as Compiled;
  return compiled;
}

function enumPlan(name: string): EnumPlan {
  let p = enums.get(name);
  if (!p) {
    p = { name: name.split('.').pop()!, byNumber: new Map(), byName: new Map() };
    for (const [k, n] of Object.entries(schema().enums[name])) {
      if (!p.byNumber.has(n)) p.byNumber.set(n, k);
      p.byName.set(k, n);
    }
    enums.set(name, p);
  }
  return p;
}

/** The plan of a message type by its name as in the .proto files (nested: "outer.inner"). */
export function messagePlan(name: string): MessagePlan {
  const cached = plans.get(name);
  if (cached) return cached;
  const fields = schema().messages[name];
  if (!fields) throw new Error(`no message ${name} in the schema`);
  const plan: MessagePlan = { name: name.split('.').pop()!, fields: [], byId: new Map(), byName: new Map() };
  for (const f of fields) {
    const fp: FieldPlan = {
      name: f.name,
      id: f.id,
      kind: f.type as FieldPlan['kind'],
      repeated: f.rule === 'repeated',
      required: f.rule === 'required',
      wide: WIDE.has(f.type),
      opts: f.opts ?? {},
    };
    if (f.type === 'enum') fp.enumPlan = enumPlan(f.ref!);
    if (f.type === 'message') fp.msgName = f.ref;
    plan.fields.push(fp);
    plan.byId.set(fp.id, fp);
    plan.byName.set(fp.name, fp);
  }
  plans.set(name, plan);
  return plan;
}

/** Whether the schema has a message of that name. */
export function hasMessage(name: string): boolean {
  return name in schema().messages;
}

/** Every message type name in the schema. */
export function messageNames(): string[] {
  return Object.keys(schema().messages);
}

/** Every enum of the schema with its values. */
export function enumValues(name: string): Record<string, number> | undefined {
  return schema().enums[name];
}
