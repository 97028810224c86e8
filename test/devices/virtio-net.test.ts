import { describe, it, expect } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { PhysMemory } from '../../src/cpu/memory.js';
import { VirtioNet, NET_HDR_LEN } from '../../src/devices/virtio-net.js';
import { UdpFrameTunnel } from '../../src/devices/backends/tunnel.js';
import { ManualClock } from '../../src/devices/backends/clock.js';
import { LiveGate, ReplayGate, GateKind, type GateRecord } from '../../src/machine/gate.js';
import { TestDriver } from './virtq-driver.js';

function bindPeer(): Promise<Socket> {
  return new Promise((r) => { const s = createSocket('udp4'); s.bind(0, '127.0.0.1', () => r(s)); });
}
const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};
function frame(n: number, fill: number): Uint8Array {
  const f = new Uint8Array(n).fill(fill);
  f.set([0x52, 0x54, 0, 0x12, 0x34, 0x56], 0); // dst = our MAC
  return f;
}

describe('virtio-net over a UDP tunnel', () => {
  it('transmits and receives frames via 127.0.0.1 datagrams, received frames crossing the gate', async () => {
    const peer = await bindPeer();
    const tunnel = await UdpFrameTunnel.open({ localPort: 0, localHost: '127.0.0.1', peerHost: '127.0.0.1', peerPort: peer.address().port });
    const log: GateRecord[] = [];
    const gate = new LiveGate({ clock: new ManualClock(), nets: [tunnel] }, { onRecord: (r) => log.push(r) });
    const mem = new PhysMemory(4 << 20);
    let irq = false;
    const net = new VirtioNet(mem, (l) => { irq = l; }, (f) => tunnel.send(f), { mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56] });
    gate.connect({ nets: [net] });
    const drv = new TestDriver(mem, net);
    try {
      expect(drv.r(0x008)).toBe(1);
      expect(net.mmioRead(0x100, 4)).toBe(0x12005452);
      expect(net.mmioRead(0x104, 2)).toBe(0x5634);
      expect(drv.negotiate(1 << 5)).toBe(true);
      drv.setupQueue(0, 16, 0x10000);
      drv.setupQueue(1, 16, 0x20000);
      drv.driverOk();

      // TX: header + frame in two descriptors.
      const got: Buffer[] = [];
      peer.on('message', (m) => got.push(m));
      const f = frame(60, 0xab);
      mem.u8.set(f, 0x101000);
      drv.submit(1, [{ addr: 0x100000, len: NET_HDR_LEN }, { addr: 0x101000, len: 60 }]);
      drv.notify(1);
      expect(drv.used(1)).toEqual([{ id: 0, len: 0 }]);
      await until(() => got.length > 0);
      expect(new Uint8Array(got[0]!)).toEqual(f);

      // RX: the peer sends; the frame waits in the tunnel until the gate polls with a buffer posted.
      const g = frame(100, 0xcd);
      peer.send(g, tunnel.port, '127.0.0.1');
      await until(() => tunnel.pending > 0);
      gate.poll(10);
      expect(tunnel.pending).toBe(1); // no receive buffer yet: not delivered
      drv.submit(0, [{ addr: 0x200000, len: 1526, write: true }]);
      drv.notify(0);
      gate.poll(20);
      expect(tunnel.pending).toBe(0);
      expect(drv.used(0)).toEqual([{ id: 0, len: NET_HDR_LEN + 100 }]);
      expect(mem.u8[0x200000 + 10]).toBe(1); // num_buffers
      expect(mem.u8.subarray(0x200000 + NET_HDR_LEN, 0x200000 + NET_HDR_LEN + 100)).toEqual(g);
      expect(irq).toBe(true);
      const rx = log.filter((r) => r.kind === GateKind.NetRx);
      expect(rx.length).toBe(1);
      expect(rx[0]!.icount).toBe(20);
    } finally {
      await tunnel.close();
      peer.close();
    }
  });

  it('reports a local port already in use', async () => {
    const peer = await bindPeer();
    const port = peer.address().port;
    await expect(UdpFrameTunnel.open({ localPort: port, localHost: '127.0.0.1', peerHost: '127.0.0.1', peerPort: 9 }))
      .rejects.toThrow(/already in use/);
    peer.close();
  });

  it('binds 127.0.0.1 by default and takes datagrams only from the peer address and port', async () => {
    const peer = await bindPeer();
    const pport = peer.address().port;
    const tunnel = await UdpFrameTunnel.open({ localPort: 0, peerHost: 'localhost', peerPort: pport });
    // the same port on another loopback address: another sender, not the peer
    const other = createSocket('udp4');
    await new Promise<void>((r) => other.bind(pport, '127.0.0.2', () => r()));
    try {
      expect(tunnel.address).toBe('127.0.0.1');
      other.send(frame(60, 1), tunnel.port, '127.0.0.1');
      peer.send(frame(60, 2), tunnel.port, '127.0.0.1');
      await until(() => tunnel.pending > 0);
      await new Promise((r) => setTimeout(r, 50));
      expect(tunnel.pending).toBe(1);
      expect(tunnel.receive()![20]).toBe(2);
    } finally {
      await tunnel.close(); peer.close(); other.close();
    }
  });

  it('drops a frame larger than the posted buffer without failing the device', () => {
    const mem = new PhysMemory(4 << 20);
    const net = new VirtioNet(mem, () => {}, () => {}, { mac: [2, 0, 0, 0, 0, 1] });
    const drv = new TestDriver(mem, net);
    drv.negotiate(1 << 5); drv.setupQueue(0, 4, 0x10000); drv.setupQueue(1, 4, 0x20000); drv.driverOk();
    drv.submit(0, [{ addr: 0x200000, len: 64, write: true }]);
    expect(net.rxReady()).toBe(true);
    net.rxFrame(frame(200, 1));
    expect(net.rxDropped).toBe(1);
    expect(net.needsReset).toBe(false);
  });
  // The gate rule (issue 8): only the live gate asks rxReady(), so it must not change the device.
  // A receive queue outside RAM used to be failed by that question on the primary alone.
  it('the live readiness check is a pure query: a bad receive queue fails identically on replay', () => {
    const build = () => {
      const mem = new PhysMemory(4 << 20);
      const irqs: boolean[] = [];
      const net = new VirtioNet(mem, (l) => { irqs.push(l); }, () => {}, { mac: [2, 0, 0, 0, 0, 1] });
      const drv = new TestDriver(mem, net);
      drv.negotiate(1 << 5); drv.setupQueue(0, 4, (4 << 20) - 32); drv.setupQueue(1, 4, 0x20000); drv.driverOk();
      return { net, irqs };
    };
    const live = build();
    const before = JSON.stringify(live.net.saveState());
    for (let i = 0; i < 3; i++) live.net.rxReady();
    expect(JSON.stringify(live.net.saveState())).toBe(before); // asking changed nothing
    expect(live.irqs).toEqual([]);

    // polls with no frame waiting, then with one: the frame is logged and the failure follows from it
    const frames: Uint8Array[] = [];
    const log: GateRecord[] = [];
    const gate = new LiveGate({ clock: new ManualClock(), nets: [{ receive: () => frames.shift() }] }, { onRecord: (r) => log.push(r) });
    gate.connect({ nets: [live.net] });
    gate.poll(100);
    expect(JSON.stringify(live.net.saveState())).toBe(before);
    frames.push(frame(60, 7));
    gate.poll(200);
    expect(live.net.needsReset).toBe(true);
    expect(live.irqs).toEqual([true]); // configuration-change interrupt
    expect(log.filter((r) => r.kind === GateKind.NetRx).map((r) => r.icount)).toEqual([200]);

    const again = build();
    const replay = new ReplayGate(log, true);
    replay.connect({ nets: [again.net] });
    expect(replay.poll(100)).toBe(true);
    expect(again.net.needsReset).toBe(false);
    expect(replay.poll(200)).toBe(true);
    expect(JSON.stringify(again.net.saveState())).toBe(JSON.stringify(live.net.saveState()));
    expect(again.irqs).toEqual(live.irqs);
  });
});
