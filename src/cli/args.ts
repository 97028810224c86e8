// Shared argument parsing for the CLI subcommands.

import { UsageError } from './usage.js';

/** "64M", "1G", "65536", "512K" → bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(s.trim());
  if (!m) throw new UsageError(`bad size '${s}' (use e.g. 64M, 1G)`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  const v = Number(m[1]) * mult;
  if (v < 2 * 1024 * 1024 || v % 4096 !== 0 || v > 3 * 1024 ** 3) throw new UsageError(`memory size must be a multiple of 4 KiB between 2 MiB and 3 GiB (got '${s}')`);
  return v;
}

/** A non-negative integer count, with optional k/M/G decimal suffix. */
export function parseCount(s: string): number {
  const m = /^(\d+)([kKMG]?)$/.exec(s.trim());
  if (!m) throw new UsageError(`bad count '${s}'`);
  const mult = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9 }[m[2] as '' | 'k' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}
