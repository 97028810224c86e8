// The X86FT_* environment switches (src/env.ts): every one the sources read is in the one table, the README
// documents each, a value a switch does not accept is refused with one line naming the variable and what it
// accepts (x86ft: exit 2, no stack trace; a benchmark: the same before it loads anything).
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnAsync } from '../helpers/proc.js';
import { checkEnv, ENV_SWITCHES, EnvError, envInt, envValue } from '../../src/env.js';

/** Every .ts/.mjs file under `dir`. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mjs)$/.test(n) ? [p] : [];
  });
}

describe('X86FT_* environment switches', () => {
  it('every variable read by src, bench and test is in the table, and the README documents each', () => {
    const read = new Set<string>();
    for (const f of [...files('src'), ...files('bench'), ...files('test')]) {
      const text = readFileSync(f, 'utf8');
      // reads: process.env.NAME, envValue/envInt/envFlag(NAME), env[NAME] for NAME = X86FT_…
      for (const m of text.matchAll(/(?:process\.env\.|env(?:Value|Int|Flag)\('|env\[')(X86FT_[A-Z0-9_]+)/g)) read.add(m[1]!);
    }
    read.delete('X86FT_SPARE'); // set by the agent; in the table all the same
    const names = new Set(ENV_SWITCHES.map((s) => s.name));
    expect([...read].filter((n) => !names.has(n)), 'read but not in src/env.ts ENV_SWITCHES').toEqual([]);
    expect(read.size).toBeGreaterThan(20);
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('### Environment switches'));
    expect(section.length).toBeLessThan(readme.length);
    expect(ENV_SWITCHES.filter((s) => !section.includes(`| \`${s.name}\` |`)).map((s) => s.name), 'not in the README table').toEqual([]);
  });

  it('a bad value is refused naming the variable and the accepted values; a good one is read', () => {
    const bad: Record<string, string> = { flag: '2', int: 'x', enum: 'some', list: 'release,nope', ints: '16,x' };
    for (const s of ENV_SWITCHES) {
      const v = bad[s.type.kind];
      if (v === undefined) continue; // path and text take any value
      const msg = checkEnv({ [s.name]: v });
      expect(msg, s.name).toMatch(new RegExp(`^${s.name}="${v}": expected (0 or 1|a whole number >= \\d|full|idle or busy|a comma-separated list of )`));
      expect(() => envValue(s.name, { [s.name]: v })).toThrow(EnvError);
    }
    expect(checkEnv({ X86FT_INLINE: '0', X86FT_HOT_BLOCK: '0', X86FT_BENCH_FT_ONLY: 'log,stall', X86FT_X87_SWEEP: 'full', X86FT_CONTROL: '/tmp/x' })).toBeUndefined();
    expect(checkEnv({ X86FT_INLINE: '' })).toBeUndefined(); // empty = unset
    expect(checkEnv({ X86FT_HOT_BLOCK: '-1' })).toMatch(/>= 0/);
    expect(envInt('X86FT_HOT_BLOCK', {})).toBe(64);
    expect(envInt('X86FT_HOT_BLOCK', { X86FT_HOT_BLOCK: '5' })).toBe(5);
  });

  it('x86ft and a benchmark refuse a bad value with one line and exit 2', async () => {
    const run = await spawnAsync(process.execPath, ['dist/src/cli/main.js', 'run', 'guests/build/hello-O0.elf'], { encoding: 'utf8', env: { ...process.env, X86FT_INLINE: 'bogus' } });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('x86ft: X86FT_INLINE="bogus": expected 0 or 1 (0: compiled blocks call a handler per instruction instead of generating the common forms inline; default 1)\n');
    expect(run.stdout).toBe('');
    const bench = await spawnAsync(process.execPath, ['dist/bench/startup.js'], { encoding: 'utf8', env: { ...process.env, X86FT_BENCH_STARTUP_RUNS: '0' } });
    expect(bench.status).toBe(2);
    expect(bench.stderr).toMatch(/^\S*startup\.js: X86FT_BENCH_STARTUP_RUNS="0": expected a whole number >= 1 \(.*\)\n$/);
  });
});
