// The README's "Library API" section against the package (issue 13), both ways: every class, function,
// constant and method it names (in code blocks and `code` spans: `new X(`, `X.y(`, `m.y`, `f(`, a lone
// `Name` or `CONSTANT`) exists in what 'x86ft' and 'x86ft/ft' export — so a rename or a removal that the
// README does not follow fails here — and every name they export appears in the section's code, so an
// export nobody documented fails too. Read with the TypeScript compiler from the built declarations (type
// exports included) and the built modules.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const readme = readFileSync('README.md', 'utf8');
const from = readme.indexOf('\n## Library API');
const api = readme.slice(from, readme.indexOf('\n## ', from + 5));
const GLOBALS = new Set(['Symbol', 'String', 'Uint8Array', 'Error', 'Promise', 'JSON', 'Number', 'BigInt', 'Object', 'Array', 'Math']);
/** Error codes (string values in the sources, e.g. 'BROKEN_PIPE', 'X86FT_BAD_ELF'): not exports. */
const CODES = new Set<string>();
(function collect(dir: string): void {
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    if (f.isDirectory()) collect(join(dir, f.name));
    else if (f.name.endsWith('.ts')) for (const m of readFileSync(join(dir, f.name), 'utf8').matchAll(/'([A-Z][A-Z0-9]*_[A-Z0-9_]+)'/g)) CODES.add(m[1]!);
  }
})('src');
/** Node's own functions the examples call. */
const NODE = new Set(['readFileSync', 'require']);

/** The names 'x86ft' and 'x86ft/ft' export, types included (read once for both tests). */
let exported: string[] | undefined;
const packageExports = (): string[] => (exported ??= [...new Set([...exportsOf('dist/src/index.d.ts'), ...exportsOf('dist/src/ft/index.d.ts')])]);

/** The names an entry point exports, types included (from its built declarations: quicker than the sources). */
function exportsOf(entry: string): string[] {
  const prog = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, skipLibCheck: true, types: [] });
  const c = prog.getTypeChecker();
  return c.getExportsOfModule(c.getSymbolAtLocation(prog.getSourceFile(entry)!)!).map((s) => s.name);
}

/** The section's code: its code blocks and its `code` spans (in prose and tables). */
function codeOf(section: string): string[] {
  const fences = [...section.matchAll(/```\w*\n([\s\S]*?)```/g)].map((f) => f[1]!);
  const prose = section.replace(/```\w*\n[\s\S]*?```/g, '');
  return [...fences, ...[...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!)];
}

/** What the section names, as `Name`, `Name.member`, `m.member` (a Machine) or `fn` (a call). */
function documented(): Set<string> {
  const toks = new Set<string>();
  for (const span of codeOf(api)) {
    for (const t of span.matchAll(/\bnew ([A-Z]\w+)\(/g)) toks.add(t[1]!);
    for (const t of span.matchAll(/\b([A-Z]\w*[a-z]\w*)\.(\w{2,})/g)) if (!GLOBALS.has(t[1]!)) toks.add(`${t[1]}.${t[2]}`);
    for (const t of span.matchAll(/(?:^|[^\w.])m\.(\w+)/g)) toks.add(`m.${t[1]}`);
    for (const t of span.matchAll(/(?:^|[\s(/])([a-z][A-Za-z0-9]+)\(/g)) if (!NODE.has(t[1]!)) toks.add(t[1]!);
    if (/^[A-Z]\w*[a-z]\w*$/.test(span) && !GLOBALS.has(span)) toks.add(span);
    if (/^[A-Z][A-Z0-9]*_[A-Z0-9_]+$/.test(span) && !CODES.has(span)) toks.add(span); // not error codes
  }
  return toks;
}

describe('README Library API section vs the package', () => {
  it('every call, class and constant it names exists', async () => {
    const names = new Set(packageExports());
    const mod = { ...(await import('../../dist/src/index.js')), ...(await import('../../dist/src/ft/index.js')) } as Record<string, unknown>;
    const machine = (mod.Machine as { create(o: object): object }).create({ memSize: 4 << 20 }) as Record<string, unknown>;
    // a method named alone (`release(icount)`, in the sentence about its class) belongs to some exported class
    const members = new Set<string>();
    for (const v of [...Object.values(mod), machine, machine.cpu]) {
      if (v === null || (typeof v !== 'object' && typeof v !== 'function')) continue;
      for (let o: object | null = v as object; o && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o)) Object.getOwnPropertyNames(o).forEach((k) => members.add(k));
      const proto = (v as { prototype?: object }).prototype;
      for (let o: object | null | undefined = proto; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) Object.getOwnPropertyNames(o).forEach((k) => members.add(k));
    }
    const toks = documented();
    expect(toks.size).toBeGreaterThan(60); // the section was found and read
    const missing: string[] = [];
    for (const t of toks) {
      if (t.startsWith('m.')) { if (!(t.slice(2) in machine)) missing.push(t); continue; }
      const [name, member] = t.split('.') as [string, string | undefined];
      if (member === undefined) { if (!names.has(name) && !members.has(name)) missing.push(t); continue; }
      if (!names.has(name)) { missing.push(t); continue; }
      const v = mod[name] as Record<string, unknown> | undefined; // undefined: a type, its members unchecked
      if (v && !(member in v) && !((v.prototype as object | undefined) && member in (v.prototype as object))) missing.push(t);
    }
    expect(missing).toEqual([]);
  });

  it('every name x86ft and x86ft/ft export (types included) appears in the section\'s code', () => {
    const code = codeOf(api).join('\n');
    const names = packageExports();
    expect(names.length).toBeGreaterThan(100); // the entry points were read
    expect(names.filter((n) => !new RegExp(`(?<![\\w$])${n.replace(/\$/g, '\\$')}(?![\\w$])`).test(code))).toEqual([]);
  });
});
