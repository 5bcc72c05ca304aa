// criu's check_caps: dump, restore and check need CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE.
import { readFileSync } from 'node:fs';

const CAP_SYS_ADMIN = 21n, CAP_CHECKPOINT_RESTORE = 40n;

/** undefined when this process may checkpoint and restore, else the one line saying what it lacks */
export function missingCapability(status = readFileSync('/proc/self/status', 'latin1')): string | undefined {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  if (!m) return 'cannot read the effective capabilities (CapEff) from /proc/self/status';
  const eff = BigInt(`0x${m[1]}`);
  if (eff & (1n << CAP_SYS_ADMIN) || eff & (1n << CAP_CHECKPOINT_RESTORE)) return undefined;
  return `ckpt needs the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE capability (it has neither: CapEff ${m[1]}); run it as root`;
}
