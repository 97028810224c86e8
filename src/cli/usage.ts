// One-line usage errors with a "did you mean", shared by every command.

import { X86ftError } from '../errors.js';
import { envFlag } from '../env.js';

/** A command line that cannot be used (unknown or missing option, bad value): the command prints its message
 *  on one line and exits with its usage status. code 'X86FT_USAGE'. */
export class UsageError extends X86ftError {
  constructor(message: string) { super('X86FT_USAGE', message); }
}

/** Edit distance (insert, delete, substitute, adjacent swap), for suggestions only. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest candidate to `word` (at most 2 edits, or a prefix of one candidate), or undefined. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined, bestD = Infinity;
  for (const c of candidates) {
    const dd = distance(word, c);
    if (dd < bestD) { best = c; bestD = dd; }
  }
  if (best !== undefined && bestD <= Math.min(2, Math.max(1, Math.floor(word.length / 3)))) return best;
  const prefixed = candidates.filter((c) => word.length >= 3 && c.startsWith(word));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Every long option a help text mentions (e.g. '--log'). */
export function optionsIn(help: string): string[] {
  return [...new Set(help.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? [])];
}

/**
 * The one line a usage error prints on stderr: `x86ft CMD: MESSAGE (did you mean '--x'?); see 'x86ft CMD --help'`.
 * An "unknown option X" message gets a suggestion from the options named in `help` (never X itself: a help
 * shared by sibling commands, e.g. `log inspect|dump|diff`, names options of the others).
 */
export function usageLine(cmd: string, message: string, help: string): string {
  const m = /unknown option '?(--?[\w-]+)/.exec(message);
  const word = m?.[1]!.replace(/=.*$/, '');
  const near = word !== undefined ? didYouMean(word, optionsIn(help).filter((o) => o !== word)) : undefined;
  return `x86ft ${cmd}: ${message}${near ? ` (did you mean '${near}'?)` : ''}; see 'x86ft ${cmd} --help'\n`;
}

/** " (did you mean 'X'?)" for a mistyped word among `candidates`, or ''. */
export function suggest(word: string, candidates: readonly string[]): string {
  const near = didYouMean(word, candidates);
  return near ? ` (did you mean '${near}'?)` : '';
}

/** An unexpected error on one line (`Name: message`), with its stack when X86FT_DEBUG=1. */
export function internalMessage(e: unknown): string {
  if (envFlag('X86FT_DEBUG') && e instanceof Error && e.stack) return e.stack;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
