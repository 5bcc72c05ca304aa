// What `--display-stats` prints after a dump or a restore: CRIU's text (criu/stats.c), from the same
// numbers as the stats-dump image (dump_stats_entry) and CRIU's restore_stats_entry.

export interface DumpStats {
  freezing_time: number; frozen_time: number; memdump_time: number; memwrite_time: number;
  pages_scanned: number; pages_skipped_parent: number; pages_written: number; irmap_resolve?: number; pages_lazy: number;
}

export interface RestoreStats {
  pages_compared: number; pages_skipped_cow: number; pages_restored?: number; forking_time: number; restore_time: number;
}

const count = (label: string, v: number) => `${label}: ${v} (0x${v.toString(16)})\n`;

export function dumpStatsText(d: DumpStats): string {
  return 'Displaying dump stats:\n'
    + `Freezing time: ${d.freezing_time} us\n`
    + `Frozen time: ${d.frozen_time} us\n`
    + `Memory dump time: ${d.memdump_time} us\n`
    + `Memory write time: ${d.memwrite_time} us\n`
    + (d.irmap_resolve !== undefined ? `IRMAP resolve time: ${d.irmap_resolve} us\n` : '')
    + count('Memory pages scanned', d.pages_scanned)
    + count('Memory pages skipped from parent', d.pages_skipped_parent)
    + count('Memory pages written', d.pages_written)
    + count('Lazy memory pages', d.pages_lazy);
}

export function restoreStatsText(r: RestoreStats): string {
  return 'Displaying restore stats:\n'
    + count('Pages compared', r.pages_compared)
    + count('Pages skipped COW', r.pages_skipped_cow)
    + (r.pages_restored !== undefined ? count('Pages restored', r.pages_restored) : '')
    + `Restore time: ${r.restore_time} us\n`
    + `Forking time: ${r.forking_time} us\n`;
}
