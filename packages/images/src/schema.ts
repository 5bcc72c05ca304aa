// The CRIU image schema, loaded once from the descriptor that the build compiles
// from proto/, and turned into flat per-message plans the codecs walk quickly.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

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
  /** set lazily: message plans can be recursive */
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

const WIDE = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

let root: protobuf.Root | undefined;
const plans = new Map<string, MessagePlan>();
const enums = new Map<string, EnumPlan>();

function loadRoot(): protobuf.Root {
  if (!root) {
    const require = createRequire(import.meta.url);
    const json = JSON.parse(readFileSync(require.resolve('./schema.json'), 'utf8'));
    root = protobuf.Root.fromJSON(json);
    root.resolveAll();
  }
  return root;
}

function enumPlan(e: protobuf.Enum): EnumPlan {
  const key = e.fullName;
  let p = enums.get(key);
  if (!p) {
    p = { name: e.name, byNumber: new Map(), byName: new Map() };
    for (const [name, num] of Object.entries(e.values)) {
      if (!p.byNumber.has(num)) p.byNumber.set(num, name);
      p.byName.set(name, num);
    }
    enums.set(key, p);
  }
  return p;
}

function criuOptions(field: protobuf.Field): CriuOptions {
  const o: Record<string, unknown> = field.options ?? {};
  const out: CriuOptions = {};
  for (const [k, v] of Object.entries(o)) {
    const m = /^\(criu\)\.(\w+)$/.exec(k);
    if (m) (out as Record<string, unknown>)[m[1]] = v;
  }
  return out;
}

/** The plan of a message type by its (unqualified, snake_case) name. */
export function messagePlan(name: string): MessagePlan {
  const cached = plans.get(name);
  if (cached) return cached;
  const type = loadRoot().lookupType(name);
  const plan: MessagePlan = { name: type.name, fields: [], byId: new Map(), byName: new Map() };
  plans.set(name, plan);
  for (const f of [...type.fieldsArray].sort((a, b) => a.id - b.id)) {
    f.resolve();
    const rt = f.resolvedType;
    const fp: FieldPlan = {
      name: f.name,
      id: f.id,
      kind: rt instanceof protobuf.Enum ? 'enum' : rt instanceof protobuf.Type ? 'message' : (f.type as ScalarKind),
      repeated: f.repeated,
      required: f.required,
      wide: WIDE.has(f.type),
      opts: criuOptions(f),
    };
    if (rt instanceof protobuf.Enum) fp.enumPlan = enumPlan(rt);
    if (rt instanceof protobuf.Type) fp.msgName = rt.fullName.replace(/^\./, '');
    plan.fields.push(fp);
    plan.byId.set(fp.id, fp);
    plan.byName.set(fp.name, fp);
  }
  return plan;
}

/** Whether the schema has a message of that name. */
export function hasMessage(name: string): boolean {
  try {
    loadRoot().lookupType(name);
    return true;
  } catch {
    return false;
  }
}

/** Every message type name in the schema (for tests and tools). */
export function messageNames(): string[] {
  const out: string[] = [];
  const walk = (ns: protobuf.NamespaceBase) => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Type) out.push(o.fullName.replace(/^\./, ''));
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o as protobuf.NamespaceBase);
    }
  };
  walk(loadRoot());
  return out;
}
