// Cgroups as CRIU 4.2 dumps and restores them (criu/cgroup.c): each task's set of cgroups (one line of
// /proc/PID/cgroup per hierarchy) is a cg_set of cgroup.img, ckpt's own set the inventory's root_cg_set; every
// hierarchy a dumped set uses is walked from the set's path down, each directory with its permissions and the
// properties CRIU knows (cgroup-props.c). Nothing is written when every task is in ckpt's own cgroups.
// Restore (--manage-cgroups MODE, criu's default soft): missing directories are created (soft, full, strict)
// or refused (none, props); properties and permissions set as the mode says; each task whose set differs from
// its parent's joins its cgroups (the helper writes its cgroup.procs before it forks its children).
// A root task with a cgroup namespace of its own: each member's cgns_prefix is the part of its path that is
// the namespace's root (from the task's own view of its cgroups); the restored task joins those roots,
// unshares a cgroup namespace there and then joins its cgroups, as criu's prepare_cgns. Nested ones: ids.ts.
import { closeSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync, chownSync, openSync, fstatSync, fchmodSync, fchownSync } from 'node:fs';
import { native } from './native.js';
import { DumpError, type Log } from './log.js';
import { hasImage, load, n } from './restore/read.js';
import { nsInode } from './proc.js';

export const CG_MODES = ['none', 'props', 'soft', 'full', 'strict', 'ignore'] as const;
export type CgroupMode = (typeof CG_MODES)[number];

/** prefix: the length of path's part that is the root of the task's cgroup namespace (criu's cgns_prefix; 0: none) */
interface Ctl { name: string; path: string; prefix?: number }
interface Perms { mode: number; uid: number; gid: number }
interface Prop { name: string; value: string; perms: Perms }
interface Dir { path: string; perms: Perms; props: Prop[]; children: Dir[] }
interface Controller { cnames: string[]; heads: Dir[]; threaded: boolean }

/** criu's built-in cgroup-props.c list (controller -> properties, in the order they are written back) */
const PROPS: Record<string, string[]> = {
  cpu: ['cpu.shares', 'cpu.cfs_period_us', 'cpu.cfs_quota_us', 'cpu.rt_period_us', 'cpu.rt_runtime_us'],
  memory: ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.swappiness', 'memory.soft_limit_in_bytes',
    'memory.move_charge_at_immigrate', 'memory.oom_control', 'memory.use_hierarchy', 'memory.kmem.limit_in_bytes', 'memory.kmem.tcp.limit_in_bytes'],
  cpuset: ['cpuset.cpus', 'cpuset.mems', 'cpuset.memory_migrate', 'cpuset.cpu_exclusive', 'cpuset.mem_exclusive', 'cpuset.mem_hardwall',
    'cpuset.memory_spread_page', 'cpuset.memory_spread_slab', 'cpuset.sched_load_balance', 'cpuset.sched_relax_domain_level'],
  blkio: ['blkio.weight'], freezer: [], perf_event: [], net_cls: ['net_cls.classid'], net_prio: ['net_prio.ifpriomap'],
  pids: ['pids.max'], devices: ['devices.list'],
};
const GLOBAL_V1 = ['cgroup.clone_children', 'notify_on_release', 'cgroup.procs', 'tasks'];
const GLOBAL_V2 = ['cgroup.subtree_control', 'cgroup.max.descendants', 'cgroup.max.depth', 'cgroup.freeze', 'cgroup.type'];
/** written when the directory is created, before anything joins it (criu's special_props) */
const SPECIAL = ['cpuset.cpus', 'cpuset.mems', 'devices.list', 'memory.kmem.limit_in_bytes', 'memory.swappiness', 'memory.oom_control', 'memory.use_hierarchy', 'cgroup.type'];

/** /proc/.../cgroup lines -> controllers sorted by name (criu's parse_cgroup_file; sorted: false, in the file's
 * order), "" for the v2 hierarchy */
export function parseCgroupFile(text: string, sorted = true): Ctl[] {
  const out: Ctl[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const a = line.indexOf(':'), b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) throw new DumpError(`cannot parse cgroup line '${line}'`);
    out.push({ name: line.slice(a + 1, b), path: line.slice(b + 1) });
  }
  return sorted ? out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)) : out;
}

/** does a comma-separated controller list (a line of /proc/PID/cgroup) hold every one of cnames (criu's cgroup_contains) */
function contains(cnames: string[], name: string): boolean {
  if (cnames.length === 1 && cnames[0] === '') return name === '';
  const have = name.split(',');
  return cnames.length > 0 && cnames.every((c) => have.includes(c));
}

/** mount options of a hierarchy: "name=X" or its controllers */
function mountHierarchy(cnames: string[], what: string): number {
  const v2 = cnames.length === 1 && cnames[0] === '';
  const fd = native().mountCgroup(v2 ? 'cgroup2' : 'cgroup', v2 ? '' : cnames.join(','));
  if (fd < 0) throw new DumpError(`cannot mount the cgroup hierarchy ${cnames.join(',') || 'v2'} to ${what}: errno ${-fd}`);
  return fd;
}

function perms(path: string): Perms {
  const st = statSync(path);
  return { mode: st.mode, uid: st.uid, gid: st.gid };
}

/** criu's read_cgroup_prop: the value (first 1023 bytes, trailing newline cut; LLONG_MAX as -1), with permissions */
function readProp(name: string, file: string): Prop {
  const p = perms(file);
  if (name === 'cgroup.procs' || name === 'tasks') return { name, value: '', perms: p };
  let value = readFileSync(file).subarray(0, 1023).toString('latin1');
  // criu: strtoll() saturating at LLONG_MAX ("unlimited", or beyond) is written as -1
  const lead = /^\s*\+?(\d+)/.exec(value);
  if (lead && BigInt(lead[1]) >= (1n << 63n) - 1n) value = '-1';
  else value = value.replace(/\n$/, '');
  if (name === 'memory.oom_control') {
    const m = /^oom_kill_disable (\d+)/.exec(value);
    if (!m) throw new DumpError(`cannot read oom state from ${file}`);
    value = m[1];
  }
  return { name, value, perms: p };
}

export class CgroupDump {
  private sets: { id: number; ctls: Ctl[] }[] = [];
  private own: { id: number; ctls: Ctl[] };
  private rootSet = 0;
  private controllers: Controller[] = [];
  private ownCgns = nsInode(process.pid, 'cgroup');
  /** the root task has a cgroup namespace of its own: cgroup.img is written even if its set is ckpt's */
  private rootCgns = false;

  /** mode: the dump's --manage-cgroups (ignore: the sets only, no directories); roots: --cgroup-root [ctl:]/path */
  constructor(private mode: CgroupMode, private log: Log, private roots: { ctl?: string; root: string }[] = []) {
    // criu's collect_controllers: the real controllers of our own /proc/self/cgroup, name= ones added when met
    const self = readFileSync('/proc/self/cgroup', 'latin1');
    for (const c of parseCgroupFile(self, false)) {
      const names = c.name.split(',').filter((n) => !n.startsWith('name='));
      if (names.length || c.name === '') this.controllers.push({ cnames: c.name === '' ? [''] : names, heads: [], threaded: false });
    }
    this.own = this.setOf(parseCgroupFile(self), false);
  }

  /** the cg_set of every thread of a task (cores: tid -> core entry); a thread outside its leader's set is refused */
  assign(pid: number, tids: number[], cores: Map<number, any>): void {
    let leaderSet = 0;
    const leaderNs = nsInode(pid, 'cgroup');
    for (const tid of [pid, ...tids.filter((t) => t !== pid)]) {
      let text: string;
      try { text = readFileSync(`/proc/${pid}/task/${tid}/cgroup`, 'latin1'); } catch (e) { throw new DumpError(`task ${pid}: cannot read the cgroups of thread ${tid}: ${(e as Error).message}`); }
      const ctls = parseCgroupFile(text);
      const ns = tid === pid ? leaderNs : nsInode(pid, `cgroup`, tid);
      if (ns !== leaderNs) throw new DumpError(`task ${pid}: thread ${tid} is in another cgroup namespace than its leader, which ckpt cannot restore`);
      if (ns !== this.ownCgns) this.setPrefixes(pid, tid, ctls);
      if (!this.rootSet && ns !== this.ownCgns) this.rootCgns = true;
      const set = this.setOf(ctls, true);
      if (!this.rootSet) this.rootSet = set.id;
      if (tid === pid) leaderSet = set.id;
      else if (set.id !== leaderSet) throw new DumpError(`task ${pid}: thread ${tid} is in other cgroups than its leader, which ckpt cannot restore yet`);
      const core = cores.get(tid);
      if (core?.thread_core) core.thread_core.cg_set = set.id;
    }
  }

  get ownSetId(): number { return this.own.id; }

  /**
   * criu's parse_thread_cgroup: the thread's own view of its cgroups (paths from its cgroup namespace's root)
   * is a suffix of ours; what comes before it is the namespace's root, the cgns prefix of each controller.
   */
  private setPrefixes(pid: number, tid: number, ctls: Ctl[]): void {
    const view = native().cgroupView(pid, tid);
    if (typeof view === 'number') throw new DumpError(`task ${pid}: cannot read thread ${tid}'s cgroups in its cgroup namespace: errno ${-view}`);
    for (const inner of parseCgroupFile(view)) {
      const c = ctls.find((x) => x.name === inner.name);
      if (!c || c.path === inner.path) continue;
      const tail = inner.path.slice(1);
      if (!c.path.endsWith(tail)) throw new DumpError(`task ${pid}: its cgroup ${inner.name || 'v2'}:${inner.path} is not inside its cgroup namespace (${c.path} to ckpt): cannot be restored`);
      let prefix = c.path.length - tail.length;
      if (c.path[prefix - 1] === '/') prefix--;
      c.prefix = prefix;
    }
  }

  private setOf(ctls: Ctl[], collect: boolean): { id: number; ctls: Ctl[] } {
    const same = this.sets.find((s) => s.ctls.length === ctls.length && s.ctls.every((c, i) => c.name === ctls[i].name && c.path === ctls[i].path && (c.prefix ?? 0) === (ctls[i].prefix ?? 0)));
    if (same) return same;
    const set = { id: this.sets.length + 1, ctls };
    this.sets.push(set);
    this.log.debug(`cgroups: set ${set.id}: ${ctls.map((c) => `${c.name}:${c.path}`).join(' ')}`);
    if (collect) this.collect(ctls);
    return set;
  }

  /** criu's collect_cgroups: each hierarchy of a new set walked from the set's path (or --cgroup-root) */
  private collect(ctls: Ctl[]): void {
    for (const cc of ctls) {
      let ctl = this.controllers.find((c) => contains(c.cnames, cc.name));
      if (!ctl) {
        if (!cc.name.startsWith('name=')) throw new DumpError(`cgroup controller ${cc.name} not found in ckpt's own cgroups`);
        ctl = { cnames: [cc.name], heads: [], threaded: false };
        this.controllers.push(ctl);
      }
      if (this.mode === 'ignore') continue;
      // a controller's own --cgroup-root, else the global one, else the set's path
      const root = (this.roots.find((r) => r.ctl === cc.name) ?? this.roots.find((r) => r.ctl === undefined))?.root ?? cc.path;
      const fd = mountHierarchy(ctl.cnames, `dump ${cc.name}:${cc.path}`);
      try {
        const base = `/proc/self/fd/${fd}`;
        if (!existsSync(base + root)) throw new DumpError(`cgroup ${cc.name || 'v2'}:${root} does not exist${root !== cc.path ? ' (--cgroup-root)' : ''}`);
        this.walk(ctl, base, root === '/' ? '' : root.replace(/\/$/, ''));
      } finally {
        closeSync(fd);
      }
    }
  }

  private walk(ctl: Controller, base: string, rel: string): void {
    const path = rel || '/';
    if (this.addDir(ctl, base + rel, path)) {
      for (const e of readdirSync(base + rel, { withFileTypes: true })) if (e.isDirectory()) this.walk(ctl, base, `${rel}/${e.name}`);
    }
  }

  /** criu's add_cgroup: a directory goes under the deepest one it is in, or becomes a head; one seen is skipped */
  private addDir(ctl: Controller, full: string, path: string): boolean {
    let list = ctl.heads;
    for (;;) {
      const d = list.find((x) => x.path === path || path.startsWith(x.path === '/' ? '/' : `${x.path}/`));
      if (!d) break;
      if (d.path === path) return true;
      list = d.children;
    }
    const dir: Dir = { path, perms: perms(full), props: [], children: [] };
    const v2 = ctl.cnames[0] === '';
    for (const name of [...ctl.cnames.flatMap((c) => PROPS[c] ?? []), ...(v2 ? GLOBAL_V2 : GLOBAL_V1)]) {
      const file = `${full}/${name}`;
      if (!existsSync(file)) continue;
      const p = readProp(name, file);
      if ((name === 'cgroup.type' && p.value === 'threaded') || name === 'tasks') ctl.threaded = true;
      dir.props.push(p);
    }
    list.push(dir);
    return true;
  }

  /** cgroup.img's entry, or undefined when every task is in ckpt's own cgroups (criu writes none then) */
  imageEntry(): any | undefined {
    if (this.rootSet === this.own.id && this.sets.length === 1 && !this.rootCgns) return undefined;
    const dirEntry = (d: Dir, parent: string | undefined): any => ({
      dir_name: parent === undefined ? d.path.slice(1) : d.path.slice(parent === '/' ? 1 : parent.length + 1),
      children: d.children.map((c) => dirEntry(c, d.path)),
      properties: d.props.map((p) => ({ name: p.name, value: p.value, perms: p.perms })),
      dir_perms: d.perms,
    });
    return {
      sets: this.sets.filter((s) => s !== this.own || (this.rootCgns && this.rootSet === s.id)).map((s) => ({ id: s.id, ctls: s.ctls.map((c) => ({ name: c.name, path: c.path, ...(c.prefix ? { cgns_prefix: c.prefix } : {}) })) })),
      controllers: this.controllers.map((c) => ({ cnames: c.cnames, dirs: c.heads.map((d) => dirEntry(d, undefined)), is_threaded: c.threaded })),
    };
  }
}

// ---- restore ----

interface RstTask { pid: number; parent: number; cgroup?: string; cgns?: string }

export interface CgroupRestore {
  /** each task's `cgroup`: the cgroup.procs files it writes itself into ('': it stays where its parent is); the
   * root task's `cgns`: those of its cgroup namespace's root, joined before it unshares one ('': none) */
  place(tasks: RstTask[]): void;
  /** the hierarchies' mounts go, once the helper is done */
  release(): void;
}

/**
 * cgroup.img's directories made ready as `mode` says (before the plan: a task may have one of them open); ckpt's
 * mounts of the hierarchies stay until release(), the tasks' cgroup.procs paths go through them.
 */
export function prepareCgroups(dir: string, mode: CgroupMode, log: Log, roots: { ctl?: string; root: string }[] = []): CgroupRestore {
  const none: CgroupRestore = {
    place(tasks) {
      for (const t of tasks) t.cgroup = t.cgns = '';
      const root = tasks.find((t) => t.parent < 0);
      if (mode === 'ignore' && root && ownCgns(dir, root.pid)) throw new DumpError(`task ${root.pid} lived in its own cgroup namespace, which --manage-cgroups=ignore does not restore`);
    },
    release() {},
  };
  if (mode === 'ignore' || !hasImage(dir, 'cgroup')) return none;
  const entry = load(dir, 'cgroup', 'cgroups').entries[0];
  if (!entry || !(entry.sets ?? []).length) return none;
  const rootCgSet = Number(load(dir, 'inventory', 'inventory').entries[0]?.root_cg_set ?? 0);
  rewriteRoots(entry, roots);
  const ctrls: any[] = entry.controllers ?? [];
  const fds: number[] = [];
  const release = () => { for (const fd of fds.splice(0)) closeSync(fd); };
  try {
    const yard = ctrls.map((c) => {
      if (!c.cnames?.length) throw new DumpError('cgroup.img: a controller without names');
      const fd = mountHierarchy(c.cnames, 'restore');
      fds.push(fd);
      return `/proc/${process.pid}/fd/${fd}`;
    });
    ctrls.forEach((c, i) => prepareDirs(yard[i], '', c.dirs ?? [], mode, log));
    // the rest of the properties, once every directory is there (criu: prepare_cgroup_properties)
    if (mode !== 'none') ctrls.forEach((c, i) => setProps(yard[i], '', c.dirs ?? [], log));
    const setById = new Map<number, any>((entry.sets ?? []).map((s: any) => [s.id, s]));
    const place = (tasks: RstTask[]) => {
      const sets = tasks.map((t) => {
        const core = load(dir, 'core', t.pid, `task ${t.pid}`).entries[0];
        return Number(core?.thread_core?.cg_set ?? core?.tc?.cg_set ?? 0);
      });
      const procs = (t: RstTask, set: any, path: (m: any) => string) => set.ctls.map((m: any) => {
        const i = ctrls.findIndex((c) => contains(c.cnames, m.name));
        if (i < 0) throw new DumpError(`task ${t.pid}: no controller of cgroup.img for ${m.name}:${m.path}`);
        const p = path(m);
        return `${yard[i]}${p === '/' ? '' : p}/cgroup.procs`;
      }).join('\n');
      tasks.forEach((t, ti) => {
        t.cgroup = t.cgns = '';
        if (!sets[ti]) return; // a zombie: no set
        const set = setById.get(sets[ti]);
        // the root task's own cgroup namespace (criu's prepare_cgns): it is rooted where the task was when it
        // unshared, each controller's cgns prefix ("/" without one); all its descendants inherit it
        const cgns = t.parent < 0 && (ownCgns(dir, t.pid) || (set?.ctls ?? []).some((m: any) => n(m.cgns_prefix) > 0));
        if (cgns) {
          if (!set) throw new DumpError(`task ${t.pid}: cgroup set ${sets[ti]} is not in cgroup.img`);
          t.cgns = procs(t, set, (m) => (n(m.cgns_prefix) > 0 ? (m.path as string).slice(0, n(m.cgns_prefix)) : '/'));
        }
        // the nearest ancestor with a set is where this task starts (criu's restore_task_cgroup)
        let p = t.parent;
        while (p >= 0 && !sets[p]) p = tasks[p].parent;
        if (!cgns && sets[ti] === (p >= 0 ? sets[p] : rootCgSet)) return;
        if (!set) throw new DumpError(`task ${t.pid}: cgroup set ${sets[ti]} is not in cgroup.img`);
        t.cgroup = procs(t, set, (m) => m.path);
      });
    };
    return { place, release };
  } catch (e) {
    release();
    throw e;
  }
}

/** did the dumped task have a cgroup namespace other than the dumper's (ids-PID.img against the inventory's root_ids) */
function ownCgns(dir: string, pid: number): boolean {
  const ids = load(dir, 'ids', pid, `task ${pid}`).entries[0];
  const root = load(dir, 'inventory', 'inventory').entries[0]?.root_ids;
  return !!ids?.cgroup_ns_id && !!root?.cgroup_ns_id && n(ids.cgroup_ns_id) !== n(root.cgroup_ns_id);
}

/** --cgroup-root on restore (criu's rewrite_cgroup_roots): each controller's top directories move under newroot */
function rewriteRoots(entry: any, roots: { ctl?: string; root: string }[]): void {
  if (!roots.length) return;
  for (const c of entry.controllers ?? []) {
    const r = roots.find((x) => x.ctl !== undefined && contains(c.cnames, x.ctl)) ?? roots.find((x) => x.ctl === undefined);
    if (!r) continue;
    for (const d of c.dirs ?? []) {
      const old = d.dir_name as string;
      for (const s of entry.sets ?? []) {
        for (const m of s.ctls ?? []) {
          if (!contains(c.cnames, m.name) || !(m.path as string).slice(1).startsWith(old)) continue;
          m.path = `${r.root}${(m.path as string).slice(old.length + 1)}`;
          d.new_name = r.root.replace(/^\//, '');
        }
      }
      if (d.new_name !== undefined) d.dir_name = d.new_name;
    }
  }
}

function fchperm(file: string, p: Perms | undefined, flags: string): void {
  if (!p) return;
  const fd = openSync(file, flags);
  try {
    const st = fstatSync(fd);
    if (st.uid !== p.uid || st.gid !== p.gid) fchownSync(fd, p.uid, p.gid);
    fchmodSync(fd, p.mode & 0o7777);
  } finally {
    closeSync(fd);
  }
}

function prepareDirs(base: string, rel: string, dirs: any[], mode: CgroupMode, log: Log): void {
  for (const d of dirs) {
    const path = d.dir_name ? `${rel}/${d.dir_name}` : rel;
    const full = base + path;
    if (!existsSync(full)) {
      if (mode === 'none' || mode === 'props') throw new DumpError(`cgroup dir ${path || '/'} does not exist (--manage-cgroups=${mode} creates none)`);
      mkdirSync(full, { recursive: true, mode: 0o755 });
      log.info(`cgroups: created ${path}`);
      fchperm(full, d.dir_perms, 'r');
      for (const p of d.properties ?? []) if (SPECIAL.includes(p.name)) writeSpecial(full, p, log);
    } else {
      if (mode === 'strict') throw new DumpError(`cgroup dir ${path || '/'} already exists (--manage-cgroups=strict)`);
      if (mode === 'soft' || mode === 'none') d.properties = [];
      if (mode !== 'none') fchperm(full, d.dir_perms, 'r');
    }
    prepareDirs(base, path, d.children ?? [], mode, log);
  }
}

function writeSpecial(dir: string, p: any, log: Log): void {
  if (p.name === 'memory.swappiness' && p.value === '60') return;
  if (p.name === 'memory.oom_control' && p.value === '0') return;
  if (p.name === 'devices.list') {
    // a whitelist: deny all, then allow each line (the kernel takes one rule a write)
    writeProp(dir, { name: 'devices.deny', value: 'a', perms: { ...p.perms, mode: 0o200 } }, false, false, log);
    if (p.value) writeProp(dir, { name: 'devices.allow', value: p.value, perms: { ...p.perms, mode: 0o200 } }, true, false, log);
    return;
  }
  writeProp(dir, p, false, false, log);
}

function setProps(base: string, rel: string, dirs: any[], log: Log): void {
  for (const d of dirs) {
    const path = d.dir_name ? `${rel}/${d.dir_name}` : rel;
    if (d.dir_name) {
      for (const p of d.properties ?? []) {
        if (SPECIAL.includes(p.name) || p.name === 'freezer.state') continue;
        if (p.name === 'net_prio.ifpriomap') {
          // one interface a write, only those not at the default 0; interfaces this host lacks are skipped
          const lines = (p.value as string).split('\n').filter((l) => { const prio = l.split(' ')[1]; return prio !== undefined && Number.parseInt(prio, 10) !== 0; });
          if (lines.length) writeProp(base + path, { ...p, value: lines.join('\n') }, true, true, log);
          continue;
        }
        writeProp(base + path, p, false, false, log);
      }
    }
    setProps(base, path, d.children ?? [], log);
  }
}

/** criu's restore_cgroup_prop: permissions, then the value (cgroup.procs and tasks: permissions only) */
function writeProp(dir: string, p: any, splitLines: boolean, skipFails: boolean, log: Log): void {
  const file = `${dir}/${p.name}`;
  const sub = p.name === 'cgroup.subtree_control';
  if (!existsSync(file)) throw new DumpError(`cgroup property ${file.replace(/^\/proc\/\d+\/fd\/\d+/, '')} does not exist here`);
  fchperm(file, p.perms, sub ? 'r+' : 'w');
  if (p.name === 'cgroup.procs' || p.name === 'tasks') return;
  if (p.name === 'cgroup.type' && p.value !== 'threaded') return;
  let values: string[] = splitLines ? (p.value as string).split('\n') : [p.value];
  if (sub) {
    const cur = readFileSync(file, 'latin1').trim().split(' ').filter(Boolean);
    const want = (p.value as string).split(' ').filter(Boolean);
    values = [[...cur.map((c) => `-${c}`), ...want.map((c) => `+${c}`)].join(' ')];
    if (!values[0]) return;
  }
  for (const v of values) {
    try {
      writeFileSync(file, v, { flag: 'w' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EOPNOTSUPP' && p.name === 'memory.kmem.limit_in_bytes') continue;
      const msg = `cannot write '${v}' to cgroup property ${p.name}: ${(e as Error).message}`;
      if (!skipFails) throw new DumpError(msg);
      log.warn(msg);
    }
  }
}

/** a --manage-cgroups value (criu's parse_manage_cgroups: no value is soft) */
export function cgroupMode(v: string | undefined): CgroupMode {
  const m = v ?? 'soft';
  if (!(CG_MODES as readonly string[]).includes(m)) throw new DumpError(`unknown cgroups mode '${m}'`);
  return m as CgroupMode;
}

