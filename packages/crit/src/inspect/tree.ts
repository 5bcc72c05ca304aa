// `crit inspect` as a tree, drawn as checkpointctl draws it. Text from the
// checkpoint (names, paths, annotations) has its control characters escaped:
// a hostile archive must not drive the terminal.
import type { ChalkInstance } from 'chalk';
import type { InspectResult, ProcessNode } from './collect.js';
import { safeText as safe } from '../render/escape.js';

interface Node {
  text: string;
  kids: Node[];
}

const node = (text: string, kids: Node[] = []): Node => ({ text, kids });

/** sizes as checkpointctl prints them: 1024-based, one decimal */
export function byteSize(b: number): string {
  if (b < 1024) return `${b} B`;
  let div = 1024;
  let exp = 0;
  for (let n = Math.floor(b / 1024); n >= 1024; n = Math.floor(n / 1024)) {
    div *= 1024;
    exp++;
  }
  return `${(b / div).toFixed(1)} ${'KMGTPE'[exp]}iB`;
}

/** CRIU's stats times are microseconds */
export function duration(us: number): string {
  if (us < 1000) return `${us} µs`;
  if (us < 1e6) return `${+(us / 1000).toFixed(3)} ms`;
  return `${+(us / 1e6).toFixed(3)} s`;
}

function processNode(p: ProcessNode, style: ChalkInstance): Node {
  const state = p.task_state === 'alive' ? '' : ` (${p.task_state})`;
  const threads = p.threads > 1 ? style.dim(` ${p.threads} threads`) : '';
  const kids: Node[] = [];
  if (p.environment_variables?.length) kids.push(node('Environment variables', p.environment_variables.map((e) => node(safe(e)))));
  if (p.open_files?.length) kids.push(node('Open files', p.open_files.map((f) => node(`${style.cyan(`[${f.type} ${f.fd}]`)}  ${safe(f.path)}`))));
  if (p.open_sockets?.length) {
    kids.push(node('Open sockets', p.open_sockets.map((s) => node(
      `${style.cyan(`[${s.protocol}${s.state ? ` ${s.state}` : ''}]`)}  ${safe(s.local)} -> ${safe(s.remote)} (recv-q ${s.recv_q}, send-q ${s.send_q}, fd ${s.fd})`,
    ))));
  }
  for (const k of p.children ?? []) kids.push(processNode(k, style));
  return node(`${style.bold(`[${p.pid}${state}]`)}  ${safe(p.cmdline || p.command)}${threads}`, kids);
}

function build(r: InspectResult, style: ChalkInstance): Node {
  const kids: Node[] = [];
  const add = (label: string, v: string | undefined) => {
    if (v !== undefined && v !== '') kids.push(node(`${label}: ${safe(v)}`));
  };
  add('Image', r.image);
  add('ID', r.id);
  add('Runtime', r.runtime);
  add('Created', r.created);
  add('Checkpointed', r.checkpointed);
  add('Engine', r.engine);
  add('Pod', r.pod);
  add('Namespace', r.namespace);
  if (r.networks?.length) {
    kids.push(node('Network interfaces', r.networks.map((n) => node(`${safe(n.network)} (${safe(n.name)})`, [
      ...(n.ip ? [node(`IP: ${safe(n.ip)}`)] : []), ...(n.mac ? [node(`MAC: ${safe(n.mac)}`)] : []),
      ...(n.gateway ? [node(`Gateway: ${safe(n.gateway)}`)] : []),
    ]))));
  } else add('IP', r.ip);
  const size = r.checkpoint_size;
  kids.push(node(`Checkpoint size: ${byteSize(size.total_size)}`, [
    ...(size.memory_pages_size ? [node(`Memory pages size: ${byteSize(size.memory_pages_size)}`)] : []),
    ...(size.amd_gpu_memory_pages_size ? [node(`AMD GPU memory pages size: ${byteSize(size.amd_gpu_memory_pages_size)}`)] : []),
  ]));
  if (size.root_fs_diff_size) kids.push(node(`Root FS diff size: ${byteSize(size.root_fs_diff_size)}`));
  if (r.deleted_files) kids.push(node(`Deleted files: ${r.deleted_files}`));
  const s = r.statistics;
  if (s) {
    const t = (label: string, v: number | undefined) => (v === undefined ? [] : [node(`${label}: ${duration(v)}`)]);
    const n = (label: string, v: number | undefined) => (v === undefined ? [] : [node(`${label}: ${v}`)]);
    kids.push(node('CRIU dump statistics', [
      ...t('Freezing time', s.freezing_time), ...t('Frozen time', s.frozen_time), ...t('Memdump time', s.memdump_time),
      ...t('Memwrite time', s.memwrite_time), ...n('Pages scanned', s.pages_scanned), ...n('Pages written', s.pages_written),
    ]));
  }
  if (r.metadata) {
    const a = Object.entries(r.metadata.annotations).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    kids.push(node('Metadata', a.length ? [node('Annotations', a.map(([k, v]) => node(`${safe(k)}: ${safe(v)}`)))] : [node('no annotations')]));
  }
  if (r.process_tree) kids.push(node('Process tree', r.process_tree.map((p) => processNode(p, style))));
  if (r.mounts) {
    kids.push(node('Overview of mounts', r.mounts.map((m) => node(`Destination: ${safe(m.destination)}`, [
      node(`Type: ${safe(m.type)}`), node(`Source: ${safe(m.source)}`),
    ]))));
  }
  return node(style.bold(safe(r.container_name || 'Container')), kids);
}

function* lines(n: Node, indent: string): Generator<string> {
  for (let i = 0; i < n.kids.length; i++) {
    const last = i === n.kids.length - 1;
    yield `${indent}${last ? '└── ' : '├── '}${n.kids[i].text}\n`;
    yield* lines(n.kids[i], indent + (last ? '    ' : '│   '));
  }
}

export function* inspectTree(results: InspectResult[], style: ChalkInstance): Generator<string> {
  for (const [i, r] of results.entries()) {
    if (i) yield '\n';
    yield `Displaying container checkpoint tree view from ${safe(r.path)}\n\n`;
    const root = build(r, style);
    yield `${root.text}\n`;
    yield* lines(root, '');
  }
}
