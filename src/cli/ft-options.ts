// `--heartbeat-ms`, `--failure-timeout-ms`, `--max-held-bytes`, `--max-held-ms`, `--max-lag-ms` (FT.md "Channel",
// "The Output Rule"), shared by `ft primary|start` and `protect`; apart from ft.ts so `protect` (a supervisor) does
// not load the roles' modules.

import type { FtOptions } from '../ft/control.js';
import { DEFAULT_FT_OPTIONS } from '../ft/vm-host.js';
import { parseBytes, parseCount } from './args.js';
import { UsageError } from './usage.js';

export function ftOptions(rest: Map<string, string | true>): FtOptions {
  const num = (k: string, d: number, size = false): number => {
    const v = rest.get(k);
    if (v === undefined) return d;
    if (typeof v !== 'string') throw new UsageError(`${k} needs a value`);
    const n = size ? parseBytes(v, k) : parseCount(v, k);
    if (!(n > 0)) throw new UsageError(`${k} must be > 0`);
    return n;
  };
  const o: FtOptions = {
    heartbeatMs: num('--heartbeat-ms', DEFAULT_FT_OPTIONS.heartbeatMs),
    failureTimeoutMs: num('--failure-timeout-ms', DEFAULT_FT_OPTIONS.failureTimeoutMs),
    maxHeldBytes: num('--max-held-bytes', DEFAULT_FT_OPTIONS.maxHeldBytes, true),
    maxHeldMs: num('--max-held-ms', DEFAULT_FT_OPTIONS.maxHeldMs),
    maxLagMs: num('--max-lag-ms', DEFAULT_FT_OPTIONS.maxLagMs),
  };
  if (o.failureTimeoutMs <= o.heartbeatMs) throw new UsageError('--failure-timeout-ms must exceed --heartbeat-ms');
  return o;
}
