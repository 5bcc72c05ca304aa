// `ckpt cpuinfo dump|check`: not implemented yet; refused by name.
import { DumpError, type Log } from '../log.js';

export function cpuinfoDump(_dir: string, _log: Log): void {
  throw new DumpError('cpuinfo dump is not supported by ckpt yet');
}

export function cpuinfoCheck(_dir: string, _log: Log): void {
  throw new DumpError('cpuinfo check is not supported by ckpt yet');
}
