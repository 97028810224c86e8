// Errors at the library's and the CLI's edges: every error class the package exports is an X86ftError
// with a code, no source file throws a plain Error (the kind, not one example), the boot-info command
// line limit is enforced by the API and the CLI, and bad input to the CLI is one line naming the file in
// words, never a stack trace.
import { describe, it, expect } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as api from '../../src/index.js';
import { Machine, X86ftError, InvalidArgumentError, MAX_CMDLINE } from '../../src/index.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => { const p = join(dir, f); return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : []; });
}

describe('errors', () => {
  it('every exported error class is an X86ftError with a code', () => {
    const classes = Object.entries(api).filter(([k, v]) => typeof v === 'function' && /^[A-Z].*(Error|Divergence)$/.test(k));
    expect(classes.length).toBeGreaterThan(10);
    for (const [name, C] of classes) expect(C.prototype instanceof X86ftError || C === X86ftError, name).toBe(true);
  });

  it('instanceof holds across the ES modules and the CommonJS build for every exported class, both ways, and only for the same class', () => {
    // a real program holding both builds (Node's require of dist/cjs, import of dist/src); each class's
    // instance from one build against every class of the other
    const script = `const cjs = require('./dist/cjs/index.cjs');
      import('./dist/src/index.js').then((esm) => {
        const names = Object.keys(cjs).filter((k) => typeof cjs[k] === 'function' && (k === 'Machine' || cjs[k].prototype instanceof cjs.X86ftError || k === 'X86ftError'));
        const wrong = [];
        for (const [a, b] of [[esm, cjs], [cjs, esm]]) for (const n of names) for (const m of names) {
          const v = Object.create(a[n].prototype);
          const want = n === m || (m === 'X86ftError' && n !== 'Machine') || a[n].prototype instanceof a[m];
          if ((v instanceof b[m]) !== want) wrong.push(n + ' instanceof ' + m);
        }
        console.log(JSON.stringify({ names, wrong }));
      });`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 })) as { names: string[]; wrong: string[] };
    expect(out.names.length).toBeGreaterThan(15);
    expect(out.names).toContain('Machine');
    expect(out.wrong).toEqual([]);
  });

  it('no source file throws, rejects with or reports a plain Error, RangeError or TypeError to a caller (benchmark helpers aside)', () => {
    const plain = sources('src').filter((f) => !f.endsWith('codec-bench.ts'))
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((l, i) => [`${f}:${i + 1}`, l] as const))
      .filter(([, l]) => /(throw |reject\(|onSinkError\?\.\(.*)new (Error|RangeError|TypeError)\(/.test(l)).map(([at]) => at);
    expect(plain).toEqual([]);
  });

  it(`a command line over ${MAX_CMDLINE} bytes is refused, not cut (API and CLI)`, () => {
    expect(() => Machine.create({ cmdline: 'a'.repeat(MAX_CMDLINE + 1) })).toThrow(InvalidArgumentError);
    expect(() => Machine.create({ cmdline: 'é'.repeat(512) })).toThrow(/1024 bytes/); // UTF-8: 2 bytes each
    expect(Machine.create({ cmdline: 'a'.repeat(MAX_CMDLINE) }).config.cmdline.length).toBe(MAX_CMDLINE);
    const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'run', 'guests/build/hello-O2.elf', '--cmdline', 'a'.repeat(1100)], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("x86ft run: --cmdline is 1100 bytes; the boot-info block holds at most 1023; see 'x86ft run --help'\n");
  });

  it('missing files: one line on stderr naming the file and the problem in words, no stack trace', () => {
    const N = '/tmp/x86ft-api-test-no-such-dir';
    const cases: [string[], number, string][] = [
      [['run', `${N}/g.elf`], 2, `x86ft run: ELF image ${N}/g.elf: cannot read (no such file or directory)\n`],
      [['record', 'guests/build/hello-O2.elf', '--log', `${N}/x.log`], 1, `x86ft record: open ${N}/x.log: no such file or directory\n`],
      [['replay', `${N}/x.log`, '--image', 'guests/build/hello-O2.elf'], 1, `x86ft replay: open ${N}/x.log: no such file or directory\n`],
      [['log', 'inspect', `${N}/x.log`], 1, `x86ft log inspect: cannot read ${N}/x.log: no such file or directory\n`],
      [['replay', 'README.md', '--image', `${N}/g.elf`], 1, `x86ft replay: ELF image ${N}/g.elf: cannot read (no such file or directory)\n`],
    ];
    for (const [args, status, stderr] of cases) {
      const r = spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8', timeout: 30_000 });
      expect([args.join(' '), r.status, r.stderr]).toEqual([args.join(' '), status, stderr]);
    }
  });

  it('library errors carry codes: a port registered twice, a recorder used before attach', async () => {
    const m = Machine.create({ memSize: 4 << 20 });
    let err: unknown;
    try { m.bus.registerPorts(0x3f8, 1, { portRead: () => 0, portWrite: () => {} }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(api.InvalidStateError);
    expect((err as X86ftError).code).toBe('X86FT_INVALID_STATE');
    const rec = new api.Recorder({ sink: api.memoryPipe().sink, image: new Uint8Array(0) });
    await expect(rec.run(10)).rejects.toMatchObject({ code: 'X86FT_INVALID_STATE' });
  });
});
