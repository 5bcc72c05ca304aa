// ckpt's command line as criu 4.2's (packages/engine/src/cli): getopt_long rules, criu's configuration
// files, values checked, options refused by name, paths as criu resolves them. No root needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine, OPTIONS } from '../packages/engine/dist/cli/options.js';
import { parseStatement, configSources } from '../packages/engine/dist/cli/config.js';
import { resolvePaths } from '../packages/engine/dist/cli.js';
import { missingCapability } from '../packages/engine/dist/cli/caps.js';
import { ROOT } from './engine/helpers.mjs';

const CKPT = join(ROOT, 'packages/engine/bin/ckpt.js');
const parse = (...argv) => parseCommandLine(argv).opts;
const usage = (argv, re) => assert.throws(() => parseCommandLine(argv), re);
/** refused by name: the command line is right, ckpt cannot honour it (logged as an error before anything is done) */
const refused = (argv, re) => {
  const o = parseCommandLine(argv).opts;
  assert.equal(o.refused.length, 1, argv.join(' '));
  assert.match(o.refused[0], re);
};

test('zdtm.py\'s dump and restore command lines', () => {
  const d = parse('dump', '--no-default-config', '--log-file', 'dump.log', '--images-dir', '/d', '--verbosity=4', '--tree', '66',
    '--pidfile', '/t/env00.pid', '--timeout', '10', '--pre-dump-mode', 'splice');
  assert.equal(d.command, 'dump');
  assert.equal(d.tree, 66);
  assert.equal(d.verbosity, 4);
  assert.equal(d.timeout, 10);
  assert.equal(d.imagesDir, '/d');
  assert.ok(d.notes.some((n) => /--pidfile has no effect on dump/.test(n)), 'an option of another command is noted, as criu ignores it');
  const r = parse('restore', '--no-default-config', '--log-file', 'restore.log', '--images-dir', '/d', '--verbosity=4',
    '--pidfile', '/t/env00.pid', '--restore-sibling', '--restore-detached', '--inherit-fd', 'fd[5]:pipe:[123]');
  assert.equal(r.detached, true);
  assert.equal(r.sibling, true);
  assert.deepEqual(r.inheritFds, ['fd[5]:pipe:[123]']);
  const c = parse('check', '--no-default-config', '-verbosity=0', '--feature', 'mnt_id');
  assert.equal(c.verbosity, 0);
  assert.deepEqual(c.features, ['mnt_id']);
});

test('getopt_long: operands anywhere, unique prefixes, = or a separate value, clusters, --', () => {
  const o = parse('-D', 'img', 'dump', '-t4242', '--leave-run', '-jl');
  assert.equal(o.command, 'dump');
  assert.equal(o.tree, 4242);
  assert.equal(o.finalState, 'running');
  assert.equal(o.shellJob, true);
  assert.equal(o.fileLocks, true);
  assert.equal(parse('dump', '--tree=7').tree, 7);
  usage(['dump', '-t', '1', '--', '-x'], /excessive parameter for command dump: -x/);
  usage(['dump', '-t', '1', '--leave'], /option '--leave' is ambiguous; possibilities: '--leave-running' '--leave-stopped'/);
  usage(['dump', '-t', '1', '--bogus'], /^Error: unrecognized option '--bogus'$/);
  usage(['dump', '-t', '1', '-q'], /invalid option -- 'q'/);
  usage(['dump', '-t'], /option requires an argument -- 't'/);
  usage(['dump', '--tree'], /option '--tree' requires an argument/);
  usage(['dump', '-t', '1', '--shell-job=yes'], /option '--shell-job' doesn't allow an argument/);
  usage(['dump', '-t', '1', '--tcpEstablished'], /unrecognized option '--tcpEstablished'/);
});

test('numbers are checked: -t abc, -t 0, --timeout x, --status-fd -1, --ghost-limit 1X are usage errors naming the option', () => {
  usage(['dump', '-t', 'abc'], /^Error: invalid argument for -t: abc$/);
  usage(['dump', '-t', '0'], /invalid argument for -t: 0/);
  usage(['dump', '--tree', '12x'], /invalid argument for --tree: 12x/);
  usage(['dump', '-t', '1', '--timeout', 'x'], /invalid argument for --timeout: x/);
  usage(['restore', '--status-fd', '-1'], /invalid argument for --status-fd: -1/);
  usage(['dump', '-t', '1', '--ghost-limit', '1X'], /invalid argument for --ghost-limit: 1X/);
  usage(['dump', '-t', '1', '-x0'], /invalid argument for -x: 0/);
  assert.equal(parse('dump', '-t', '1', '--ghost-limit', '3M').ghostLimit, 3 << 20);
  assert.equal(parse('dump', '-t', '1', '--ghost-limit', '4096').ghostLimit, 4096);
  assert.equal(parse('dump', '-t', '1').ghostLimit, 1 << 20);
  assert.equal(parse('dump', '-t', '1').timeout, 10, 'criu\'s default --timeout');
});

test('-v, -vN, -vvvv, --verbosity[=N] count as criu counts them (default 2)', () => {
  assert.equal(parse('check').verbosity, 2);
  assert.equal(parse('check', '-v').verbosity, 3);
  assert.equal(parse('check', '-v', '-v').verbosity, 4);
  assert.equal(parse('check', '-vvvv').verbosity, 6);
  assert.equal(parse('check', '-v0').verbosity, 0);
  assert.equal(parse('check', '-v4').verbosity, 4);
  assert.equal(parse('check', '--verbosity').verbosity, 3);
  assert.equal(parse('check', '--verbosity=1').verbosity, 1);
  usage(['check', '-vx'], /invalid argument for -v: x/);
});

test('-x with and without inodes, --external unix[INO]; other externals refused by name', () => {
  const a = parse('dump', '-t', '1', '-x');
  assert.equal(a.extUnixSk, true);
  assert.deepEqual(a.extUnixSkInodes, []);
  const b = parse('restore', '--ext-unix-sk=11,22', '--external', 'unix[33]');
  assert.equal(b.extUnixSk, true);
  assert.deepEqual(b.extUnixSkInodes, [11, 22, 33]);
  assert.deepEqual(parse('dump', '-t', '1', '-x44').extUnixSkInodes, [44]);
  refused(['dump', '-t', '1', '--external', 'mnt[/dev]:ZDTM_DEV'], /^--external mnt\[\/dev\]:ZDTM_DEV: external mnt resources are not supported by ckpt yet/);
});

test('options ckpt cannot honour are refused by name; their --no- forms and the no-op ones are accepted and noted', () => {
  refused(['dump', '-t', '1', '--lazy-pages'], /^--lazy-pages is not supported: lazy pages: ckpt restores all memory up front$/);
  refused(['restore', '-r', '/x'], /^-r is not supported: restoring into another root/);
  refused(['dump', '-t', '1', '--cgroup-yard', '/y'], /^--cgroup-yard is not supported/);
  assert.equal(parse('dump', '-t', '1', '--manage-cgroups').manageCgroups, 'soft');
  assert.equal(parse('restore', '--manage-cgroups=full').manageCgroups, 'full');
  assert.deepEqual(parse('restore', '--cgroup-root', '/n', '--cgroup-root', 'name=x:/p').cgroupRoots, [{ root: '/n' }, { ctl: 'name=x', root: '/p' }]);
  usage(['restore', '--cgroup-root', 'cpu:rel'], /invalid argument for --cgroup-root: cpu:rel/);
  usage(['dump', '-t', '1', '--manage-cgroups=bogus'], /unknown cgroups mode 'bogus'/);
  assert.equal(parse('dump', '-t', '1', '--manage-cgroups=none').manageCgroups, 'none');
  assert.equal(parse('dump', '-t', '1', '--no-evasive-devices').command, 'dump');
  refused(['dump', '-t', '1', '--evasive-devices'], /^--evasive-devices is not supported/);
  assert.deepEqual(parse('dump', '-t', '1').refused, []);
  assert.equal(parse('dump', '-t', '1', '--link-remap').linkRemap, true);
  assert.equal(parse('dump', '-t', '1').linkRemap, false);
  const o = parse('dump', '-t', '1', '--tcp-established', '--ghost-fiemap', '--log-pid', '--force-irmap', '--irmap-scan-path', '/zdtm/static');
  assert.deepEqual(o.refused, []);
  for (const n of ['--ghost-fiemap', '--log-pid', '--force-irmap', '--irmap-scan-path']) assert.ok(o.notes.some((x) => x.startsWith(`${n} changes nothing for ckpt: `)), n);
  assert.equal(o.tcpEstablished, true);
  assert.equal(parse('dump', '-t', '1').tcpEstablished, false);
  assert.equal(parse('dump', '-t', '1', '--network-lock', 'nftables').networkLock, 'nftables');
  assert.equal(parse('dump', '-t', '1', '--network-lock', 'none').networkLock, 'skip');
  assert.equal(parse('restore', '--network-lock=iptables').networkLock, 'iptables');
  assert.equal(parse('dump', '-t', '1').networkLock, undefined);
  const tcp = parse('dump', '-t', '1', '--tcp-close', '--skip-in-flight', '--tcp-established');
  assert.deepEqual([tcp.tcpClose, tcp.skipInFlight, tcp.tcpEstablished, tcp.notes], [true, true, true, []]);
  assert.equal(parse('restore', '--tcp-close', '--no-tcp-close').tcpClose, false);
  usage(['check', '--ms'], /--ms is deprecated/);
  usage(['dump', '-t', '1', '--network-lock', 'bogus'], /invalid value for --network-lock: bogus/);
  usage(['dump', '-t', '1', '--pre-dump-mode', 'bogus'], /invalid argument for --pre-dump-mode: bogus/);
  usage(['dump', '-t', '1', '--mntns-compat-mode'], /only valid on restore/);
  for (const d of OPTIONS) assert.ok(d.help, `--${d.long} has help`);
});

test('commands: criu\'s others refused by name, excess operands, dump needs -t, -S needs -d, cpuinfo dump|check', () => {
  usage(['pre-dump', '-t', '1'], /ckpt does not implement criu's pre-dump command/);
  usage(['frobnicate'], /unknown command: frobnicate/);
  usage([], /command is required/);
  usage(['dump', 'extra', '-t', '1'], /excessive parameter for command dump: extra/);
  usage(['dump'], /dump needs the tree's root: -t PID/);
  usage(['restore', '-S'], /--restore-sibling only makes sense with --restore-detached/);
  assert.equal(parse('cpuinfo', 'dump').sub, 'dump');
  usage(['cpuinfo'], /cpuinfo needs dump or check/);
});

test('paths as criu resolves them: the images dir from the cwd, -o and --pidfile from the work dir (default: the images dir)', () => {
  const o = parse('restore', '-D', 'img', '-o', 'r.log', '--pidfile', 'p');
  assert.deepEqual(resolvePaths(o, '/w'), { dir: '/w/img', workDir: '/w/img', logFile: '/w/img/r.log', pidfile: '/w/img/p' });
  const w = parse('restore', '-D', 'img', '-W', '../work', '-o', 'r.log', '--pidfile', '/abs/p');
  assert.deepEqual(resolvePaths(w, '/w'), { dir: '/w/img', workDir: '/work', logFile: '/work/r.log', pidfile: '/abs/p' });
});

test('configuration files: criu\'s statements, criu\'s order, the command line last', () => {
  assert.deepEqual(parseStatement('  # comment', 'f:1'), []);
  assert.deepEqual(parseStatement('', 'f:1'), []);
  assert.deepEqual(parseStatement('shell-job', 'f:1'), ['--shell-job']);
  assert.deepEqual(parseStatement('tcp-close # why', 'f:1'), ['--tcp-close']);
  assert.deepEqual(parseStatement('verbosity 4', 'f:1'), ['--verbosity=4']);
  assert.deepEqual(parseStatement('log-file "a b.log"  # c', 'f:1'), ['--log-file=a b.log']);
  assert.deepEqual(parseStatement('log-file "say \\"hi\\""', 'f:1'), ['--log-file=say "hi"']);
  assert.throws(() => parseStatement('log-file a b', 'f:3'), /^Error: f:3: unsupported configuration file format/);
  assert.throws(() => parseStatement('log-file "a', 'f:3'), /unsupported configuration file format/);
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-conf-'));
  const home = join(dir, 'home');
  mkdirSync(join(home, '.criu'), { recursive: true });
  writeFileSync(join(home, '.criu', 'default.conf'), 'verbosity 1\nshell-job\n');
  writeFileSync(join(dir, 'env.conf'), 'file-locks\n');
  writeFileSync(join(dir, 'my.conf'), '# mine\nverbosity 3\ntree 99\n');
  const env = { HOME: home, CRIU_CONFIG_FILE: join(dir, 'env.conf') };
  const srcs = configSources(['dump'], env);
  assert.deepEqual(srcs.map((s) => s.file).slice(-2), [join(home, '.criu', 'default.conf'), join(dir, 'env.conf')]);
  const o = parseCommandLine(['dump', '-t', '5', '-v4'], srcs).opts;
  assert.equal(o.shellJob, true);
  assert.equal(o.fileLocks, true);
  assert.equal(o.verbosity, 4, 'the command line wins');
  assert.equal(o.tree, 5);
  const nd = configSources(['dump', '--no-default-config'], env);
  assert.deepEqual(nd.map((s) => s.file), [join(dir, 'env.conf')], '$CRIU_CONFIG_FILE is read even with --no-default-config, as by criu');
  const c = configSources(['dump', '--config', join(dir, 'my.conf')], {});
  const co = parseCommandLine(['dump'], c).opts;
  assert.equal(co.tree, 99);
  assert.equal(co.verbosity, 3);
  assert.throws(() => configSources(['--config', join(dir, 'nope.conf')], {}), /cannot read configuration file .*nope\.conf: ENOENT/);
  writeFileSync(join(dir, 'nested.conf'), 'config other.conf\n');
  assert.throws(() => parseCommandLine(['dump', '-t', '1'], configSources(['--config', join(dir, 'nested.conf')], {})), /nested\.conf: --config has no effect inside a configuration file/);
  writeFileSync(join(dir, 'bad.conf'), 'bogus-option\n');
  assert.throws(() => parseCommandLine(['dump', '-t', '1'], configSources(['--config', join(dir, 'bad.conf')], {})), /bad\.conf: unrecognized option '--bogus-option'/);
});

test('capabilities: CapEff without CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE is named', () => {
  assert.equal(missingCapability('CapEff:\t000001ffffffffff\n'), undefined);
  assert.equal(missingCapability(`CapEff:\t${(1n << 40n).toString(16).padStart(16, '0')}\n`), undefined, 'CAP_CHECKPOINT_RESTORE alone');
  assert.equal(missingCapability(`CapEff:\t${(1n << 21n).toString(16).padStart(16, '0')}\n`), undefined, 'CAP_SYS_ADMIN alone');
  assert.match(missingCapability('CapEff:\t0000000000000000\n'), /needs the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE capability/);
});

test('without CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE, check, dump and restore say what is missing, in one line', () => {
  // no capability left to this process, root or not (setpriv is util-linux's)
  for (const args of [['check'], ['dump', '-t', '1', '-D', mkdtempSync(join(tmpdir(), 'ckpt-nocap-'))], ['restore', '-D', '/nonexistent']]) {
    const r = spawnSync('setpriv', ['--bounding-set', '-all', '--inh-caps', '-all', process.execPath, CKPT, ...args], { encoding: 'utf8' });
    assert.equal(r.error, undefined, 'setpriv runs');
    assert.equal(r.status, 1, args[0]);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^\(\s*[\d.]+\) Error: ckpt needs the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE capability \(it has neither: CapEff 0+\); run it as root\n$/, args[0]);
  }
});

test('the CLI: usage errors are one line with a hint, --help teaches, completion, no stack traces', () => {
  const run = (...a) => spawnSync(process.execPath, [CKPT, ...a], { encoding: 'utf8', env: { ...process.env, HOME: '/nonexistent' } });
  for (const [args, re] of [
    [['dump', '-t', 'abc'], /^ckpt: invalid argument for -t: abc \(see ckpt --help\)\n$/],
    [['dump', '-t', '1', '--tcpEstablished'], /^ckpt: unrecognized option '--tcpEstablished' \(see ckpt --help\)\n$/],
    [['restore', '-D', '/nonexistent', '--lazy-pages'], /^\(\s*[\d.]+\) Error: --lazy-pages is not supported: .*\n$/],
    [[], /^ckpt: command is required/],
  ]) {
    const r = run(...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, re);
  }
  const h = run('--help');
  assert.equal(h.status, 0);
  for (const s of ['--tree', '--restore-sibling', '--action-script', 'Examples:', 'Accepted, no effect in ckpt', '--link-remap', 'refuses']) assert.ok(h.stdout.includes(s), s);
  assert.ok(run('-h', '--config', '/nonexistent').status === 0, 'help wins over a broken configuration, as in criu');
  const c = run('completion');
  assert.equal(c.status, 0);
  assert.match(c.stdout, /complete -o default -F _ckpt ckpt/);
  assert.ok(c.stdout.includes('--ext-unix-sk'));
  const bad = spawnSync('bash', ['-n'], { input: c.stdout });
  assert.equal(bad.status, 0, 'the completion script is valid bash');
});

test('cpuinfo dump writes criu\'s cpuinfo.img of this CPU; cpuinfo check passes on it and names what a CPU lacks', async () => {
  const { decodeImage, encodeImage } = await import('@ckpt/images');
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-cpuinfo-'));
  const run = (...a) => spawnSync(process.execPath, [CKPT, ...a], { encoding: 'utf8' });
  const d = run('cpuinfo', 'dump', '-D', dir);
  assert.equal(d.status, 0, d.stderr);
  const img = join(dir, 'cpuinfo.img');
  const doc = decodeImage(readFileSync(img));
  const cpu = doc.entries[0].x86_entry[0];
  assert.equal(cpu.capability_ver, 2);
  assert.equal(cpu.capability.length, 19, 'compel\'s NCAPINTS');
  assert.ok(['INTEL', 'AMD'].includes(cpu.vendor_id));
  assert.equal(run('cpuinfo', 'check', '-D', dir).status, 0);
  const rewrite = (f) => {
    const copy = structuredClone(doc);
    f(copy.entries[0].x86_entry[0]);
    writeFileSync(img, Buffer.from(encodeImage(copy)));
    return run('cpuinfo', 'check', '-D', dir);
  };
  const bigger = rewrite((c) => { c.xsave_size += 64; });
  assert.equal(bigger.status, 1);
  assert.match(bigger.stderr, /Error: CPU xsave size mismatch \(\d+\/\d+\)\n$/);
  // an instruction set this CPU lacks (AVX-512 prefetch, or else 3DNow!): the image asks for it
  const lacks = [[9, 26], [1, 31], [9, 27]].find(([w, b]) => !((cpu.capability[w] >>> b) & 1));
  const ins = rewrite((c) => { c.capability[lacks[0]] = (c.capability[lacks[0]] | (1 << lacks[1])) >>> 0; });
  assert.equal(ins.status, 1);
  assert.match(ins.stderr, new RegExp(`Error: CPU instruction capabilities do not match run time \\(word ${lacks[0]}: `));
  const none = run('cpuinfo', 'check', '-D', join(dir, 'nope'));
  assert.equal(none.status, 1);
  assert.match(none.stderr, /No cpuinfo image: .*cpuinfo\.img/);
});
