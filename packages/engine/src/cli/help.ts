// `ckpt --help` and `ckpt completion`, both from the option table.
import { COMMANDS, OPTIONS, type OptDef } from './options.js';

function spell(d: OptDef): string {
  const arg = d.arg === 'none' ? '' : d.arg === 'optional' ? `[=${d.meta}]` : ` ${d.meta}`;
  const short = d.short ? `-${d.short}${d.arg === 'optional' ? `[${d.meta}]` : d.arg === 'required' ? ` ${d.meta}` : ''}, ` : '';
  return `${short}--${d.long}${arg}`;
}

function section(title: string, defs: OptDef[], width: number, text: (d: OptDef) => string): string {
  const rows = defs.map((d) => [spell(d), text(d)]);
  const col = Math.min(30, Math.max(...rows.map((r) => r[0].length)) + 2);
  return `\n${title}:\n` + rows.map(([l, r]) => wrap(`  ${l.padEnd(col)}${r}`, width, 2 + col)).join('\n') + '\n';
}

function wrap(line: string, width: number, indent: number): string {
  if (line.length <= width) return line;
  const out: string[] = [];
  let cur = '';
  for (const w of line.split(/(?<=\S) (?=\S)/)) {
    if (cur && cur.length + 1 + w.length > width) {
      out.push(cur);
      cur = ' '.repeat(indent) + w.trimStart();
    } else cur = cur ? `${cur} ${w}` : w;
  }
  out.push(cur);
  return out.join('\n');
}

export function helpText(width = Math.min(process.stdout.columns || 100, 120)): string {
  const g = (k: OptDef['group']) => OPTIONS.filter((d) => d.group === k);
  return `Usage:
  ckpt dump -t PID [-D DIR] [options]      checkpoint the tree rooted at PID into DIR
  ckpt restore [-D DIR] [options]          restore the tree the images in DIR describe
  ckpt check [--all | --feature NAME]      check that the kernel has what dump and restore need
  ckpt cpuinfo dump|check [-D DIR]         record this CPU in DIR/cpuinfo.img, or check it against it
  ckpt completion                          print a bash completion script (source <(ckpt completion))

ckpt takes criu 4.2's command line: options and commands in any order, long options by any unique
prefix, criu's configuration files (see --config). Options of other commands are accepted and have
no effect (said in the log at -v3), as with criu.
`
    + section('Common options', g('common'), width, (d) => d.help)
    + section('dump', g('dump'), width, (d) => d.help)
    + section('restore', g('restore'), width, (d) => d.help)
    + section('check', g('check'), width, (d) => d.help)
    + section('Accepted, no effect in ckpt', g('noop'), width, (d) => `${d.help}; ${d.noop}`)
    + section('criu options ckpt refuses (not supported yet)', g('refused'), width, (d) => `${d.help}: ${d.refuse}`)
    + `
Examples:
  ckpt dump -t 4242 -D /tmp/ckpt                      freeze the tree of 4242 into /tmp/ckpt (the tree is killed)
  ckpt dump -t 4242 -D /tmp/ckpt -R -v4 -o dump.log   the same, leaving it running, with a debug log in /tmp/ckpt
  ckpt dump -t 4242 -D /tmp/ckpt -j                   a program started from a shell (its terminal is the shell's)
  ckpt restore -D /tmp/ckpt -d --pidfile root.pid     bring it back and let it run; its PID in /tmp/ckpt/root.pid
  ckpt restore -D /tmp/ckpt -j                        a shell job: it gets this terminal and ckpt waits for it
  ckpt restore -D /tmp/ckpt -d --inherit-fd 'fd[3]:socket:[85705]'   our fd 3 replaces the dumped socket 85705
  ckpt check --feature list                           criu's feature names; --feature NAME exits 0 if present

A failure is one line on stderr (and in the log) naming the task and the resource.
Look at a dump with \`crit x DIR ps|fds|mems\`.
`;
}

export function completionScript(): string {
  const longs = OPTIONS.map((d) => `--${d.long}`).join(' ');
  return `# ckpt bash completion: source <(ckpt completion)
_ckpt() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  case $prev in
    -D|--images-dir|-W|--work-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    -o|--log-file|--pidfile|--config|--action-script) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    cpuinfo) COMPREPLY=($(compgen -W "dump check" -- "$cur")); return ;;
  esac
  if [ "$COMP_CWORD" = 1 ]; then COMPREPLY=($(compgen -W "${COMMANDS.join(' ')} completion --help --version" -- "$cur")); return; fi
  COMPREPLY=($(compgen -W "${longs}" -- "$cur"))
}
complete -o default -F _ckpt ckpt
`;
}
