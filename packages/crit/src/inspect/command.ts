// `crit inspect ARCHIVE|DIR...`: a tree on stdout, or --json (a list, one
// object per checkpoint, as checkpointctl prints it).
import { toStdout } from '../io.js';
import { jsonText } from '../render/json.js';
import { makeStyle } from '../render/style.js';
import { inspect, type InspectOptions } from './collect.js';
import { inspectTree } from './tree.js';

export interface InspectArgs extends InspectOptions {
  paths: string[];
  all?: boolean;
  json?: boolean;
  color?: boolean;
}

export async function inspectCommand(a: InspectArgs): Promise<void> {
  const o: InspectOptions = a.all
    ? { psTree: true, psTreeCmd: true, psTreeEnv: true, files: true, sockets: true, mounts: true, stats: true, metadata: true, pid: a.pid, whatThereIs: true }
    : a;
  const results = a.paths.map((p) => inspect(p, o));
  await toStdout(a.json ? [jsonText(results)] : inspectTree(results, makeStyle({ color: a.color })));
}
