// The `dir:PATH` control-plane backend: a shared directory (one machine, or a shared file system whose hosts
// share a clock). Owns the layout below; imports only control.ts and Node. Access control = the 0700 directory;
// every stored value is also HMAC-signed with the cluster secret (control.ts Signer).
//
//   PATH/                      0700, owned by this user (refused otherwise)
//   PATH/secret                cluster secret, 64 hex digits, 0600 (refused otherwise)
//   PATH/vms/NAME/claims/G.json        claim of generation G: link(2)-created (create-if-absent), fsynced
//   PATH/vms/NAME/record/REV.json      record revision REV (12 digits): link(2)-created, the highest is current
//   PATH/hosts/ID.json         host record with lease expiry, replaced by rename(2); readers check expiresAt
//   PATH/spawn/ID.json         spawn request (link-created), PATH/spawn/ID.decision.json its one decision
//   PATH/tmp/                  temporaries (same file system, so link and rename are atomic)
//
// Why link(2) and not open(O_EXCL) + write: link publishes a file whose content is complete, atomically and only
// if the name is absent; with O_EXCL a loser could read an empty claim, and a winner killed between create and
// write would leave a claim naming no one. Watches: fs.watch events, backed by a full poll every `pollMs`
// (default DIR_POLL_MS = 1000 ms; DirWatch).

import { randomBytes } from 'node:crypto';
import { promises as fsp, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { startLeaseThread } from './lease-thread.js';
import {
  type ClaimResult,
  type ControlEvent,
  type ControlPlane,
  type HostLease,
  type HostRecord,
  type OpenControlOptions,
  type Owner,
  type SpawnDecision,
  type SpawnEntry,
  type SpawnRequest,
  type VmRecord,
  type Watch,
  ControlError,
  Signer,
  checkGeneration,
  checkLeaseMs,
  checkName,
  checkOwner,
  checkRecord,
  loadOrCreateSecret,
  newSpawnId,
  claimKey,
  recordKey,
  hostKey,
  spawnKey,
  decisionKey,
  checkSpawn,
  skipForged,
  publicHost,
} from './control.js';

/** Record revisions kept on disk besides the current one (older ones are removed by the writer). */
const KEEP_REVS = 4;
const REV_DIGITS = 12;
/** A dir: watch's full poll (the backup of its fs.watch events; a lease running out is seen by it): ms. */
export const DIR_POLL_MS = 1000;

type StoredHost = HostRecord & { token: string };

export async function openDirControl(path: string, opts: OpenControlOptions = {}): Promise<DirControl> {
  if (opts.mustExist && !(await fsp.stat(path).catch(() => undefined))) {
    throw new ControlError('UNAVAILABLE', `control directory ${path} does not exist (no cluster there; nothing was created)`);
  }
  try {
    await fsp.mkdir(path, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new ControlError('UNAVAILABLE', `control directory ${path} cannot be created: ${(e as Error).message}`);
  }
  const st = await fsp.stat(path);
  if (!st.isDirectory()) throw new ControlError('UNAVAILABLE', `control path ${path} is not a directory`);
  if ((st.mode & 0o077) !== 0)
    throw new ControlError(
      'PERMISSIONS',
      `control directory ${path} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); it is the ` +
        `access control of the cluster: chmod 700 ${path}`,
    );
  if (typeof process.getuid === 'function' && st.uid !== process.getuid())
    throw new ControlError('PERMISSIONS', `control directory ${path} belongs to uid ${st.uid}, not to this user (uid ${process.getuid()})`);
  for (const d of ['vms', 'hosts', 'spawn', 'tmp']) await fsp.mkdir(join(path, d), { recursive: true, mode: 0o700 });
  const secret = await loadOrCreateSecret(join(path, 'secret'));
  return new DirControl(path, secret, opts);
}

export class DirControl implements ControlPlane {
  readonly spec: string;
  private readonly signer: Signer;
  private closed = false;
  private readonly watches = new Set<DirWatch>();

  constructor(
    readonly path: string,
    private readonly secretBytes: Buffer,
    private readonly opts: OpenControlOptions,
  ) {
    this.spec = `dir:${path}`;
    this.signer = new Signer(secretBytes);
  }

  async secret(): Promise<Buffer> {
    this.live();
    return Buffer.from(this.secretBytes);
  }

  // ── claims ──

  async claim(vm: string, generation: number, owner: Owner): Promise<ClaimResult> {
    this.live();
    checkName('VM name', vm);
    checkGeneration(generation);
    checkOwner(owner);
    const dir = join(this.path, 'vms', vm, 'claims');
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    if (generation > 1 && !(await exists(join(dir, `${generation - 1}.json`))))
      throw new ControlError('CLAIM_GAP', `cannot claim generation ${generation} of '${vm}': generation ${generation - 1} is unclaimed`);
    const key = claimKey(vm, generation);
    const value: Owner = { hostId: owner.hostId, pid: owner.pid, ...(owner.addr !== undefined ? { addr: owner.addr } : {}) };
    if (await this.publish(join(dir, `${generation}.json`), this.signer.seal(key, value), true)) return { won: true };
    const winner = await this.claimOwner(vm, generation);
    if (!winner) throw new ControlError('UNAVAILABLE', `claim ${key} exists but cannot be read`);
    return { won: false, owner: winner };
  }

  async generation(vm: string): Promise<number> {
    this.live();
    checkName('VM name', vm);
    let max = 0;
    for (const f of await listDir(join(this.path, 'vms', vm, 'claims'))) {
      const m = /^(\d+)\.json$/.exec(f);
      if (m) max = Math.max(max, Number(m[1]));
    }
    return max;
  }

  async claimOwner(vm: string, generation: number): Promise<Owner | undefined> {
    this.live();
    checkName('VM name', vm);
    checkGeneration(generation);
    const text = await readText(join(this.path, 'vms', vm, 'claims', `${generation}.json`));
    return text === undefined ? undefined : this.signer.open<Owner>(claimKey(vm, generation), text);
  }

  // ── records ──

  async readVm(vm: string): Promise<VmRecord | undefined> {
    this.live();
    checkName('VM name', vm);
    const dir = join(this.path, 'vms', vm, 'record');
    for (;;) {
      const rev = await this.currentRev(dir);
      if (rev === 0) return undefined;
      const text = await readText(join(dir, revFile(rev)));
      if (text === undefined) continue; // pruned after a newer revision was published: read that one
      const rec = this.signer.open<VmRecord>(recordKey(vm), text);
      rec.rev = rev;
      return rec;
    }
  }

  async writeVm(rec: VmRecord, opts: { expectRev?: number } = {}): Promise<number> {
    this.live();
    checkRecord(rec);
    const dir = join(this.path, 'vms', rec.name, 'record');
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const claimed = await this.generation(rec.name);
    if (rec.generation < claimed)
      throw new ControlError(
        'STALE_GENERATION',
        `record of '${rec.name}' for generation ${rec.generation} refused: generation ${claimed} has been claimed`,
      );
    const value: VmRecord = { ...rec, rev: 0 };
    const text = this.signer.seal(recordKey(rec.name), value);
    for (;;) {
      const cur = await this.currentRev(dir);
      if (opts.expectRev !== undefined && cur !== opts.expectRev)
        throw new ControlError('CONFLICT', `record of '${rec.name}' is at revision ${cur}, not ${opts.expectRev}`);
      const next = cur + 1;
      if (await this.publish(join(dir, revFile(next)), text, false)) {
        for (const f of await listDir(dir)) {
          const r = parseRev(f);
          if (r > 0 && r <= next - KEEP_REVS - 1) await fsp.unlink(join(dir, f)).catch(() => {});
        }
        return next;
      }
      if (opts.expectRev !== undefined)
        throw new ControlError('CONFLICT', `record of '${rec.name}' was written by another writer at revision ${next}`);
    }
  }

  async listVms(): Promise<VmRecord[]> {
    this.live();
    const out: VmRecord[] = [];
    for (const name of (await listDir(join(this.path, 'vms'))).sort()) {
      try {
        checkName('VM name', name);
        const rec = await this.readVm(name);
        if (rec) out.push(rec);
      } catch (e) {
        skipForged(e, this.opts);
      }
    }
    return out;
  }

  // ── hosts ──

  async registerHost(host: { id: string; addr: string | null; pid: number; tls?: string | null }, leaseMs: number): Promise<HostLease> {
    this.live();
    checkName('host id', host.id);
    checkLeaseMs(leaseMs);
    const file = join(this.path, 'hosts', `${host.id}.json`);
    const old = await this.readHostFile(host.id).catch((e: unknown) => {
      if (e instanceof ControlError && e.code === 'TAMPERED') return undefined; // a forged lease file never blocks a real host
      throw e;
    });
    if (old && old.expiresAt > Date.now())
      throw new ControlError(
        'HOST_EXISTS',
        `host '${host.id}' is registered (pid ${old.pid}) with a lease running ${old.expiresAt - Date.now()} ms more`,
      );
    const now = Date.now();
    const token = randomBytes(12).toString('hex');
    const rec: StoredHost = { id: host.id, addr: host.addr, pid: host.pid, leaseMs, registeredAt: now, renewedAt: now, expiresAt: now + leaseMs, token, ...(host.tls !== undefined ? { tls: host.tls } : {}) };
    await this.replace(file, this.signer.seal(hostKey(host.id), rec));
    const ino = await fsp.stat(file).then((st) => st.ino, () => -1);
    return new DirLease(this, host.id, leaseMs, token, rec, file, ino);
  }

  /** @internal lease renewal: same token and not expired, else LEASE_EXPIRED. */
  async renewHost(id: string, token: string, base: StoredHost): Promise<void> {
    this.live();
    const cur = await this.readHostFile(id).catch(() => undefined);
    const now = Date.now();
    if (!cur || cur.token !== token) throw new ControlError('LEASE_EXPIRED', `lease of host '${id}' was taken over or removed`);
    if (cur.expiresAt <= now) throw new ControlError('LEASE_EXPIRED', `lease of host '${id}' ran out ${now - cur.expiresAt} ms ago`);
    void base;
    // Renewal only moves the file's mtime (expiry = mtime + leaseMs): utimes never creates the file, so
    // a renewal racing a release (or an expiry and a new registration) cannot resurrect a dead lease,
    // as a read-then-rename would.
    const t = new Date(now);
    try {
      await fsp.utimes(join(this.path, 'hosts', `${id}.json`), t, t);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ControlError('LEASE_EXPIRED', `lease of host '${id}' was removed`);
      throw new ControlError('UNAVAILABLE', `cannot renew the lease of host '${id}': ${(e as Error).message}`);
    }
  }

  /** @internal */
  async releaseHost(id: string, token: string): Promise<void> {
    const cur = await this.readHostFile(id).catch(() => undefined);
    if (cur && cur.token === token) await fsp.unlink(join(this.path, 'hosts', `${id}.json`)).catch(() => {});
  }

  async listHosts(): Promise<HostRecord[]> {
    this.live();
    const now = Date.now();
    const out: HostRecord[] = [];
    for (const f of (await listDir(join(this.path, 'hosts'))).sort()) {
      const m = /^(.+)\.json$/.exec(f);
      if (!m) continue;
      try {
        const h = await this.readHostFile(m[1]!);
        if (h && h.expiresAt > now) out.push(publicHost(h));
      } catch (e) {
        if (e instanceof ControlError && e.code === 'TAMPERED') this.opts.onTampered?.(e);
        else throw e;
      }
    }
    return out;
  }

  /** The lease as stored; renewals show as the file's mtime (see renewHost), folded into renewedAt/expiresAt. */
  private async readHostFile(id: string): Promise<StoredHost | undefined> {
    const file = join(this.path, 'hosts', `${id}.json`);
    const text = await readText(file);
    if (text === undefined) return undefined;
    const rec = this.signer.open<StoredHost>(hostKey(id), text);
    const mtime = await fsp.stat(file).then((st) => Math.floor(st.mtimeMs), () => 0);
    if (mtime > rec.renewedAt) { rec.renewedAt = mtime; rec.expiresAt = mtime + rec.leaseMs; }
    return rec;
  }

  // ── spawn requests ──

  async postSpawn(req: SpawnRequest): Promise<string> {
    this.live();
    const r: SpawnRequest = { ...req, id: req.id === '' ? newSpawnId() : req.id };
    checkSpawn(r);
    if (!(await this.publish(join(this.path, 'spawn', `${r.id}.json`), this.signer.seal(spawnKey(r.id), r), false)))
      throw new ControlError('BAD_ARGUMENT', `spawn request '${r.id}' exists already`);
    return r.id;
  }

  async readSpawn(id: string): Promise<SpawnEntry | undefined> {
    this.live();
    checkName('spawn id', id);
    const text = await readText(join(this.path, 'spawn', `${id}.json`));
    if (text === undefined) return undefined;
    const request = this.signer.open<SpawnRequest>(spawnKey(id), text);
    const dtext = await readText(join(this.path, 'spawn', `${id}.decision.json`));
    const decision = dtext === undefined ? null : this.signer.open<SpawnDecision>(decisionKey(id), dtext);
    return { request, decision };
  }

  async listSpawns(filter: { host?: string; undecided?: boolean } = {}): Promise<SpawnEntry[]> {
    this.live();
    const out: SpawnEntry[] = [];
    for (const f of (await listDir(join(this.path, 'spawn'))).sort()) {
      const m = /^([^.][^/]*?)\.json$/.exec(f);
      if (!m || f.endsWith('.decision.json')) continue;
      try {
        checkName('spawn id', m[1]!);
        const e = await this.readSpawn(m[1]!);
        if (!e) continue;
        if (filter.host !== undefined && e.request.host !== filter.host) continue;
        if (filter.undecided && e.decision) continue;
        out.push(e);
      } catch (e) {
        skipForged(e, this.opts);
      }
    }
    return out;
  }

  async decideSpawn(id: string, decision: SpawnDecision): Promise<SpawnDecision> {
    this.live();
    checkName('spawn id', id);
    if (!(await exists(join(this.path, 'spawn', `${id}.json`)))) throw new ControlError('NOT_FOUND', `no spawn request '${id}'`);
    const file = join(this.path, 'spawn', `${id}.decision.json`);
    if (await this.publish(file, this.signer.seal(decisionKey(id), decision), true)) return decision;
    const text = await readText(file);
    if (text === undefined) throw new ControlError('NOT_FOUND', `spawn request '${id}' was deleted`);
    return this.signer.open<SpawnDecision>(decisionKey(id), text);
  }

  async deleteSpawn(id: string): Promise<void> {
    this.live();
    checkName('spawn id', id);
    await fsp.unlink(join(this.path, 'spawn', `${id}.decision.json`)).catch(() => {});
    await fsp.unlink(join(this.path, 'spawn', `${id}.json`)).catch(() => {});
  }

  // ── watches ──

  async watch(onEvent: (ev: ControlEvent) => void, only: { vm?: string } = {}): Promise<Watch> {
    this.live();
    if (only.vm !== undefined) checkName('VM name', only.vm);
    const w = new DirWatch(this, onEvent, this.opts.pollMs ?? DIR_POLL_MS, only.vm === undefined ? ['vms', 'host', 'spawn'] : [`vm/${only.vm}`]);
    await w.start();
    this.watches.add(w);
    return w;
  }

  /**
   * @internal what a poll compares: per key a fingerprint (vm: revision; host: renewal or absent; spawn: decided?),
   * of the parts named (all by default): 'vms' (every VM), 'vm/NAME' (one), 'host', 'spawn'. `names` gets the
   * VM directories listed (with 'vms': also those with no record yet).
   */
  async fingerprint(parts: Iterable<string> = ['vms', 'host', 'spawn'], names?: Set<string>): Promise<Map<string, string>> {
    const fp = new Map<string, string>();
    const want = new Set(parts);
    const vms = want.has('vms') ? await listDir(join(this.path, 'vms')) : [...want].filter((k) => k.startsWith('vm/')).map((k) => k.slice(3));
    for (const name of vms) {
      names?.add(name);
      const rev = await this.currentRev(join(this.path, 'vms', name, 'record'));
      if (rev > 0) fp.set(`vm/${name}`, String(rev));
    }
    if (want.has('host')) {
      const now = Date.now();
      for (const f of await listDir(join(this.path, 'hosts'))) {
        const m = /^(.+)\.json$/.exec(f);
        if (!m) continue;
        const h = await this.readHostFile(m[1]!).catch(() => undefined);
        if (h && h.expiresAt > now) fp.set(`host/${m[1]}`, `${h.token}/${h.renewedAt}`);
      }
    }
    if (want.has('spawn')) {
      const files = new Set(await listDir(join(this.path, 'spawn')));
      for (const f of files) {
        const m = /^(.+)\.json$/.exec(f);
        if (!m || f.endsWith('.decision.json')) continue;
        fp.set(`spawn/${m[1]}`, files.has(`${m[1]}.decision.json`) ? 'decided' : 'posted');
      }
    }
    return fp;
  }

  /** @internal the event for a changed key. */
  async eventFor(key: string, present: boolean): Promise<ControlEvent | undefined> {
    const [kind, id] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    try {
      if (kind === 'vm') return { kind: 'vm', name: id, record: present ? await this.readVm(id) : undefined };
      if (kind === 'host') {
        const h = present ? await this.readHostFile(id) : undefined;
        return { kind: 'host', id, host: h ? publicHost(h) : undefined };
      }
      return { kind: 'spawn', id, entry: present ? await this.readSpawn(id) : undefined };
    } catch (e) {
      skipForged(e, this.opts);
      return undefined;
    }
  }

  /** @internal */
  forget(w: DirWatch): void {
    this.watches.delete(w);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.watches]) await w.close();
  }

  // ── files ──

  private live(): void {
    if (this.closed) throw new ControlError('CLOSED', `control plane ${this.spec} is closed`);
  }

  private async tmpWrite(text: string, sync: boolean): Promise<string> {
    const tmp = join(this.path, 'tmp', `${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
    const fh = await fsp.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text);
      if (sync) await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  }

  /** Create-if-absent with complete content: true = published, false = the name existed. */
  private async publish(file: string, text: string, sync: boolean): Promise<boolean> {
    const tmp = await this.tmpWrite(text, sync);
    try {
      await fsp.link(tmp, file);
      if (sync) await syncDir(file);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new ControlError('UNAVAILABLE', `cannot write ${file}: ${(e as Error).message}`);
    } finally {
      await fsp.unlink(tmp).catch(() => {});
    }
  }

  /** Atomic replace: readers see the old or the new content. */
  private async replace(file: string, text: string): Promise<void> {
    const tmp = await this.tmpWrite(text, false);
    try {
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.unlink(tmp).catch(() => {});
      throw new ControlError('UNAVAILABLE', `cannot write ${file}: ${(e as Error).message}`);
    }
  }

  private async currentRev(dir: string): Promise<number> {
    let max = 0;
    for (const f of await listDir(dir)) max = Math.max(max, parseRev(f));
    return max;
  }
}

class DirLease implements HostLease {
  constructor(
    private readonly cp: DirControl,
    readonly hostId: string,
    readonly leaseMs: number,
    private readonly token: string,
    private readonly base: StoredHost,
    private readonly file: string,
    private readonly ino: number,
  ) {}
  renew(): Promise<void> {
    return this.cp.renewHost(this.hostId, this.token, this.base);
  }
  keepAlive(onLost: (err: ControlError) => void, onRenewed?: () => void): (() => void) | undefined {
    if (this.ino < 0) return undefined;
    return startLeaseThread({ file: this.file, ino: this.ino, leaseMs: this.leaseMs, grantedAt: this.base.registeredAt },
      (why) => onLost(new ControlError('LEASE_EXPIRED', `lease of host '${this.hostId}' ${why}`)), onRenewed);
  }
  release(): Promise<void> {
    return this.cp.releaseHost(this.hostId, this.token);
  }
}

/**
 * A dir: watch. Changes made on this machine are seen at once: fs.watch (inotify) on hosts/, spawn/, vms/ and
 * each vms/NAME/record/ starts a poll of just that part (a spawn request reaches its agent in milliseconds, not
 * at the next poll). A full poll every `pollMs` backs it up: it is the only way a lease running out (no file
 * changes) or a change made by another machine of a shared file system (no inotify event) is seen, and it
 * covers a watch that could not be set up or failed (then the parts are polled at that period).
 */
class DirWatch implements Watch {
  private last = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private polling: Promise<void> = Promise.resolve();
  /** Parts changed since the last poll (fingerprint parts), or 'all'. */
  private pending = new Set<string>();
  private kicked = false;
  private readonly watchers = new Map<string, FSWatcher>();
  private fingerprinted = false;
  /** VM directories to watch (each VM's and its record's). */
  private readonly vmNames = new Set<string>();

  constructor(
    private readonly cp: DirControl,
    private readonly onEvent: (ev: ControlEvent) => void,
    private readonly pollMs: number,
    /** The fingerprint parts watched: all, or one VM's record ('vm/NAME'). */
    private readonly parts: string[],
  ) {}

  async start(): Promise<void> {
    for (const p of this.parts) if (p.startsWith('vm/')) this.vmNames.add(p.slice(3));
    this.watchDirs(); // before the first fingerprint: nothing changed after it goes unseen
    this.last = await this.cp.fingerprint(this.parts, this.vmNames);
    this.fingerprinted = true;
    this.watchDirs();
    this.schedule();
  }

  /**
   * fs.watch on every directory whose entries change: hosts/, spawn/, vms/ (or, for one VM, vms/ for its
   * creation), each VM's directory (its record/ appears) and record/ (a failing one is left to the full poll).
   * A directory watched from now on is polled once more: a change made before its watch existed.
   */
  private watchDirs(): void {
    const all = this.parts.includes('vms');
    const dirs: Array<[string, string]> = all ? [['hosts', 'host'], ['spawn', 'spawn'], ['vms', 'vms']] : [];
    for (const name of this.vmNames) {
      if (!all) dirs.push(['vms', `vm/${name}`]);
      dirs.push([join('vms', name), `vm/${name}`], [join('vms', name, 'record'), `vm/${name}`]);
    }
    for (const [dir, part] of dirs) {
      if (this.stopped || this.watchers.has(dir)) continue;
      try {
        const w = watch(join(this.cp.path, dir), { persistent: false }, () => this.kick(part));
        w.on('error', () => { w.close(); this.watchers.delete(dir); });
        this.watchers.set(dir, w);
        if (this.fingerprinted) this.kick(part);
      } catch { /* (e.g. a VM directory not created yet, or no inotify watch left): the full poll covers it */ }
    }
  }

  /** A part changed: poll it now (after the poll under way). */
  private kick(part: string): void {
    if (this.stopped) return;
    this.pending.add(part);
    if (this.kicked) return;
    this.kicked = true;
    this.polling = this.polling.then(() => { this.kicked = false; return this.poll(false); }).catch(() => {});
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.polling.then(() => this.poll(true)).catch(() => {}).finally(() => this.schedule());
    }, this.pollMs);
  }

  private async poll(full: boolean): Promise<void> {
    if (this.stopped) return;
    const parts = full ? this.parts : [...this.pending];
    this.pending.clear();
    if (parts.length === 0) return;
    const now = await this.cp.fingerprint(parts, this.vmNames);
    const prev = this.last;
    // keys of the parts polled: the new fingerprint replaces them; the others stay as they were
    const covered = (k: string): boolean => parts.includes(k) || parts.includes(k.slice(0, k.indexOf('/'))) || (k.startsWith('vm/') && parts.includes('vms'));
    const next = new Map([...prev].filter(([k]) => !covered(k)));
    for (const [k, v] of now) next.set(k, v);
    this.last = next;
    const keys = new Set([...prev.keys()].filter(covered).concat([...now.keys()]));
    for (const k of [...keys].sort()) {
      if (this.stopped) return;
      if (prev.get(k) === now.get(k)) continue;
      const ev = await this.cp.eventFor(k, now.has(k));
      if (ev && !this.stopped) this.onEvent(ev);
    }
    this.watchDirs(); // a new VM's record directory (or the one VM's, created since)
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await this.polling;
    this.cp.forget(this);
  }
}

function revFile(rev: number): string {
  return `${String(rev).padStart(REV_DIGITS, '0')}.json`;
}
function parseRev(f: string): number {
  const m = /^(\d{12})\.json$/.exec(f);
  return m ? Number(m[1]) : 0;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ControlError('UNAVAILABLE', `cannot list ${dir}: ${(e as Error).message}`);
  }
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ControlError('UNAVAILABLE', `cannot read ${file}: ${(e as Error).message}`);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

async function syncDir(file: string): Promise<void> {
  const fh = await fsp.open(join(file, '..'), 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
