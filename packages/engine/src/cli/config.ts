// criu's configuration files (criu(8), CONFIGURATION FILES): one option a line, its long name
// without the dashes, then at most one value, plain or in double quotes (\" inside); '#' starts a
// comment. Read in criu's order: /etc/criu/default.conf, $HOME/.criu/default.conf (both skipped with
// --no-default-config or --config), $CRIU_CONFIG_FILE, --config FILE; the command line comes last and wins.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './getopt.js';

/**
 * One statement -> its getopt words: [] (blank, comment), ['--name'] or ['--name=value'] (attached, so that
 * an option whose value is optional, as verbosity, takes it too).
 */
export function parseStatement(line: string, where: string): string[] {
  const bad = () => new UsageError(`${where}: unsupported configuration file format (one option a line, at most one value, "quoted" if it has spaces): ${line.trim()}`);
  const s = line.replace(/^[ \t\f\v\r]+/, '').replace(/\r?\n$/, '');
  if (!s || s.startsWith('#')) return [];
  const sp = s.search(/[ \t]/);
  if (sp < 0) return [`--${s}`];
  const key = `--${s.slice(0, sp)}`;
  const rest = s.slice(sp + 1).replace(/^\s+/, '');
  if (!rest || rest.startsWith('#')) return [key];
  if (rest.startsWith('"')) {
    // up to the next quote not escaped by a backslash; after it only blanks or a comment
    let j = 1;
    while (j < rest.length && !(rest[j] === '"' && rest[j - 1] !== '\\')) j++;
    if (j >= rest.length) throw bad();
    const after = rest.slice(j + 1);
    if (!/^\s*(#.*)?$/.test(after)) throw bad();
    return [`${key}=${rest.slice(1, j).replace(/\\"/g, '"')}`];
  }
  const value = rest.replace(/#.*$/, '').replace(/\s+$/, '');
  if (/\s/.test(value)) throw bad();
  return [`${key}=${value.replace(/\\"/g, '"')}`];
}

/** The getopt words of a whole file (its lines numbered for messages). */
export function parseConfigText(text: string, file: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => out.push(...parseStatement(line, `${file}:${i + 1}`)));
  return out;
}

export interface ConfigSource { file: string; words: string[] }

/**
 * The configuration files criu would read, in its order, as getopt words. The default files are
 * skipped when absent (as criu does); a file named by $CRIU_CONFIG_FILE or --config must be readable.
 */
export function configSources(argv: string[], env: NodeJS.ProcessEnv): ConfigSource[] {
  let noDefault = false;
  let explicit: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a === '--no-default-config') noDefault = true;
    else if (a === '--config') {
      if (i + 1 >= argv.length) throw new UsageError("option '--config' requires an argument");
      explicit = argv[i + 1];
      noDefault = true;
    } else if (a.startsWith('--config=')) {
      explicit = a.slice('--config='.length);
      noDefault = true;
    }
  }
  const files: { file: string; required: boolean }[] = [];
  if (!noDefault) {
    files.push({ file: '/etc/criu/default.conf', required: false });
    if (env.HOME) files.push({ file: join(env.HOME, '.criu', 'default.conf'), required: false });
  }
  if (env.CRIU_CONFIG_FILE) files.push({ file: env.CRIU_CONFIG_FILE, required: true });
  if (explicit !== undefined) files.push({ file: explicit, required: true });
  const out: ConfigSource[] = [];
  for (const { file, required } of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new UsageError(`cannot read configuration file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    out.push({ file, words: parseConfigText(text, file) });
  }
  return out;
}
