// Compiles proto/*.proto (the single source of the schema) with protobufjs into
// dist/schema.json: per message, its fields in field-number order with their
// kinds and CRIU options; per enum, its values. The library reads only this, so
// it neither parses .proto text nor builds reflection objects at every start.
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const protobuf = require('protobufjs');
const here = dirname(fileURLToPath(import.meta.url));
const protoDir = join(here, '../../../proto');
const outFile = join(here, '../dist/schema.json');

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => {
  if (target === 'google/protobuf/descriptor.proto') return require.resolve('protobufjs/google/protobuf/descriptor.proto');
  return isAbsolute(target) ? target : join(protoDir, target);
};
const files = readdirSync(protoDir).filter((f) => f.endsWith('.proto')).sort();
root.loadSync(files.map((f) => join(protoDir, f)), { keepCase: true });
root.resolveAll();

const name = (o) => o.fullName.replace(/^\./, '');
const messages = {};
const enums = {};
const walk = (ns) => {
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Enum) enums[name(o)] = o.values;
    if (o instanceof protobuf.Type) {
      messages[name(o)] = [...o.fieldsArray].sort((a, b) => a.id - b.id).map((f) => {
        const rt = f.resolvedType;
        const opts = {};
        for (const [k, v] of Object.entries(f.options ?? {})) {
          const m = /^\(criu\)\.(\w+)$/.exec(k);
          if (m) opts[m[1]] = v;
        }
        return {
          name: f.name,
          id: f.id,
          type: rt instanceof protobuf.Enum ? 'enum' : rt instanceof protobuf.Type ? 'message' : f.type,
          ref: rt ? name(rt) : undefined,
          rule: f.repeated ? 'repeated' : f.required ? 'required' : 'optional',
          opts: Object.keys(opts).length ? opts : undefined,
        };
      });
    }
    if (o.nestedArray && o.name !== 'google') walk(o);
  }
};
walk(root);
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify({ messages, enums }));
console.log(`schema: ${files.length} proto files, ${Object.keys(messages).length} messages, ${Object.keys(enums).length} enums -> ${outFile}`);
