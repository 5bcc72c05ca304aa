// eventfd (CRIU's eventfd.c): the counter from fdinfo; restored with that counter.
import { b, n } from '../restore/read.js';
import { fdinfoNeed } from './common.js';
import type { Kind } from './kind.js';
import { ObjKind } from '../restore/plan-wire.js';

export const eventfd: Kind = {
  type: 'EVENTFD',
  field: 'efd',
  detect: ({ link }) => link === 'anon_inode:[eventfd]',
  dump(files, { id, flags, fown, info, what }) {
    // "eventfd-count: %16llx"
    files.entries.push({ type: 'EVENTFD', id, efd: { id, flags, fown, counter: BigInt('0x' + fdinfoNeed(info.lines, 'eventfd-count:', what)) } });
  },
  plan: (_objs, f, _fileId, what) => ({ kind: ObjKind.EVENTFD, label: `${what} (eventfd)`, flags: n(f.efd.flags), nums: [b(f.efd.counter)] }),
};
