// The package as a user installs it: `npm pack` (no scripts: dist/ must be built) and an install of the
// tarball into an empty directory with no network (npm ci --offline from a lock naming the tarball and the
// repository's own locked production dependencies, all in npm's cache since the repository's install).
// Used by test/api/pack.test.ts and bench/startup.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Installed {
  /** Temporary directory holding the tarball and the app (remove it when done). */
  dir: string;
  /** The app directory: node_modules/x86ft installed from the tarball. */
  app: string;
  tgz: string;
  /** Paths inside the tarball. */
  files: string[];
}

/** Packs the repository at `repo` and installs the tarball into a fresh app directory, offline. */
export function packAndInstall(repo: string): Installed {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-pack-'));
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: repo, encoding: 'utf8', timeout: 120_000 });
  const info = JSON.parse(out)[0] as { filename: string; files: { path: string }[] };
  const tgz = join(dir, info.filename);
  const app = join(dir, 'app');
  mkdirSync(app);
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  const spec = `file:${tgz}`;
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { x86ft: spec } },
    'node_modules/x86ft': { version: pkg.version, resolved: spec, integrity: 'sha512-' + createHash('sha512').update(readFileSync(tgz)).digest('base64'),
      dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines, license: pkg.license },
  };
  for (const [k, v] of Object.entries(lock.packages as Record<string, { dev?: boolean; link?: boolean }>)) if (k !== '' && !v.dev && !v.link) packages[k] = v;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { x86ft: spec } }));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }));
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: app, encoding: 'utf8', timeout: 120_000, stdio: 'pipe' });
  return { dir, app, tgz, files: info.files.map((f) => f.path) };
}
