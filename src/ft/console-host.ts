// The console of a live primary (FT.md "Console, input and network, exactly once"): puts the
// console service (console-service.ts) on a running primary's machine. Released console bytes go
// to the service as well as to the console file; typed input is queued for the live gate (it is
// the role's consoleInput, so each byte the UART takes is logged, and replayed by the secondary);
// "input consumed through n" is confirmed when the role reports it ('input-consumed': released
// under the Output Rule). The service's address is published as the VM record's `consoleAddr`,
// where `x86ft console` and the `protect` supervisor find it. Made by `x86ft ft primary|secondary`
// (src/cli/ft.ts), started by the roles once their live machine exists (primary.ts, golive.ts);
// imports the control plane, the console service and store.ts, never the roles.

import type { ConsoleInput } from '../machine/gate.js';
import type { Machine } from '../machine/machine.js';
import type { OutputSeam } from '../machine/outputs.js';
import { ConsoleService } from './console-service.js';
import { updateVm, type ControlPlane } from './control.js';
import { ConsoleFile } from './store.js';
import { InvalidStateError } from '../errors.js';

export interface ConsoleHostOptions {
  control: ControlPlane;
  vm: string;
  hostId: string;
  /** Listen address of the service (default 127.0.0.1, any free port). */
  host?: string;
  /** Reports refused clients and record errors (stderr of the role). */
  onMessage?: (text: string) => void;
}

/** A console input that is also a live console: the roles start it once their machine runs. */
export interface LiveConsole extends ConsoleInput {
  attach(machine: Machine, seam: OutputSeam): void;
  listen(generation: number, consolePath: string): Promise<string>;
  end(reason: string, status: number | undefined): Promise<void>;
  close(): Promise<void>;
}

/** `input` as a LiveConsole when it is one (a ConsoleHost), else undefined. */
export function liveConsole(input: ConsoleInput | undefined): LiveConsole | undefined {
  return input instanceof ConsoleHost ? input : undefined;
}

/**
 * One per role process. Give it to the role as its console input (PrimaryOptions.consoleInput, also
 * the secondary's for after go-live) and feed it the role's 'input-consumed' events (consumed());
 * the role calls attach(machine, seam) and listen() once its live machine exists, end() when the
 * guest ended, close() last.
 */
export class ConsoleHost implements LiveConsole {
  private service: ConsoleService | undefined;
  /** Typed bytes accepted from the service, not yet taken by the guest's UART. */
  private queue: Uint8Array[] = [];
  private qBytes = 0;
  /** Input bytes the guest consumed, as released under the Output Rule (the role's events). */
  private through = 0;
  /** Console bytes released but not yet handed to the service: offset of out[0] and the bytes. */
  private outAt = 0;
  private out: number[] = [];
  private flushQueued = false;
  private history: ConsoleFile | undefined;
  private seam: OutputSeam | undefined;

  constructor(private readonly o: ConsoleHostOptions) {}

  /** The service's `host:port` once listening. */
  get addr(): string | null { return this.service ? `${this.service.host}:${this.service.port}` : null; }

  /** Whether typed bytes wait for the guest. */
  hasInput(): boolean { return this.qBytes > 0; }

  /** The live gate's console input: up to `max` typed bytes (the gate logs what it takes). */
  read(max: number): Uint8Array | null {
    if (this.qBytes === 0 || max <= 0) return null;
    const n = Math.min(max, this.qBytes);
    const bytes = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const head = this.queue[0]!;
      const take = Math.min(head.length, n - at);
      bytes.set(head.subarray(0, take), at);
      at += take;
      if (take === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(take);
    }
    this.qBytes -= n;
    return bytes;
  }

  /** The role's 'input-consumed' event: typed bytes before `through` were consumed, released. */
  consumed(through: number): void {
    if (through <= this.through) return;
    this.through = through;
    this.service?.confirmInput(through);
  }

  /** Console bytes released by the machine's seam also go to the service (wraps its console sink). */
  attach(_machine: Machine, seam: OutputSeam): void {
    this.seam = seam;
    const file = seam.sinks.console;
    seam.sinks = {
      ...seam.sinks,
      console: (byte, seq) => {
        file?.(byte, seq);
        this.output(seq - 1, byte);
      },
    };
  }

  /**
   * Starts the service for `generation`: console bytes before the seam's console release mark are
   * history (read from `consolePath`), typed input continues after what the guest consumed.
   * Publishes the address as the VM record's `consoleAddr`.
   */
  async listen(generation: number, consolePath: string): Promise<string> {
    const { control, vm, hostId } = this.o;
    const seam = this.seam;
    if (!seam) throw new InvalidStateError('console host: attach() first');
    this.history = ConsoleFile.open(consolePath);
    const history = this.history;
    this.outAt = seam.completed()['console'] ?? 0;
    this.out = [];
    this.service = await ConsoleService.listen({
      secret: await control.secret(), vm, hostId, generation, host: this.o.host ?? '127.0.0.1', port: 0,
      consoleStart: this.outAt,
      readHistory: async (from, to) => history.read(from, to - from),
      inputStart: this.through, inputConfirmed: this.through,
      onInput: (_offset, bytes) => { this.queue.push(bytes.slice()); this.qBytes += bytes.length; },
      onReject: (err, remote) => this.o.onMessage?.(`console: refused a client from ${remote}: ${err.message}`),
    });
    const addr = this.addr!;
    try {
      // A new primary publishes before (or while) it records its generation: it may set both.
      await updateVm(control, vm, (r) => (r.generation <= generation ? { ...r, generation, consoleAddr: addr } : undefined));
    } catch (e) {
      this.o.onMessage?.(`console: could not publish ${addr} in the VM record: ${(e as Error).message}`);
    }
    return addr;
  }
  private output(offset: number, byte: number): void {
    if (!this.service) return; // before listen(): the file has it, the service starts after it
    if (offset !== this.outAt + this.out.length) {
      this.flush();
      this.outAt = offset;
    }
    this.out.push(byte);
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.out.length === 0 || !this.service) return;
    const bytes = Uint8Array.from(this.out);
    const at = this.outAt;
    this.outAt += bytes.length;
    this.out = [];
    try {
      this.service.output(at, bytes);
    } catch (e) {
      this.o.onMessage?.(`console: ${(e as Error).message}`);
    }
  }

  /** The guest ended: clients get the rest of the console, then bye (with the exit status). Waits up
   *  to `waitMs` for the clients to take it and leave. */
  async end(reason: string, status: number | undefined, waitMs = 3000): Promise<void> {
    this.flush();
    const s = this.service;
    if (!s) return;
    s.end(reason, status);
    const until = Date.now() + waitMs;
    while (s.clientCount > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  /** Stops the service (clients reconnect to the next primary) and closes the history file. */
  async close(): Promise<void> {
    this.flush();
    await this.service?.close().catch(() => undefined);
    this.history?.close();
    this.history = undefined;
  }
}
