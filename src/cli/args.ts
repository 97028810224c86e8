// Shared argument parsing for the CLI subcommands.

import { UsageError } from './usage.js';
import { InvalidArgumentError } from '../errors.js';

/** A byte count: "65536", "512K", "64M", "1G" (binary suffixes, optional "iB"/"B") → bytes. `option` names it in errors. */
export function parseBytes(s: string, option?: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(s.trim());
  if (!m) throw new UsageError(`${option ? `${option} needs a size` : 'bad size'} '${s}' (use e.g. 65536, 64K, 4M, 1G)`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  const v = Number(m[1]) * mult;
  if (!Number.isSafeInteger(v)) throw new UsageError(`${option ? `${option} ` : ''}'${s}' is too large (at most ${Number.MAX_SAFE_INTEGER} bytes)`);
  return v;
}

/** Guest memory size (`--mem`): parseBytes, a multiple of 4 KiB between 2 MiB and 3 GiB. */
export function parseSize(s: string): number {
  const v = parseBytes(s);
  if (v < 2 * 1024 * 1024 || v % 4096 !== 0 || v > 3 * 1024 ** 3) throw new UsageError(`memory size must be a multiple of 4 KiB between 2 MiB and 3 GiB (got '${s}')`);
  return v;
}

/** A non-negative integer count, with optional k/M/G decimal suffix. */
export function parseCount(s: string, option?: string): number {
  const what = option ? `${option} needs a whole number (digits, optional k/M/G suffix), got '${s}'` : `bad count '${s}'`;
  const m = /^(\d+)([kKMG]?)$/.exec(s.trim());
  if (!m) throw new UsageError(what);
  const mult = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9 }[m[2] as '' | 'k' | 'K' | 'M' | 'G'];
  const n = Number(m[1]) * mult;
  // past 2^53 a double no longer holds every integer: '99999999999999999999' would become another number
  if (!Number.isSafeInteger(n)) throw new UsageError(`${option ? `${option} ` : ''}'${s}' is too large (at most ${Number.MAX_SAFE_INTEGER})`);
  return n;
}

/** The options and arguments one command takes (parseArgs). */
export interface ArgSpec {
  /** Options without a value. */
  flags?: readonly string[];
  /** Options with a value: the next argument, whatever it looks like (`--control --json` gives '--json'). */
  values?: readonly string[];
  /** Value options that accept an empty value ('all': every one); an empty value of another is refused as missing. */
  emptyOk?: readonly string[] | 'all';
  /** How many positional arguments the command takes (default 0); one more is 'unexpected argument X'. */
  maxPositionals?: number;
  /** '-' (stdin) is a positional argument; otherwise it is an unknown option, like any other word starting with '-'. */
  dashIsArgument?: boolean;
  /** Each option as it comes, in command-line order, with its value (true for a flag): a command converts and
   *  checks values here (throwing UsageError), so the first problem on the command line is the one reported. */
  on?: (name: string, value: string | true) => void;
  /** The message for a value option given without its value; default `NAME needs a value`. */
  missing?: (name: string) => string;
}

/** A parsed command line: the positional arguments in order, and each option's last value (true for a flag). */
export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string | true>;
}

/**
 * The one command-line parser of the CLI: options and positional arguments as `spec` declares them. Throws
 * UsageError with the CLI's words: `--x needs a value`, `unknown option --x`, `unexpected argument X`.
 */
export function parseArgs(argv: readonly string[], spec: ArgSpec): ParsedArgs {
  const out: ParsedArgs = { positionals: [], options: new Map() };
  const flags = spec.flags ?? [], values = spec.values ?? [];
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    if (flags.includes(a)) {
      out.options.set(a, true);
      spec.on?.(a, true);
    } else if (values.includes(a)) {
      const v = argv[++k];
      const emptyOk = spec.emptyOk === 'all' || (spec.emptyOk ?? []).includes(a);
      if (v === undefined || (v === '' && !emptyOk)) throw new UsageError(spec.missing ? spec.missing(a) : `${a} needs a value`);
      out.options.set(a, v);
      spec.on?.(a, v);
    } else if (a.startsWith('-') && !(a === '-' && spec.dashIsArgument)) {
      throw new UsageError(`unknown option ${a}`);
    } else if (out.positionals.length < (spec.maxPositionals ?? 0)) {
      out.positionals.push(a);
    } else {
      throw new UsageError(`unexpected argument ${a}`);
    }
  }
  return out;
}

/** Parses a `--metrics PORT` value (0..65535; 0 = any free port). Throws Error with a message for a user. */
export function parseMetricsPort(v: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError(`--metrics expects a port 0..65535 (got '${v}')`);
  return Number(v);
}
