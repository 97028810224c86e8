// The X86FT_* environment switches: one table (name, accepted values, default, meaning) that the readers,
// the checks (`x86ft` and the benchmarks refuse a bad value with one line, exit 2) and the README's table
// follow. Imports the error base class only, so the CLI can check the environment before anything else loads.

import { X86ftError } from './errors.js';

/** A switch's accepted values: `flag` 0|1; `int` a whole number >= min; `enum` one of `values`; `list` a
 *  comma-separated list of `values`; `ints` a comma-separated list of whole numbers >= min; `path`/`text` any string. An empty value counts as unset. */
export type EnvKind =
  | { kind: 'flag' }
  | { kind: 'int'; min: number }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; values: readonly string[] }
  | { kind: 'ints'; min: number }
  | { kind: 'path' }
  | { kind: 'text' };

export interface EnvSwitch {
  name: string;
  /** Who reads it: `x86ft` (any command or the library), `bench` (`npm run bench*`), `test` (the test suite). */
  scope: 'x86ft' | 'bench' | 'test';
  type: EnvKind;
  /** The value when unset, as text ('' when there is none). */
  dflt: string;
  /** What it does (one line; the README's table shows it). */
  doc: string;
}

const flag = { kind: 'flag' } as const, path = { kind: 'path' } as const, text = { kind: 'text' } as const;
const int = (min: number): EnvKind => ({ kind: 'int', min });

/** Every X86FT_* variable x86ft, its benchmarks or its tests read (test/cli/env.test.ts checks the sources against it). */
export const ENV_SWITCHES: readonly EnvSwitch[] = [
  { name: 'X86FT_CONTROL', scope: 'x86ft', type: path, dflt: '~/.x86ft', doc: 'the default control plane: `dir:$X86FT_CONTROL` when no `--control` is given' },
  { name: 'X86FT_SECRET_FILE', scope: 'x86ft', type: path, dflt: '~/.x86ft/secret', doc: 'the cluster secret file for an `etcd:` control plane' },
  { name: 'X86FT_DEBUG', scope: 'x86ft', type: flag, dflt: '0', doc: '1: an internal error prints its stack trace too' },
  { name: 'X86FT_HOT_BLOCK', scope: 'x86ft', type: int(0), dflt: '64', doc: 'executions after which a block is compiled; 1 compiles every block at once, 0 never' },
  { name: 'X86FT_INLINE', scope: 'x86ft', type: flag, dflt: '1', doc: '0: compiled blocks call a handler per instruction instead of generating the common forms inline' },
  { name: 'X86FT_BLOCK_LINKS', scope: 'x86ft', type: flag, dflt: '1', doc: '0: compiled blocks do not chain to each other directly' },
  { name: 'X86FT_REGION_BLOCKS', scope: 'x86ft', type: int(1), dflt: '1', doc: 'blocks one compiled function may hold (regions, structured control flow: measured no faster)' },
  { name: 'X86FT_REGION_LOCALS', scope: 'x86ft', type: flag, dflt: '0', doc: 'with regions: 1 holds guest registers in JS locals across a region (measured no faster)' },
  { name: 'X86FT_WASM', scope: 'x86ft', type: flag, dflt: '1', doc: '0: the JS tier alone (hot blocks compile to JavaScript only); 1: the WebAssembly tier compiles the hot blocks of its subset, the JS tier the rest' },
  { name: 'X86FT_WASM_REGION', scope: 'x86ft', type: int(1), dflt: '16', doc: 'with the wasm tier: blocks per wasm function (1: one block each)' },
  { name: 'X86FT_WASM_BACKGROUND', scope: 'x86ft', type: flag, dflt: '1', doc: 'with the wasm tier: 0 compiles wasm modules on the main thread even where the event loop turns (`run`, `record`)' },
  { name: 'X86FT_SPARE', scope: 'x86ft', type: flag, dflt: '0', doc: 'internal: set by a host agent for its warm spare process' },
  { name: 'X86FT_BENCH_INSNS', scope: 'bench', type: int(1), dflt: '4000000', doc: '`bench/replay`: instructions per guest' },
  { name: 'X86FT_BENCH_RTT', scope: 'bench', type: int(1), dflt: '5000', doc: '`bench/ft-channel`: round trips measured' },
  { name: 'X86FT_BENCH_FT_PAIRS', scope: 'bench', type: int(1), dflt: '9', doc: '`bench/ft`: alternating protected/unprotected pairs' },
  { name: 'X86FT_BENCH_FT_PIN', scope: 'bench', type: { kind: 'ints', min: 0 }, dflt: '', doc: '`bench/ft`: P,S — pin the primary (this process, every thread) to CPU P and the secondary to CPU S (taskset), as on separate hosts' },
  { name: 'X86FT_BENCH_FAILOVERS', scope: 'bench', type: int(1), dflt: '5', doc: '`bench/ft`: failovers timed' },
  { name: 'X86FT_BENCH_FT_ONLY', scope: 'bench', type: { kind: 'list', values: ['release', 'log', 'failover', 'speed', 'steady', 'stall'] }, dflt: '', doc: '`bench/ft`: only these parts' },
  { name: 'X86FT_BENCH_RESPAWN_RUNS', scope: 'bench', type: int(1), dflt: '5', doc: '`bench/respawn`: runs per guest size' },
  { name: 'X86FT_BENCH_RESPAWN_KILLS', scope: 'bench', type: int(0), dflt: '5', doc: '`bench/respawn`: host kills per VM size (0 skips the end-to-end part)' },
  { name: 'X86FT_BENCH_RESPAWN_MEMS', scope: 'bench', type: { kind: 'ints', min: 1 }, dflt: '16,64', doc: '`bench/respawn`: the end-to-end VM sizes in MiB' },
  { name: 'X86FT_BENCH_RESPAWN_GUEST', scope: 'bench', type: { kind: 'enum', values: ['idle', 'busy'] }, dflt: 'idle', doc: '`bench/respawn`: the end-to-end guest, ft_demo mostly idle (lines of 200 work units, 100 ms idle) or CPU-busy (3000 units, 300 ms idle)' },
  { name: 'X86FT_BENCH_RESPAWN_HOST_ARGS', scope: 'bench', type: text, dflt: '', doc: '`bench/respawn`: extra `x86ft host` arguments (space-separated)' },
  { name: 'X86FT_BENCH_RESPAWN_LOG', scope: 'bench', type: path, dflt: '', doc: '`bench/respawn`: append the agents\' messages per kill to this file' },
  { name: 'X86FT_BENCH_STARTUP_RUNS', scope: 'bench', type: int(1), dflt: '7', doc: '`bench/startup`: runs per command' },
  { name: 'X86FT_BENCH_RUNS', scope: 'bench', type: int(1), dflt: '3', doc: '`bench:silence`: runs' },
  { name: 'X86FT_BENCH_BUSY', scope: 'bench', type: int(0), dflt: '2', doc: '`bench:silence`: busy loops beside the pair' },
  { name: 'X86FT_BENCH_CMDLINE', scope: 'bench', type: text, dflt: '24 1500 20', doc: '`bench:silence`: ft_demo\'s command line' },
  { name: 'X86FT_COREMARK_PAIRS', scope: 'bench', type: int(1), dflt: '9', doc: '`bench:coremark`: long/short run pairs' },
  { name: 'X86FT_COREMARK_LONG', scope: 'bench', type: int(1), dflt: '1100', doc: '`bench:coremark`: iterations of the long run' },
  { name: 'X86FT_COREMARK_SHORT', scope: 'bench', type: int(1), dflt: '100', doc: '`bench:coremark`: iterations of the short run' },
  { name: 'X86FT_COREMARK_V86', scope: 'bench', type: flag, dflt: '1', doc: '`bench:coremark`: 0 skips v86' },
  { name: 'X86FT_WASM_PAIRS', scope: 'bench', type: int(1), dflt: '3', doc: '`bench:wasm`: long/short run pairs' },
  { name: 'X86FT_WASM_LONG', scope: 'bench', type: int(1), dflt: '400', doc: '`bench:wasm`: iterations of the long run' },
  { name: 'X86FT_WASM_SHORT', scope: 'bench', type: int(1), dflt: '100', doc: '`bench:wasm`: iterations of the short run' },
  { name: 'X86FT_WASM_SLICE', scope: 'bench', type: int(1), dflt: '20000000', doc: '`bench:wasm`: instructions per in-process slice' },
  { name: 'X86FT_WASM_SLICES', scope: 'bench', type: int(1), dflt: '11', doc: '`bench:wasm`: in-process slices' },
  { name: 'X86FT_WASM_WARM', scope: 'bench', type: int(0), dflt: '40000000', doc: '`bench:wasm`: warm-up instructions in process' },
  { name: 'X86FT_REGIONS_N', scope: 'bench', type: int(2), dflt: '16', doc: '`bench:regions`: blocks per region' },
  { name: 'X86FT_REGIONS_SLICES', scope: 'bench', type: int(1), dflt: '15', doc: '`bench:regions`: alternating rounds of slices' },
  { name: 'X86FT_REGIONS_SLICE', scope: 'bench', type: int(1), dflt: '20000000', doc: '`bench:regions`: instructions per slice' },
  { name: 'X86FT_REGIONS_WARM', scope: 'bench', type: int(0), dflt: '600000000', doc: '`bench:regions`: warm-up instructions' },
  { name: 'X86FT_COREMARK', scope: 'test', type: flag, dflt: '0', doc: '`npm run test:coremark`: 1 includes CoreMark\'s test' },
  { name: 'X86FT_X87_SWEEP', scope: 'test', type: { kind: 'enum', values: ['full'] }, dflt: '', doc: '`npm run test:x87-sweep`: full sweeps every x87 case' },
  { name: 'X86FT_LONG_SNAPSHOTS', scope: 'test', type: flag, dflt: '0', doc: '`npm run test:snapshot-guests`: 1 snapshots every guest at many points' },
  { name: 'X86FT_KEEP_LOGS', scope: 'test', type: text, dflt: '', doc: 'redundancy tests: any value prints the agents\' messages' },
  { name: 'X86FT_PYTHON', scope: 'test', type: path, dflt: 'python3', doc: 'the x87 reference\'s Python' },
  { name: 'X86FT_HOLD_IMPORT', scope: 'test', type: text, dflt: '', doc: 'test helper hold-import.mjs: the module URL suffix to hold' },
  { name: 'X86FT_HOLD_UNTIL', scope: 'test', type: path, dflt: '', doc: 'test helper hold-import.mjs: the file that releases it' },
];

/** A bad value of an X86FT_* variable; the message names the variable, its value and what it accepts. code 'X86FT_BAD_ENV'. */
export class EnvError extends X86ftError {
  constructor(message: string) { super('X86FT_BAD_ENV', message); this.name = 'EnvError'; }
}

function accepted(t: EnvKind): string {
  switch (t.kind) {
    case 'flag': return '0 or 1';
    case 'int': return `a whole number >= ${t.min}`;
    case 'enum': return t.values.join(' or ');
    case 'list': return `a comma-separated list of ${t.values.join(', ')}`;
    case 'ints': return `a comma-separated list of whole numbers >= ${t.min}`;
    default: return 'any text';
  }
}

function valid(t: EnvKind, v: string): boolean {
  switch (t.kind) {
    case 'flag': return v === '0' || v === '1';
    case 'int': return /^\d+$/.test(v) && Number(v) >= t.min && Number.isSafeInteger(Number(v));
    case 'enum': return t.values.includes(v);
    case 'list': return v.split(',').every((x) => t.values.includes(x));
    case 'ints': return v.split(',').every((x) => /^\d+$/.test(x) && Number(x) >= t.min);
    default: return true;
  }
}

function entry(name: string): EnvSwitch {
  const e = ENV_SWITCHES.find((s) => s.name === name);
  if (!e) throw new X86ftError('X86FT_INTERNAL', `${name} is not in ENV_SWITCHES (src/env.ts)`);
  return e;
}

/** The message for switch `s` holding `v`, or undefined when `v` is accepted. */
function problem(s: EnvSwitch, v: string | undefined): string | undefined {
  if (v === undefined || v === '' || valid(s.type, v)) return undefined;
  return `${s.name}=${JSON.stringify(v)}: expected ${accepted(s.type)} (${s.doc}${s.dflt ? `; default ${s.dflt}` : ''})`;
}

/** The value of switch `name` ('' counts as unset: undefined); EnvError when it is not accepted. */
export function envValue(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const s = entry(name), v = env[name];
  const bad = problem(s, v);
  if (bad) throw new EnvError(bad);
  return v === '' ? undefined : v;
}

/** A `flag` switch: its value, or its default when unset. */
export function envFlag(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return (envValue(name, env) ?? entry(name).dflt) === '1';
}

/** An `int` switch: its value, or its default when unset. */
export function envInt(name: string, env: NodeJS.ProcessEnv = process.env): number {
  return Number(envValue(name, env) ?? entry(name).dflt);
}

/** The first set X86FT_* switch whose value is not accepted, as one line for a user, or undefined. */
export function checkEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const s of ENV_SWITCHES) { const bad = problem(s, env[s.name]); if (bad) return bad; }
  return undefined;
}
