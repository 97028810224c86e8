// The `etcd:HOST:PORT,…` control-plane backend (etcd v3 through the `etcd3` client). Owns the etcd keys below;
// imports only control.ts, etcd3 and Node. Every value is HMAC-signed with the cluster secret (a file, not in
// etcd: `secretFile`, default $X86FT_SECRET_FILE or ~/.x86ft/secret) and verified on read, so a writer without
// the secret cannot make an agent start anything or a role trust a forged claim or record.
//
//   x86ft/vms/NAME/claims/G (12 digits)   claim: txn "create revision == 0" (and G-1's != 0) then put
//   x86ft/vms/NAME/record                 record; its mod revision is `rev`; txn-guarded (expectRev, and no claim G+1)
//   x86ft/hosts/ID                        host record attached to an etcd lease of ceil(leaseMs/1000) s
//   x86ft/spawn/req/ID, x86ft/spawn/decision/ID   spawn request and its one decision (txn create-if-absent)
//
// Watches: one etcd watch on the prefix x86ft/ (server-pushed; a lease running out deletes the host key).
// Host leases are kept alive from a worker thread (this module, started on itself; lease-thread.ts relays it):
// one gRPC keepalive per renewal on the agent's main thread was answered late on a loaded host (README "Hosts").

import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Etcd3, type IKeyValue, type Watcher } from 'etcd3';
import { superviseLeaseThread } from './lease-thread.js';
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
  checkSpawn,
  skipForged,
  isForged,
  keepLease,
  claimKey,
  decisionKey,
  defaultSecretFile,
  hostKey,
  loadOrCreateSecret,
  newSpawnId,
  publicHost,
  recordKey,
  spawnKey,
} from './control.js';

const PREFIX = 'x86ft/';

type StoredClaim = Owner & { nonce: string };

/** An etcd3 client of `endpoints` whose unary calls time out after `timeoutMs` (the control plane's and the lease thread's). */
function etcdClient(endpoints: string[], timeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: endpoints.map((e) => `http://${e}`),
    dialTimeout: timeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
  });
}

export async function openEtcdControl(endpoints: string[], opts: OpenControlOptions = {}): Promise<EtcdControl> {
  const secret = await loadOrCreateSecret(opts.secretFile ?? defaultSecretFile());
  const timeoutMs = opts.timeoutMs ?? 5000;
  const client = etcdClient(endpoints, timeoutMs);
  const cp = new EtcdControl(client, endpoints, secret, opts, timeoutMs);
  try {
    await client.get(`${PREFIX}probe`).string(); // fail here, clearly, when no etcd answers
  } catch (e) {
    client.close();
    throw new ControlError('UNAVAILABLE', `etcd at ${endpoints.join(',')} does not answer: ${etcdErrorText(e)}`);
  }
  return cp;
}

export class EtcdControl implements ControlPlane {
  readonly spec: string;
  private readonly signer: Signer;
  private closed = false;
  private readonly watchers = new Set<Watcher>();

  constructor(
    private readonly client: Etcd3,
    private readonly endpoints: string[],
    private readonly secretBytes: Buffer,
    private readonly opts: OpenControlOptions,
    private readonly timeoutMs = 5000,
  ) {
    this.spec = `etcd:${endpoints.join(',')}`;
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
    const key = claimKey(vm, generation);
    const value: StoredClaim = { hostId: owner.hostId, pid: owner.pid, ...(owner.addr !== undefined ? { addr: owner.addr } : {}), nonce: randomBytes(8).toString('hex') };
    const text = this.signer.seal(key, value);
    const res = await this.call(async () => {
      let txn = this.client.if(PREFIX + key, 'Create', '==', 0);
      if (generation > 1) txn = txn.and(PREFIX + claimKey(vm, generation - 1), 'Create', '>', 0);
      return txn
        .then(this.client.put(PREFIX + key).value(text))
        .else(this.client.get(PREFIX + key))
        .commit();
    });
    if (res.succeeded) return { won: true };
    const kv = res.responses[0]?.response_range?.kvs[0];
    if (!kv) throw new ControlError('CLAIM_GAP', `cannot claim generation ${generation} of '${vm}': generation ${generation - 1} is unclaimed`);
    const stored = kv.value.toString();
    if (stored === text) return { won: true }; // our own put, applied before a retried call
    return { won: false, owner: stripNonce(this.signer.open<StoredClaim>(key, stored)) };
  }

  async generation(vm: string): Promise<number> {
    this.live();
    checkName('VM name', vm);
    const keys = await this.call(() =>
      this.client.getAll().prefix(`${PREFIX}vms/${vm}/claims/`).sort('Key', 'Descend').limit(1).keys(),
    );
    return keys.length === 0 ? 0 : Number(keys[0]!.slice(keys[0]!.lastIndexOf('/') + 1));
  }

  async claimOwner(vm: string, generation: number): Promise<Owner | undefined> {
    this.live();
    checkName('VM name', vm);
    checkGeneration(generation);
    const key = claimKey(vm, generation);
    const text = await this.call(() => this.client.get(PREFIX + key).string());
    return text === null ? undefined : stripNonce(this.signer.open<StoredClaim>(key, text));
  }

  // ── records ──

  async readVm(vm: string): Promise<VmRecord | undefined> {
    this.live();
    checkName('VM name', vm);
    const res = await this.call(() => this.client.get(PREFIX + recordKey(vm)).exec());
    const kv = res.kvs[0];
    return kv ? this.openRecord(vm, kv) : undefined;
  }

  private openRecord(vm: string, kv: IKeyValue): VmRecord {
    const rec = this.signer.open<VmRecord>(recordKey(vm), kv.value.toString());
    rec.rev = Number(kv.mod_revision);
    return rec;
  }

  async writeVm(rec: VmRecord, opts: { expectRev?: number } = {}): Promise<number> {
    this.live();
    checkRecord(rec);
    const key = PREFIX + recordKey(rec.name);
    // the write id: two writers that change the same revision in the same millisecond the same way (updateVm's
    // counters) write equal records, and the loser must not take the winner's write for its own retried one
    const text = this.signer.seal(recordKey(rec.name), { ...rec, rev: 0 }, randomBytes(8).toString('hex'));
    const fence = PREFIX + claimKey(rec.name, rec.generation + 1);
    const res = await this.call(async () => {
      let txn = this.client.if(fence, 'Create', '==', 0);
      if (opts.expectRev !== undefined) txn = txn.and(key, opts.expectRev === 0 ? 'Create' : 'Mod', '==', opts.expectRev);
      return txn.then(this.client.put(key).value(text)).else(this.client.get(fence), this.client.get(key)).commit();
    });
    if (res.succeeded) return Number(res.responses[0]!.response_put.header.revision);
    if ((res.responses[0]?.response_range?.kvs.length ?? 0) > 0) {
      const claimed = await this.generation(rec.name);
      throw new ControlError(
        'STALE_GENERATION',
        `record of '${rec.name}' for generation ${rec.generation} refused: generation ${claimed} has been claimed`,
      );
    }
    // (not fenced) our own put, applied before etcd3 retried the call (it retries a call whose deadline passed, 3 attempts: at a
    // load of 25 the conformance test saw CONFLICT for a write that had landed, and updateVm would apply a change twice)
    const cur = res.responses[1]?.response_range?.kvs[0];
    if (cur && cur.value.toString() === text && Number(cur.mod_revision) > (opts.expectRev ?? 0)) return Number(cur.mod_revision);
    throw new ControlError('CONFLICT', `record of '${rec.name}' is not at revision ${opts.expectRev}`);
  }

  async listVms(): Promise<VmRecord[]> {
    this.live();
    const res = await this.call(() => this.client.getAll().prefix(`${PREFIX}vms/`).sort('Key', 'Ascend').exec());
    const out: VmRecord[] = [];
    for (const kv of res.kvs) {
      const m = /^x86ft\/vms\/([^/]+)\/record$/.exec(kv.key.toString());
      if (!m) continue;
      try {
        checkName('VM name', m[1]!);
        out.push(this.openRecord(m[1]!, kv));
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
    const lease = this.client.lease(Math.max(1, Math.ceil(leaseMs / 1000)), { autoKeepAlive: false });
    lease.on('lost', () => {}); // renew() reports it; an unhandled 'lost' must not crash the process
    const leaseId = await this.call(() => lease.grant());
    const now = Date.now();
    const rec: HostRecord = { id: host.id, addr: host.addr, pid: host.pid, leaseMs, registeredAt: now, renewedAt: now, expiresAt: now + leaseMs, ...(host.tls !== undefined ? { tls: host.tls } : {}) };
    const key = PREFIX + hostKey(host.id);
    const res = await this.call(() =>
      this.client
        .if(key, 'Create', '==', 0)
        .then(this.client.put(key).value(this.signer.seal(hostKey(host.id), rec)).lease(leaseId))
        .else(this.client.get(key))
        .commit(),
    );
    // our own put, applied before etcd3 retried the transaction (it retries a call whose deadline passed): ours
    const mine = !res.succeeded && String(res.responses[0]?.response_range?.kvs[0]?.lease ?? '') === String(leaseId);
    if (!res.succeeded && !mine) {
      await lease.revoke().catch(() => {});
      let pid = '?';
      try {
        const kv = res.responses[0]?.response_range?.kvs[0];
        if (kv) pid = String(this.signer.open<HostRecord>(hostKey(host.id), kv.value.toString()).pid);
      } catch {
        /* a forged value: still occupied until its lease runs out */
      }
      throw new ControlError('HOST_EXISTS', `host '${host.id}' is registered (pid ${pid}) with a live lease`);
    }
    const held: HeldLease = { hostId: host.id, key, rec, leaseId, leaseMs, timeoutMs: this.timeoutMs };
    const renewal = { client: this.client, signer: this.signer, spec: this.spec };
    const thread: EtcdLeaseThreadData = { tag: LEASE_THREAD_TAG, endpoints: this.endpoints, secret: this.secretBytes.toString('hex'), lease: held };
    return {
      hostId: host.id,
      leaseMs,
      renew: () => renewHostLease(renewal, held),
      async release(): Promise<void> {
        await lease.revoke().catch(() => {});
      },
      keepAlive: (onLost, onRenewed) => startEtcdLeaseThread(thread, onLost, onRenewed),
    };
  }

  async listHosts(): Promise<HostRecord[]> {
    this.live();
    const res = await this.call(() => this.client.getAll().prefix(`${PREFIX}hosts/`).sort('Key', 'Ascend').exec());
    const out: HostRecord[] = [];
    for (const kv of res.kvs) {
      const id = kv.key.toString().slice(`${PREFIX}hosts/`.length);
      try {
        checkName('host id', id);
        out.push(publicHost(this.signer.open<HostRecord>(hostKey(id), kv.value.toString())));
      } catch (e) {
        skipForged(e, this.opts);
      }
    }
    return out;
  }

  // ── spawn requests ──

  async postSpawn(req: SpawnRequest): Promise<string> {
    this.live();
    const r: SpawnRequest = { ...req, id: req.id === '' ? newSpawnId() : req.id };
    checkSpawn(r);
    const key = PREFIX + spawnKey(r.id);
    const text = this.signer.seal(spawnKey(r.id), r);
    const res = await this.call(() =>
      this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(text)).else(this.client.get(key)).commit(),
    );
    if (!res.succeeded && res.responses[0]?.response_range?.kvs[0]?.value.toString() !== text)
      throw new ControlError('BAD_ARGUMENT', `spawn request '${r.id}' exists already`);
    return r.id;
  }

  async readSpawn(id: string): Promise<SpawnEntry | undefined> {
    this.live();
    checkName('spawn id', id);
    const [req, dec] = await Promise.all([
      this.call(() => this.client.get(PREFIX + spawnKey(id)).string()),
      this.call(() => this.client.get(PREFIX + decisionKey(id)).string()),
    ]);
    if (req === null) return undefined;
    return {
      request: this.signer.open<SpawnRequest>(spawnKey(id), req),
      decision: dec === null ? null : this.signer.open<SpawnDecision>(decisionKey(id), dec),
    };
  }

  async listSpawns(filter: { host?: string; undecided?: boolean } = {}): Promise<SpawnEntry[]> {
    this.live();
    const [reqs, decs] = await Promise.all([
      this.call(() => this.client.getAll().prefix(`${PREFIX}spawn/req/`).sort('Key', 'Ascend').exec()),
      this.call(() => this.client.getAll().prefix(`${PREFIX}spawn/decision/`).exec()),
    ]);
    const decisions = new Map(decs.kvs.map((kv) => [kv.key.toString().slice(`${PREFIX}spawn/decision/`.length), kv.value.toString()]));
    const out: SpawnEntry[] = [];
    for (const kv of reqs.kvs) {
      const id = kv.key.toString().slice(`${PREFIX}spawn/req/`.length);
      try {
        checkName('spawn id', id);
        const request = this.signer.open<SpawnRequest>(spawnKey(id), kv.value.toString());
        const d = decisions.get(id);
        const decision = d === undefined ? null : this.signer.open<SpawnDecision>(decisionKey(id), d);
        if (filter.host !== undefined && request.host !== filter.host) continue;
        if (filter.undecided && decision) continue;
        out.push({ request, decision });
      } catch (e) {
        skipForged(e, this.opts);
      }
    }
    return out;
  }

  async decideSpawn(id: string, decision: SpawnDecision): Promise<SpawnDecision> {
    this.live();
    checkName('spawn id', id);
    const rkey = PREFIX + spawnKey(id);
    const dkey = PREFIX + decisionKey(id);
    const res = await this.call(() =>
      this.client
        .if(dkey, 'Create', '==', 0)
        .and(rkey, 'Create', '>', 0)
        .then(this.client.put(dkey).value(this.signer.seal(decisionKey(id), decision)))
        .else(this.client.get(dkey))
        .commit(),
    );
    if (res.succeeded) return decision;
    const kv = res.responses[0]?.response_range?.kvs[0];
    if (!kv) throw new ControlError('NOT_FOUND', `no spawn request '${id}'`);
    return this.signer.open<SpawnDecision>(decisionKey(id), kv.value.toString());
  }

  async deleteSpawn(id: string): Promise<void> {
    this.live();
    checkName('spawn id', id);
    await this.call(() => this.client.delete().key(PREFIX + decisionKey(id)).exec());
    await this.call(() => this.client.delete().key(PREFIX + spawnKey(id)).exec());
  }

  // ── watches ──

  async watch(onEvent: (ev: ControlEvent) => void, only: { vm?: string } = {}): Promise<Watch> {
    this.live();
    if (only.vm !== undefined) checkName('VM name', only.vm);
    const vm = only.vm;
    const w = await this.call(() => (vm === undefined ? this.client.watch().prefix(PREFIX) : this.client.watch().key(PREFIX + recordKey(vm))).create());
    this.watchers.add(w);
    let stopped = false;
    // Events are delivered in etcd's order; spawn events need a second read, so they go through one queue.
    let queue: Promise<void> = Promise.resolve();
    const emit = (make: () => Promise<ControlEvent | undefined> | ControlEvent | undefined) => {
      queue = queue.then(async () => {
        if (stopped) return;
        try {
          const ev = await make();
          if (ev && !stopped) onEvent(ev);
        } catch (e) {
          if (isForged(e)) this.opts.onTampered?.(e); // other read errors: the key's next change brings it again
        }
      });
    };
    const handle = (kv: IKeyValue, deleted: boolean) => {
      const key = kv.key.toString().slice(PREFIX.length);
      let m: RegExpExecArray | null;
      if ((m = /^vms\/([^/]+)\/record$/.exec(key))) {
        const name = m[1]!;
        emit(() => ({ kind: 'vm', name, record: deleted ? undefined : this.openRecord(name, kv) }));
      } else if ((m = /^hosts\/([^/]+)$/.exec(key))) {
        const id = m[1]!;
        emit(() => ({ kind: 'host', id, host: deleted ? undefined : publicHost(this.signer.open<HostRecord>(hostKey(id), kv.value.toString())) }));
      } else if ((m = /^spawn\/(?:req|decision)\/([^/]+)$/.exec(key))) {
        const id = m[1]!;
        emit(async () => ({ kind: 'spawn', id, entry: await this.readSpawn(id) }));
      }
    };
    w.on('put', (kv) => handle(kv, false));
    w.on('delete', (kv) => handle(kv, true));
    w.on('error', () => {}); // the client reconnects; an unhandled 'error' must not crash the process
    return {
      close: async () => {
        stopped = true;
        this.watchers.delete(w);
        await w.cancel().catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watchers]) await w.cancel().catch(() => {});
    this.client.close();
  }

  private live(): void {
    if (this.closed) throw new ControlError('CLOSED', `control plane ${this.spec} is closed`);
  }

  /** Runs an etcd call; transport failures become UNAVAILABLE (ControlErrors pass through). */
  private call<T>(f: () => Promise<T>): Promise<T> {
    return callEtcd(this.spec, f);
  }
}

/** An etcd client error's message for a user: grpc-js ends "no connection" messages with "Resolution note: "
 *  and nothing after it when name resolution had nothing to say; that dangling label is dropped. */
export function etcdErrorText(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).replace(/\.?\s*Resolution note:\s*(?=$|\n)/g, '');
}

/** Runs an etcd call of control plane `spec`; transport failures become UNAVAILABLE, a lease etcd no longer
 *  holds LEASE_EXPIRED (ControlErrors pass through). */
async function callEtcd<T>(spec: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ControlError) throw e;
    const name = (e as Error).name ?? '';
    if (name === 'EtcdLeaseInvalidError') throw new ControlError('LEASE_EXPIRED', `etcd lease is gone: ${(e as Error).message}`);
    throw new ControlError('UNAVAILABLE', `etcd ${spec.slice(5)}: ${etcdErrorText(e)}`);
  }
}

// ── host lease renewal (the agent's thread until the renewal thread has renewed, then that thread) ──

/** A granted host lease: what a renewal needs (plain data: it is handed to the renewal thread). */
interface HeldLease {
  hostId: string;
  /** The host key with the prefix. */
  key: string;
  /** The host record as registered (renewals move renewedAt and expiresAt). */
  rec: HostRecord;
  /** The etcd lease id (a decimal string, as etcd3 gives it). */
  leaseId: string;
  leaseMs: number;
  /** Bound on each call (the keepalive stream too). */
  timeoutMs: number;
}

/**
 * One renewal: a keepalive of the etcd lease (LeaseKeepAlive, one request on a stream of its own, with a deadline:
 * etcd3's keepaliveOnce has none, so a renewal could wait forever), then the host record rewritten with the new
 * renewedAt/expiresAt if the key is still this lease's. LEASE_EXPIRED when etcd no longer holds the lease (TTL 0)
 * or the key went to another lease; UNAVAILABLE when etcd did not answer.
 */
async function renewHostLease(c: { client: Etcd3; signer: Signer; spec: string }, h: HeldLease): Promise<void> {
  const ttl = await callEtcd(c.spec, async () => {
    const stream = await c.client.leaseClient.leaseKeepAlive({ deadline: Date.now() + h.timeoutMs });
    try {
      return await new Promise<number>((resolve, reject) => {
        stream.on('data', (res) => resolve(Number(res.TTL)));
        stream.on('error', reject);
        stream.on('end', () => reject(new ControlError('UNAVAILABLE', `etcd ${c.spec.slice(5)}: the keepalive stream ended without an answer`)));
        stream.write({ ID: h.leaseId });
      });
    } finally {
      stream.cancel();
    }
  });
  if (!(ttl > 0)) throw new ControlError('LEASE_EXPIRED', `lease of host '${h.hostId}' ran out`);
  const t = Date.now();
  const next: HostRecord = { ...h.rec, renewedAt: t, expiresAt: t + h.leaseMs };
  const r = await callEtcd(c.spec, () =>
    c.client
      .if(h.key, 'Lease', '==', h.leaseId)
      .then(c.client.put(h.key).value(c.signer.seal(hostKey(h.hostId), next)).lease(h.leaseId))
      .commit(),
  );
  if (!r.succeeded) throw new ControlError('LEASE_EXPIRED', `lease of host '${h.hostId}' was taken over or removed`);
}

const LEASE_THREAD_TAG = 'x86ft-etcd-lease';

interface EtcdLeaseThreadData {
  tag: typeof LEASE_THREAD_TAG;
  endpoints: string[];
  /** The cluster secret (hex): the thread signs the renewed host record. */
  secret: string;
  lease: HeldLease;
}

/**
 * Renews the lease from a worker thread running this module with its own etcd client (FT.md "Host leases": every
 * quarter of the lease; keepLease's contract). Undefined when this module is not compiled JavaScript (a test
 * importing the TypeScript sources: the caller renews on its own thread) or no thread can start.
 */
function startEtcdLeaseThread(d: EtcdLeaseThreadData, onLost: (err: ControlError) => void, onRenewed?: () => void): (() => void) | undefined {
  if (!fileURLToPath(import.meta.url).endsWith('.js')) return undefined;
  return superviseLeaseThread(() => new Worker(new URL(import.meta.url), { workerData: d }), (message) => onLost(new ControlError('LEASE_EXPIRED', message)), onRenewed);
}

/** The renewal thread: keepLease (this thread's own loop: every quarter lease, LEASE_EXPIRED or no renewal for a
 *  whole lease is lost) over renewHostLease on its own client, and one renewal at once (its start may have taken
 *  part of the lease); posts `renewed` after its first renewal, `lost` once. */
function leaseThreadMain(d: EtcdLeaseThreadData): void {
  const h = d.lease;
  const renewal = { client: etcdClient(d.endpoints, h.timeoutMs), signer: new Signer(Buffer.from(d.secret, 'hex')), spec: `etcd:${d.endpoints.join(',')}` };
  let first = true;
  const renew = async (): Promise<void> => {
    await renewHostLease(renewal, h);
    if (first) { first = false; parentPort!.postMessage({ op: 'renewed' }); }
  };
  keepLease({ hostId: h.hostId, leaseMs: h.leaseMs, renew, release: async () => undefined }, (err) => parentPort!.postMessage({ op: 'lost', message: err.message }));
  renew().catch(() => undefined); // a failure here is keepLease's to judge at its next renewals
}

if (!isMainThread && (workerData as { tag?: string } | null)?.tag === LEASE_THREAD_TAG) leaseThreadMain(workerData as EtcdLeaseThreadData);

function stripNonce(c: StoredClaim): Owner {
  return { hostId: c.hostId, pid: c.pid, ...(c.addr !== undefined ? { addr: c.addr } : {}) };
}
