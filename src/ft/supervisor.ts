// The `x86ft protect` supervisor: a process separate from both FT roles that starts a primary
// (`x86ft ft primary`, host id local-a) and a secondary (`x86ft ft secondary`, host id local-b) as
// two processes on this machine, survives the death of either (the other goes on, not protected),
// carries the guest's console to its stdout exactly once through the console service (resuming at
// its byte offset after a failover), forwards stdin as exactly-once typed input, ends both roles on
// SIGINT/SIGTERM, and ends with the guest's exit status. Imports the control plane, the console
// client and store.ts; the roles run in their own processes (SIGKILL of one is a real failover).

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { forwardStderrLines, roleNamed } from './child-stderr.js';
import { ConsoleClient, type ConsoleEnd } from './console-service.js';
import { openControl, type ControlPlane, type VmRecord } from './control.js';
import { ConsoleFile, storePath } from './store.js';
import { X86ftError } from '../errors.js';

/** Host ids of the two roles protect starts (FT.md: distinct hosts, here two processes on this machine). */
export const PRIMARY_HOST = 'local-a';
export const SECONDARY_HOST = 'local-b';

/** Exit statuses of `x86ft protect` other than the guest's own (README "Fault tolerance"). */
export const PROTECT_EXIT = { lost: 1, usage: 2, stopped: 130 } as const;

export interface SupervisorOptions {
  /** The guest ELF (as given). */
  image: string;
  /** `--control` spec (dir:PATH). */
  control: string;
  vm: string;
  /** Options passed to the primary as given: --console-file, --store, FT and machine options. */
  primaryArgs: string[];
  /** Options passed to the secondary as given (FT options, --store, --digest-every). */
  secondaryArgs: string[];
  /** Forward stdin as typed input (false: --no-input). */
  input: boolean;
  stdin?: NodeJS.ReadableStream;
  /** Console bytes only. */
  stdout: NodeJS.WritableStream;
  /** Messages (this supervisor's and the roles', prefixed). */
  stderr: NodeJS.WritableStream;
  /** The x86ft CLI entry (default: this build's dist/src/cli/main.js). */
  cli?: string;
  /** Called with each role process once started (tests kill them). */
  onRole?: (role: 'primary' | 'secondary', child: ChildProcess) => void;
}

interface Role {
  /** The role the process plays now (a secondary that went live is the primary: roleNamed). */
  name: 'primary' | 'secondary';
  host: string;
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  done?: { code: number | null; signal: NodeJS.Signals | null };
}

const POLL_MS = 50;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Supervisor {
  private roles: Role[] = [];
  private stopping = false;
  private control: ControlPlane | undefined;
  private client: ConsoleClient | undefined;
  private written = 0; // console bytes written to stdout
  private created = false; // our primary created the VM (its record names our primary)

  constructor(private readonly o: SupervisorOptions) {}

  private say(text: string): void {
    this.o.stderr.write(`x86ft protect: ${text}\n`);
  }

  /** Ends both roles (SIGTERM; SIGKILL after 5 s); run() then resolves with 130. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.say('stopping both roles');
    for (const r of this.roles) if (!r.done) r.child.kill('SIGTERM');
    setTimeout(() => { for (const r of this.roles) if (!r.done) r.child.kill('SIGKILL'); }, 5000).unref();
  }

  /** Runs the pair to the guest's end; resolves with the exit status (never rejects). */
  async run(): Promise<number> {
    try {
      return await this.runPair();
    } catch (e) {
      this.say((e as Error).message);
      for (const r of this.roles) if (!r.done) r.child.kill('SIGTERM');
      await Promise.all(this.roles.map((r) => r.exit));
      // a control directory others can read (plain mkdir), or not this user's: an argument to fix, not a lost guest
      if (!this.control && (e as { code?: string }).code === 'PERMISSIONS') return PROTECT_EXIT.usage;
      return PROTECT_EXIT.lost;
    } finally {
      this.client?.close();
      await this.control?.close().catch(() => undefined);
    }
  }

  private spawnRole(name: 'primary' | 'secondary', host: string, args: string[]): Role {
    const cli = this.o.cli ?? fileURLToPath(new URL('../cli/main.js', import.meta.url));
    const child = spawn(process.execPath, [cli, 'ft', name, ...args, '--host-id', host], { stdio: ['ignore', 'ignore', 'pipe'] });
    const flushStderr = forwardStderrLines(child, (line) => { role.name = roleNamed(line) ?? role.name; return `[${role.name} ${host} pid ${child.pid}] `; }, this.o.stderr);
    const role: Role = {
      name, host, child,
      exit: new Promise((resolve) => {
        child.on('error', (e) => { this.say(`cannot start the ${name}: ${e.message}`); role.done = { code: 1, signal: null }; resolve(role.done); });
        child.on('exit', (code, signal) => {
          flushStderr();
          role.done = { code, signal };
          resolve(role.done);
        });
      }),
    };
    this.roles.push(role);
    this.o.onRole?.(name, child);
    return role;
  }

  private async runPair(): Promise<number> {
    const o = this.o;
    const cp = (this.control = await openControl(o.control));
    const primary = this.spawnRole('primary', PRIMARY_HOST, [o.image, '--control', o.control, '--vm', o.vm, '--listen', '127.0.0.1:0', ...o.primaryArgs]);
    // The secondary needs the primary's channel address from the VM record.
    let rec: VmRecord | undefined;
    for (;;) {
      if (primary.done) return this.finish(await this.readRecord(), 'the primary ended before it was ready');
      if (this.stopping) return this.finish(undefined, 'stopped');
      rec = await this.readRecord();
      if (rec && rec.primary?.pid === primary.child.pid && rec.primary?.addr && rec.state !== 'ended') { this.created = true; break; }
      await sleep(POLL_MS);
    }
    const secondary = this.spawnRole('secondary', SECONDARY_HOST, ['--control', o.control, '--vm', o.vm, ...o.secondaryArgs]);
    this.say(`VM '${o.vm}' generation ${rec.generation}: primary pid ${primary.child.pid} (${PRIMARY_HOST}), secondary pid ${secondary.child.pid} (${SECONDARY_HOST})`);
    for (const r of this.roles) void r.exit.then((d) => this.roleEnded(r, d));
    const secret = await cp.secret();
    const clientEnd = this.startConsole(secret);
    // Both roles end: the guest ended (both exit), or one died and the other ran the guest to its end.
    await Promise.all(this.roles.map((r) => r.exit));
    // No console service is left: take what the open connection still carries, then the console file has
    // the rest (finish). Waiting for a goodbye the client may never get (it was between connections when
    // the guest ended) cost 3 s per run.
    const end = await Promise.race([clientEnd, this.client!.disconnected().then(() => undefined)]);
    return this.finish(await this.readRecord(), end ? undefined : 'the console service ended without saying goodbye');
  }

  private async readRecord(): Promise<VmRecord | undefined> {
    try {
      return await this.control!.readVm(this.o.vm);
    } catch (e) {
      this.say(`control plane: ${(e as Error).message}`);
      return undefined;
    }
  }

  private async roleEnded(r: Role, d: { code: number | null; signal: NodeJS.Signals | null }): Promise<void> {
    if (this.stopping) return;
    const other = this.roles.find((x) => x !== r && !x.done);
    // the survivor by pid too: it may already be labelled 'primary' (it went live) when the killed primary is reported
    if (d.signal) this.say(`the ${r.name} (pid ${r.child.pid}) was killed by ${d.signal}${other ? `; the ${other.name} (pid ${other.child.pid}) goes on alone (not protected)` : ''}`);
    else if (d.code !== 0 && other) {
      // a primary whose guest ended exits with the guest's status (as `x86ft run`): that is no failure
      if ((await this.readRecord())?.state === 'ended') return;
      this.say(`the ${r.name} (pid ${r.child.pid}) exited with status ${d.code}; the ${other.name} (pid ${other.child.pid}) goes on`);
    }
  }

  /** The console client: output to stdout exactly once, stdin as typed input. */
  private startConsole(secret: Buffer): Promise<ConsoleEnd> {
    const o = this.o;
    const client = (this.client = new ConsoleClient({
      secret, vm: o.vm, hostId: 'protect', input: o.input,
      locate: async () => {
        const rec = await this.control!.readVm(o.vm);
        if (rec?.state === 'ended') return null; // finish() writes the rest from the console file
        const m = rec?.consoleAddr ? /^(.*):(\d+)$/.exec(rec.consoleAddr) : null;
        if (!m) throw new X86ftError('X86FT_NOT_FOUND', `VM '${o.vm}' has no console service yet`);
        return { host: m[1]!, port: Number(m[2]) };
      },
      onOutput: (bytes) => {
        this.written += bytes.length;
        o.stdout.write(bytes);
      },
      retryMs: 50,
    }));
    if (o.input && o.stdin) {
      const stdin = o.stdin;
      const onData = (b: Buffer): void => client.type(b);
      stdin.on('data', onData);
      stdin.on('error', () => undefined);
      // stdin at its end (`protect … </dev/null`): the input is free for `x86ft console` once what was read is consumed
      stdin.on('end', () => client.endInput());
      void client.done.then(() => {
        stdin.off('data', onData);
        (stdin as NodeJS.ReadableStream & { pause?: () => void }).pause?.();
      });
    }
    return client.done;
  }

  /**
   * Both roles have exited: write whatever console bytes the client did not get (the console file
   * holds every released byte at its offset) and choose the exit status.
   */
  private async finish(rec: VmRecord | undefined, problem: string | undefined): Promise<number> {
    this.client?.close();
    for (const r of this.roles) if (!r.done) r.child.kill('SIGTERM');
    await Promise.all(this.roles.map((r) => r.exit));
    if (rec && this.created) this.drainConsoleFile(rec);
    if (this.stopping) return PROTECT_EXIT.stopped;
    if (this.created && rec?.state === 'ended') {
      // The role that ran the guest to its end exits with the guest's status (as `x86ft run`).
      const last = this.roles.find((r) => r.child.pid === rec.primary?.pid && r.done && r.done.signal === null);
      if (last) return last.done!.code ?? PROTECT_EXIT.lost;
      if (rec.exitStatus !== null) return rec.exitStatus;
    }
    const primary = this.roles.find((r) => r.name === 'primary');
    if (!this.created && primary?.done && primary.done.code !== null && primary.done.code !== 0) return primary.done.code; // e.g. 2: bad arguments, VM running
    this.say(`the guest was lost: ${problem ?? `both roles ended, VM '${this.o.vm}' is ${rec?.state ?? 'unknown'}`}`);
    return PROTECT_EXIT.lost;
  }

  private drainConsoleFile(rec: VmRecord): void {
    const path = consoleFilePath(rec);
    try {
      this.written = copyConsoleFile(path, this.written, (b) => this.o.stdout.write(b));
    } catch (e) {
      this.say(`console file ${path}: ${(e as Error).message}`);
    }
  }
}

/** Where VM `rec` keeps its console file. */
export function consoleFilePath(rec: VmRecord): string {
  return rec.config.consoleFile ?? storePath(rec.config.store, rec.name, { kind: 'console' });
}

/** Writes the console file's bytes from offset `from` on to `write`; returns the offset reached. */
export function copyConsoleFile(path: string, from: number, write: (b: Uint8Array) => void): number {
  const f = ConsoleFile.open(path);
  try {
    for (;;) {
      const b = f.read(from, 64 * 1024);
      if (b.length === 0) return from;
      from += b.length;
      write(b);
    }
  } finally {
    f.close();
  }
}
