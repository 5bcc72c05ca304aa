#!/usr/bin/env node
// Sorts the tests of zdtm TAP reports (`npm run zdtm -- ... --report DIR`) by
// how they end, with the one line that says why:
//   node test/zdtm/triage.mjs DIR/criu-testreport*.tap...     (a markdown table)
//   node test/zdtm/triage.mjs --json FILES...                  (one object per test)
// A test in several reports keeps every outcome ("pass, pass" is reliable).
// Outcomes, worst first: stack trace (the engine crashed with a JS trace),
// hang (the engine outlived zdtm's 60 s), result check (restored with wrong
// state: silent loss; also a restored program that no longer ends on SIGTERM),
// state compare (zdtm saw fds/maps/mounts differ), restore, dump (a refusal),
// other (feature check, start, hook), skip, pass.
import { readFileSync } from 'node:fs';

// a quoted log line (b'...') without its quotes and its "(   0.0123) " timestamp
const unwrap = (l) => l.trim().replace(/^b(['"])(.*)\1$/, '$2').replace(/\\'/g, "'").replace(/^\(\s*[\d.]+\)\s*/, '');

const ESCAPES = { n: '\n', t: '\t', r: '\r', e: '\x1b', 0: '\0', '"': '"', '\\': '\\', '/': '/', ' ': ' ' };

/**
 * The text of a YAML scalar as PyYAML writes zdtm's "output": a literal block
 * (`|`, indented lines) or, when the text has characters a block cannot hold,
 * a double-quoted string folded over lines (a trailing backslash joins lines).
 */
function yamlOutput(lines) {
  const first = lines.findIndex((l) => l.startsWith('"output":'));
  if (first < 0) return lines.join('\n');
  const head = lines[first].slice('"output":'.length).trim();
  const rest = lines.slice(first + 1).filter((l) => l !== '...');
  if (!head.startsWith('"')) return rest.map((l) => l.replace(/^  /, '')).join('\n');
  let raw = head.slice(1);
  for (const l of rest) raw = raw.endsWith('\\') && !raw.endsWith('\\\\') ? raw.slice(0, -1) + l.trimStart() : `${raw} ${l.trimStart()}`;
  raw = raw.replace(/"\s*$/, '');
  return raw.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_, c) => (c.length > 1 ? String.fromCharCode(parseInt(c.slice(1), 16)) : ESCAPES[c] ?? c));
}

/** The `not ok`/`ok` entries of a TAP text, each with its output's lines. */
function entries(text) {
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(not ok|ok) \d+ - (\S+)(?: # (.*))?$/.exec(lines[i]);
    if (!m) continue;
    const block = [];
    if (m[1] === 'not ok') {
      for (let j = i + 1; j < lines.length && !/^(not )?ok \d+ - /.test(lines[j]); j++) block.push(lines[j]);
    }
    const body = block.length ? yamlOutput(block).split('\n') : [];
    out.push({ name: m[2], ok: m[1] === 'ok', note: m[3] ?? '', body });
  }
  return out;
}

/** The lines of the engine's log `file` (dump.log, restore.log) that zdtm quoted, errors last. */
function logErrors(body, file) {
  const errs = [];
  let inside = false;
  for (const l of body) {
    if (l.startsWith('=[log]=> ')) inside = l.endsWith(`/${file}`);
    else if (inside && /ERROR OVER/.test(l)) inside = false;
    else if (inside && /Error|error|FAIL|refus|[Cc]an't|cannot/.test(l)) errs.push(unwrap(l));
  }
  return errs;
}

/** Lines the engine printed itself (zdtm passes its stderr through). */
const engineLines = (body) => body.filter((l) => /^(ckpt|criu)[: ]|Error \(|^Error/.test(l.trim())).map(unwrap);

/** Classifies one failed entry: { kind, why }. */
export function classify(e) {
  if (e.ok) return /^SKIP/.test(e.note) ? { kind: 'skip', why: e.note.slice(4).trim() } : { kind: 'pass', why: '' };
  const text = e.body.join('\n');
  const step = /FAIL at (.*?) #+\s*$/m.exec(text)?.[1] ?? '';
  const trace = e.body.findIndex((l) => /^\s+at .*(\.m?js|\.cjs|node:)[^)]*\)?$/.test(l));
  if (trace > 0) {
    const head = e.body.slice(0, trace).reverse().find((l) => /Error|error/.test(l)) ?? e.body[trace];
    return { kind: 'stack trace', why: `${unwrap(head)}${step ? ` (at ${step})` : ''}` };
  }
  if (/TimeoutExpired|timed out after/.test(text)) {
    const what = /TimeoutExpired: Command '\[[^,]*, '([a-z-]+)'/.exec(text)?.[1] ?? step;
    return { kind: 'hang', why: `${what || 'engine'} did not end within zdtm's time limit` };
  }
  if (/result check/.test(step)) {
    const out = (text.split(/Test output: =+/)[1] ?? '').split(/<<< =+/)[0].split('\n').map((l) => l.trim());
    const said = out.filter((l) => l && !/: PASS$/.test(l));
    return { kind: 'result check', why: said.find((l) => /FAIL|ERR|fail/.test(l)) ?? said[0] ?? step };
  }
  if (step === 'unexpected success') return { kind: 'result check', why: 'dump and restore succeeded where the test requires a refusal (crfail)' };
  if (/ die$/.test(step)) return { kind: 'result check', why: 'the restored program does not end on SIGTERM' };
  if (/compare|screwup|mismatch|remaps left/.test(step)) return { kind: 'state compare', why: step };
  // an engine that stops before opening its -o log (a usage error) makes zdtm.py itself fail on the log
  const nolog = /FileNotFoundError: .*\/(dump|restore)\.log'/.exec(text)?.[1];
  for (const [kind, file, re] of [['restore', 'restore.log', /restore/], ['dump', 'dump.log', /dump/]]) {
    if (!re.test(step) && nolog !== kind) continue;
    const errs = [...logErrors(e.body, file), ...engineLines(e.body)];
    return { kind, why: errs.at(-1) ?? step };
  }
  const last = e.body.filter((l) => l.trim() && !/^(\.\.\.|---|\|)$/.test(l.trim())).map(unwrap);
  return { kind: 'other', why: step || last.find((l) => /Error|error|FAIL/.test(l)) || last.at(-1) || 'no output' };
}

const ORDER = ['stack trace', 'hang', 'result check', 'state compare', 'restore', 'dump', 'other', 'skip', 'pass'];

/** name -> [{kind, why}] over every report, in report order. */
export function triage(texts) {
  const tests = new Map();
  for (const text of texts) {
    for (const e of entries(text)) {
      if (!tests.has(e.name)) tests.set(e.name, []);
      tests.get(e.name).push(classify(e));
    }
  }
  return tests;
}

/** The worst outcome of a test's runs (a test passing once and failing once is not passing). */
export const worst = (runs) => runs.reduce((a, b) => (ORDER.indexOf(b.kind) < ORDER.indexOf(a.kind) ? b : a));

function markdown(tests) {
  const groups = new Map(ORDER.map((k) => [k, []]));
  for (const [name, runs] of tests) groups.get(worst(runs).kind).push([name, runs]);
  const out = [`| outcome | tests |`, `|---|---|`];
  for (const [k, list] of groups) if (list.length) out.push(`| ${k} | ${list.length} |`);
  for (const [k, list] of groups) {
    if (!list.length) continue;
    out.push('', `## ${k} (${list.length})`, '');
    for (const [name, runs] of list.sort((a, b) => worst(a[1]).why.localeCompare(worst(b[1]).why) || a[0].localeCompare(b[0]))) {
      const w = worst(runs);
      const seen = runs.some((r) => r.kind !== w.kind) ? ` [${runs.map((r) => r.kind).join(', ')}]` : '';
      out.push(`- ${name}${seen}${w.why ? `: ${w.why.replace(/\|/g, '\\|')}` : ''}`);
    }
  }
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const json = args[0] === '--json';
  const files = json ? args.slice(1) : args;
  if (!files.length) {
    console.error('usage: triage.mjs [--json] REPORT.tap...');
    process.exit(2);
  }
  const tests = triage(files.map((f) => readFileSync(f, 'utf8')));
  console.log(json ? JSON.stringify(Object.fromEntries(tests), null, 1) : markdown(tests));
}
