// Hosts as network namespaces (FT.md "What the tests must show"), shared by the network tests: names
// unique per run, links made only between the test's own namespaces (no route to anything else), and
// remove() deletes every namespace made (their veth pairs and bridge go with them), also after a failure.
// Needs root and iproute2 (`.ci/run` installs it); netnsUnavailable() words the failure when they are missing.

import { execFileSync } from 'node:child_process';

export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** 7 characters unique to this process and call: namespace and interface names (interfaces: at most 15 bytes). */
function uniqueTag(): string {
  return `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`.slice(-7);
}

/** The error a test fails with (never skips) when namespaces cannot be made here. */
export function netnsUnavailable(e: unknown): Error {
  const why = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
  return new Error(`network namespaces are unavailable (ip netns/veth failed: ${why}); this test needs root and iproute2 (.ci/run installs it)`);
}

/** Two namespaces joined by one veth pair (nothing else: no route anywhere but to each other). */
export class NetPair {
  readonly a: string; readonly b: string;
  private readonly va: string; private readonly vb: string;
  private made: string[] = [];

  constructor(readonly aAddr: string, readonly bAddr: string) {
    const tag = uniqueTag();
    this.a = `x86ft-${tag}-a`; this.b = `x86ft-${tag}-b`;
    this.va = `xfa${tag}`; this.vb = `xfb${tag}`;
  }

  create(): void {
    for (const ns of [this.a, this.b]) { ip('netns', 'add', ns); this.made.push(ns); }
    ip('link', 'add', this.va, 'netns', this.a, 'type', 'veth', 'peer', 'name', this.vb, 'netns', this.b);
    ip('-n', this.a, 'addr', 'add', `${this.aAddr}/30`, 'dev', this.va);
    ip('-n', this.b, 'addr', 'add', `${this.bAddr}/30`, 'dev', this.vb);
    for (const [ns, dev] of [[this.a, this.va], [this.b, this.vb]] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
  }

  /** Cut (down) or heal (up) the link, both ends. */
  link(up: boolean): void {
    ip('-n', this.a, 'link', 'set', this.va, up ? 'up' : 'down');
    ip('-n', this.b, 'link', 'set', this.vb, up ? 'up' : 'down');
  }

  /** Deleting the namespaces destroys the veth pair with them. */
  remove(): void {
    for (const ns of this.made.splice(0)) { try { ip('netns', 'del', ns); } catch { /* already gone */ } }
  }
}

/** One namespace per host, each joined by a veth pair to a bridge in a switch namespace of its own: a LAN
 *  of `ids` (10.214.0.1, .2, … in the order given) that reaches nothing else. */
export class HostLan {
  private readonly tag = uniqueTag();
  private readonly sw = `x86ft-${this.tag}-sw`;
  private made: string[] = [];

  constructor(readonly ids: string[]) {}

  /** The namespace of host `id`. */
  ns(id: string): string { return `x86ft-${this.tag}-${this.index(id)}`; }
  /** The IP address of host `id` on the LAN. */
  addr(id: string): string { return `10.214.0.${this.index(id) + 1}`; }

  private index(id: string): number {
    const k = this.ids.indexOf(id);
    if (k < 0) throw new Error(`no host ${id} on this LAN`);
    return k;
  }
  private dev(id: string): { host: string; port: string } { const k = this.index(id); return { host: `xh${this.tag}${k}`, port: `xs${this.tag}${k}` }; }

  create(): void {
    ip('netns', 'add', this.sw); this.made.push(this.sw);
    ip('-n', this.sw, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.sw, 'link', 'set', 'br0', 'up');
    for (const id of this.ids) {
      const ns = this.ns(id), d = this.dev(id);
      ip('netns', 'add', ns); this.made.push(ns);
      ip('link', 'add', d.host, 'netns', ns, 'type', 'veth', 'peer', 'name', d.port, 'netns', this.sw);
      ip('-n', this.sw, 'link', 'set', d.port, 'master', 'br0');
      ip('-n', this.sw, 'link', 'set', d.port, 'up');
      ip('-n', ns, 'addr', 'add', `${this.addr(id)}/24`, 'dev', d.host);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', d.host, 'up');
    }
  }

  /** Host `id` drops off the LAN: its link goes down at both ends (nothing it sends arrives any more: no FIN, no RST). */
  cut(id: string): void {
    const d = this.dev(id);
    ip('-n', this.ns(id), 'link', 'set', d.host, 'down');
    ip('-n', this.sw, 'link', 'set', d.port, 'down');
  }

  /** Host `id`'s namespace is deleted (its interfaces with it). */
  removeHost(id: string): void {
    const ns = this.ns(id);
    if (!this.made.includes(ns)) return;
    this.made = this.made.filter((n) => n !== ns);
    try { ip('netns', 'del', ns); } catch { /* already gone */ }
  }

  /** Deletes every namespace made (veth pairs and the bridge go with them). */
  remove(): void {
    for (const ns of this.made.splice(0)) { try { ip('netns', 'del', ns); } catch { /* already gone */ } }
  }
}
