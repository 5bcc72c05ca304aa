// Compiles proto/*.proto (the single source of the schema) into one protobufjs
// JSON descriptor, so the library does not parse .proto text at every start.
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
const json = root.toJSON();
// google.protobuf and the (criu) extension only declare the options, which are
// already attached to each field in the descriptor.
delete json.nested.google;
delete json.nested.criu;
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify(json));
console.log(`schema: ${files.length} proto files -> ${outFile}`);
