// The package as a user gets it: `npm pack` (no scripts: dist/ is already built by pretest), the tarball's
// contents, then an install into an empty directory with no network (npm ci --offline from a lock naming
// the tarball and the repository's own locked dependencies, all in npm's cache since the repository's
// install), and the installed package used three ways: require() (CommonJS build), import (ES modules)
// and `x86ft run` on a bundled guest, whose output and status must equal the guest's native build's.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, copyFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packAndInstall } from '../helpers/pack.js';

const repo = resolve('.');
let dir = '', app = '', files: string[] = [];

describe('npm pack tarball', () => {
  beforeAll(() => {
    ({ dir, app, files } = packAndInstall(repo));
  }, 240_000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('holds what a user needs (dist, CommonJS build, README, licence, guests) and no tests, sources or benchmarks', () => {
    for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/cjs/index.cjs', 'dist/src/cli/main.js', 'guests/build/hello-O2.elf']) expect(files).toContain(f);
    expect(files.filter((f) => /^(test|bench|demo|src)\//.test(f) || f.startsWith('dist/test') || f.startsWith('dist/bench') || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('require() and import both work from the installed package; one snippet runs', () => {
    copyFileSync(join(repo, 'examples/commonjs.cjs'), join(app, 'commonjs.cjs'));
    copyFileSync(join(repo, 'examples/snippet.mjs'), join(app, 'snippet.mjs'));
    const run = (f: string) => execFileSync(process.execPath, [f], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(run('commonjs.cjs')).toBe(readFileSync(join(repo, 'examples/commonjs.expected'), 'utf8'));
    expect(run('snippet.mjs')).toBe(readFileSync(join(repo, 'examples/snippet.expected'), 'utf8'));
  });

  it('x86ft run on a bundled guest prints what the guest\'s native build prints and exits with its status', () => {
    const native = spawnSync(join(repo, 'guests/build/hello-native'), [], { encoding: 'utf8' });
    const r = spawnSync(join(app, 'node_modules/.bin/x86ft'), ['run', 'node_modules/x86ft/guests/build/hello-O2.elf'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(native.stdout);
    expect(r.status).toBe(native.status);
    expect(r.status).toBe(42);
  });
});

describe('the bin in the repository (npm run build, as in a fresh clone)', () => {
  it('package.json bin.x86ft is executable: npx x86ft runs it (tsc writes it 0644; the build sets +x)', () => {
    const bin = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { bin: { x86ft: string } }).bin.x86ft;
    const r = spawnSync(join(repo, bin), ['--version'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.error).toBeUndefined(); // EACCES when the file is not executable
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toContain((JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version);
  });
});
