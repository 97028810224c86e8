// The CLI explains itself: --version, help CMD, CMD --help, one-line usage errors on stderr with "did you mean".
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const cli = (...args: string[]) => spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('CLI manners', () => {
  it('--version prints the package version', () => {
    const r = cli('--version');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`x86ft ${JSON.parse(readFileSync('package.json', 'utf8')).version}\n`);
  });

  it('help CMD and CMD --help print the same help on stdout, status 0', () => {
    for (const [cmd, sub] of [['run'], ['record'], ['replay'], ['ft'], ['log', 'inspect'], ['log', 'dump'], ['log', 'diff'], ['protect'], ['console']] as string[][]) {
      const a = cli('help', cmd, ...(sub ? [sub] : []));
      const b = cli(cmd, ...(sub ? [sub] : []), '--help');
      expect(a.status, cmd).toBe(0);
      expect(b.status, cmd).toBe(0);
      expect(a.stdout).toMatch(/^usage: x86ft /);
      expect(a.stdout).toBe(b.stdout);
    }
  });

  it('a usage error is one line on stderr naming the problem, with a suggestion; status 2', () => {
    const cases: [string[], RegExp][] = [
      [[], /^x86ft: missing command \(run, .*\); see 'x86ft help'\n$/],
      [['rnu'], /^x86ft: unknown command 'rnu' \(did you mean 'run'\?\); see 'x86ft help'\n$/],
      [['run', 'guests/build/hello-O0.elf', '--stat'], /^x86ft run: unknown option --stat \(did you mean '--stats'\?\); see 'x86ft run --help'\n$/],
      [['record', '--lgo', 'x'], /^x86ft record: unknown option --lgo \(did you mean '--log'\?\); see 'x86ft record --help'\n$/],
      [['ft', 'primery'], /did you mean 'primary'\?/],
      [['log', 'inspec'], /did you mean 'inspect'\?/],
      [['help', 'nope'], /^x86ft help: unknown command 'nope'; see 'x86ft help'\n$/],
      [['help', 'run', 'extra'], /^x86ft help: unexpected 'extra' \('run' has no subcommands\); see 'x86ft help'\n$/],
      [['help', 'ft', 'frob'], /^x86ft ft: unknown subcommand 'frob' /],
      [['--version', 'extra'], /^x86ft: --version takes no arguments/],
      [['ft'], /^x86ft ft: missing subcommand \(start, .*\); see 'x86ft ft --help'\n$/],
      [['log'], /^x86ft log: missing subcommand \(inspect, dump, diff\); see 'x86ft log --help'\n$/],
      [['record', 'guests/build/hello-O0.elf', '--log', '-'], /^x86ft record: --log -: a log goes to a file or a FIFO, not to stdout; see/],
      [['--verison'], /did you mean '--version'\?/],
      [['protect', 'guests/build/hello-O0.elf'], /^x86ft protect: .*--control.*; see 'x86ft protect --help'\n$/],
      [['protect', 'guests/build/hello-O0.elf', '--control', 'dir:/tmp/x', '--vn', 'a'], /did you mean '--vm'\?/],
      [['protect', 'guests/build/hello-O0.elf', '--control', 'dir:/tmp/x', '--failure-timeout-ms', 'abc'], /^x86ft protect: --failure-timeout-ms needs a whole number.*; see 'x86ft protect --help'\n$/],
      [['protect', 'guests/build/hello-O0.elf', '--control', 'dir:/tmp/x', '--heartbeat-ms', '600'], /^x86ft protect: --failure-timeout-ms must exceed --heartbeat-ms; see 'x86ft protect --help'\n$/],
      [['console', '--bogus'], /^x86ft console: unknown option --bogus; see 'x86ft console --help'\n$/],
      // log dump's --json is named in the help log inspect shares: no "did you mean '--json'" for itself
      [['log', 'inspect', '--json', 'a.log'], /^x86ft log inspect: unknown option --json; see 'x86ft log inspect --help'\n$/],
      [['log', 'dump', 'a.log', '--kind', 'bogus'], /^x86ft log dump: --kind needs one of .*; see 'x86ft log dump --help'\n$/],
      [['log', 'diff', 'a.log'], /^x86ft log diff: expected two logs A B; see 'x86ft log diff --help'\n$/],
      // a malformed guest is refused before ft start opens the control plane or waits for a host
      [['ft', 'start', 'README.md', '--vm', 'v', '--control', 'dir:/nonexistent/x86ft-usage'], /^x86ft ft start: README\.md: not an ELF file: bad magic\n$/],
    ];
    for (const [args, want] of cases) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(want);
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});

describe('parseArgs: the one command-line parser of every command', async () => {
  const { parseArgs } = await import('../../src/cli/args.js');
  const err = (f: () => unknown): string => { try { f(); } catch (e) { return (e as Error).message; } return 'no error'; };

  it('declared options and positionals; each option reaches `on` in command-line order, so the first problem is reported', () => {
    const seen: string[] = [];
    const p = parseArgs(['f.elf', '--stats', '--mem', '64M', '--disk', 'a', '--disk', 'b'], { flags: ['--stats'], values: ['--mem', '--disk'], maxPositionals: 1, on: (a, v) => seen.push(`${a}=${v}`) });
    expect(p.positionals).toEqual(['f.elf']);
    expect(seen).toEqual(['--stats=true', '--mem=64M', '--disk=a', '--disk=b']);
    expect(p.options.get('--disk')).toBe('b');
    const bad = { values: ['--mem'], on: (_: string, v: string | true) => { if (v === 'x') throw new Error(`bad size '${v}'`); } };
    expect(err(() => parseArgs(['--mem', 'x', '--bogus'], bad))).toBe("bad size 'x'");
    expect(err(() => parseArgs(['--bogus', '--mem', 'x'], bad))).toBe('unknown option --bogus');
  });

  it('the CLI\'s words for a missing value, an unknown option and one argument too many; empty values and - as declared', () => {
    expect(err(() => parseArgs(['--log'], { values: ['--log'] }))).toBe('--log needs a value');
    expect(err(() => parseArgs(['--log', ''], { values: ['--log'] }))).toBe('--log needs a value');
    expect(parseArgs(['--cmdline', ''], { values: ['--cmdline'], emptyOk: ['--cmdline'] }).options.get('--cmdline')).toBe('');
    expect(parseArgs(['--control', '--json'], { values: ['--control'], flags: ['--json'] }).options.get('--control')).toBe('--json');
    expect(err(() => parseArgs(['a', 'b'], { maxPositionals: 1 }))).toBe('unexpected argument b');
    expect(err(() => parseArgs(['-'], { maxPositionals: 1 }))).toBe('unknown option -');
    expect(parseArgs(['-'], { maxPositionals: 1, dashIsArgument: true }).positionals).toEqual(['-']);
    expect(err(() => parseArgs(['--head'], { values: ['--head'], missing: (a) => `${a} needs a non-negative integer` }))).toBe('--head needs a non-negative integer');
  });
});
