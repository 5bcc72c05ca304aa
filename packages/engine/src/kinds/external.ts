// criu's external files: `dump --external file[MNT_ID:INO]` (hex) dumps the file with that mount id and inode by
// that name, marked ext, instead of by its path (which may be unreachable: a FIFO on a detached mount); `restore
// --inherit-fd fd[N]:file[MNT_ID:INO]` names the caller's fd on it, through which the file is opened again
// (/proc/self/fd/N: a file description of its own, with the dumped flags and position, as criu does).
import type { Files } from '../files.js';
import type { FileObjects } from '../restore/objects.js';
import type { FdParms } from './kind.js';

/** The external name of the fd's file when --external listed it, else undefined. */
export function externalName(files: Files, p: FdParms): string | undefined {
  const want = files.out?.externalFiles;
  if (!want?.size) return undefined;
  const mnt = /^mnt_id:\s*(\d+)/m.exec(p.info.lines.join('\n'))?.[1];
  if (mnt === undefined) return undefined;
  const key = `file[${Number(mnt).toString(16)}:${p.st.ino.toString(16)}]`;
  return want.has(key) ? key : undefined;
}

/** The path a restored external file is opened by: the caller's fd given for its name. */
export function externalPath(objs: FileObjects, name: string, what: string): string {
  return `/proc/self/fd/${objs.takeInherited(name, `${what}: ${name} was dumped as external: restore needs --inherit-fd fd[N]:${name}`)}`;
}
