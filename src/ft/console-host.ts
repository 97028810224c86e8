// The console of a live primary (FT.md "Console, input and network, exactly once"): puts the
// console service (console-service.ts) on a running primary's machine. Released console bytes go
// to the service as well as to the console file; typed input is queued for the live gate (it is
// the gate's ConsoleInput, so each byte the UART takes is logged, and replayed by the secondary);
// "input consumed through n" is confirmed only once the output seam released past the instruction
// that took byte n-1 (the Output Rule), or at once when the primary runs not protected. The
// service's address is published as the VM record's `consoleAddr`, where `x86ft console` and the
// `protect` supervisor find it. Used by primary.ts (creation) and secondary.ts (after go-live);
// imports the control plane, the console service and store.ts, never the roles.

import type { ConsoleInput } from '../machine/gate.js';
import type { Machine } from '../machine/machine.js';
import type { OutputSeam } from '../machine/outputs.js';
import { ConsoleService } from './console-service.js';
import { updateVm, type ControlPlane } from './control.js';
import { ConsoleFile } from './store.js';

export interface ConsoleHostOptions {
  control: ControlPlane;
  vm: string;
  hostId: string;
  generation: number;
  /** Path of the VM's console file (history for clients that resume before what memory keeps). */
  consolePath: string;
  /** Listen address of the service (default 127.0.0.1, any free port). */
  host?: string;
  /** Reports refused clients and record errors (stderr of the role). */
  onMessage?: (text: string) => void;
}

/**
 * One per live primary. Construct it before the machine's live gate (it is that gate's console
 * input), then `attach(machine, seam)` once the machine exists and `listen()`; `end()` when the
 * guest ended, `close()` last.
 */
export class ConsoleHost implements ConsoleInput {
  private service: ConsoleService | undefined;
  private machine: Machine | undefined;
  private seam: OutputSeam | undefined;
  /** Typed bytes accepted from the service, not yet taken by the UART. */
  private queue: Uint8Array[] = [];
  private qBytes = 0;
  /** [icount, consumed through] of takes not yet confirmed (waiting for the Output Rule). */
  private waiting: [number, number][] = [];
  /** Console bytes released but not yet handed to the service: offset of out[0] and the bytes. */
  private outAt = 0;
  private out: number[] = [];
  private flushQueued = false;
  private history: ConsoleFile | undefined;

  constructor(private readonly o: ConsoleHostOptions) {}

  /** The service's `host:port` once listening. */
  get addr(): string | null { return this.service ? `${this.service.host}:${this.service.port}` : null; }

  /** The live gate's console input: up to `max` typed bytes; each take is stamped for the Output Rule. */
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
    // The UART counts what it takes after this returns: consumed through = its count + n.
    const through = (this.machine?.uart.rxTotal ?? 0) + n;
    if (this.seam?.mode === 'hold') this.waiting.push([this.machine?.cpu.icount ?? 0, through]);
    else queueMicrotask(() => this.service?.confirmInput(through));
    return bytes;
  }

  /**
   * Hooks the machine: console bytes released by its seam also go to the service; releases confirm
   * consumed input. Call after the seam's sinks are set (wraps its console sink).
   */
  attach(machine: Machine, seam: OutputSeam): void {
    this.machine = machine;
    this.seam = seam;
    const file = seam.sinks.console;
    seam.sinks = {
      ...seam.sinks,
      console: (byte, seq) => {
        file?.(byte, seq);
        this.output(seq - 1, byte);
      },
    };
    seam.onRelease = (upTo) => {
      let through = -1;
      while (this.waiting.length && this.waiting[0]![0] <= upTo) through = this.waiting.shift()![1];
      if (through >= 0) this.service?.confirmInput(through);
    };
  }

  /**
   * Starts the service: console bytes before the seam's console release mark are history (the
   * console file), typed input continues after what the UART has taken. Publishes `consoleAddr`.
   */
  async listen(): Promise<string> {
    const { control, vm, hostId, generation } = this.o;
    const machine = this.machine, seam = this.seam;
    if (!machine || !seam) throw new Error('console host: attach() first');
    this.flush();
    this.history = ConsoleFile.open(this.o.consolePath);
    const consumed = machine.uart.rxTotal;
    const history = this.history;
    this.outAt = seam.completed()['console'] ?? 0;
    this.out = [];
    this.service = await ConsoleService.listen({
      secret: await control.secret(), vm, hostId, generation, host: this.o.host ?? '127.0.0.1', port: 0,
      consoleStart: this.outAt,
      readHistory: async (from, to) => history.read(from, to - from),
      inputStart: consumed, inputConfirmed: consumed,
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
