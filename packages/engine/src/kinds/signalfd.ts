// signalfd (CRIU's signalfd.c): the signal mask from fdinfo; restored with that mask.
import { b, n } from '../restore/read.js';
import { fdinfoNeed } from './common.js';
import type { Kind } from './kind.js';
import { ObjKind } from '../restore/plan-wire.js';

export const signalfd: Kind = {
  type: 'SIGNALFD',
  field: 'sgfd',
  detect: ({ link }) => link === 'anon_inode:[signalfd]',
  dump(files, { id, flags, fown, info, what }) {
    files.entries.push({ type: 'SIGNALFD', id, sgfd: { id, flags, fown, sigmask: BigInt('0x' + fdinfoNeed(info.lines, 'sigmask:', what)) } });
  },
  plan: (_objs, f, _fileId, what) => ({ kind: ObjKind.SIGNALFD, label: `${what} (signalfd)`, flags: n(f.sgfd.flags), nums: [b(f.sgfd.sigmask)] }),
};
