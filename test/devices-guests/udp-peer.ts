// The peer side of a guest NIC in tests: raw Ethernet frames of dev_net's protocol (ethertype 0x88B5)
// carried one per UDP datagram on 127.0.0.1, as `--net udp:LPORT:127.0.0.1:PPORT` sends them.

import { createSocket, type Socket } from 'node:dgram';

export const GUEST_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]; // the machine's default for NIC 0
export const PEER_MAC = [0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc];
export const ETHERTYPE = 0x88b5;

/** An Ethernet frame to `dst` carrying `payload` (latin1). */
export function frame(dst: number[], payload: string, type = ETHERTYPE, src = PEER_MAC): Buffer {
  const p = Buffer.from(payload, 'latin1');
  const f = Buffer.alloc(14 + p.length);
  Buffer.from(dst).copy(f, 0); Buffer.from(src).copy(f, 6);
  f.writeUInt16BE(type, 12); p.copy(f, 14);
  return f;
}

/** A UDP socket bound on 127.0.0.1 (port 0: any free port). */
export function bindUdp(port = 0): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = createSocket('udp4');
    s.once('error', rej);
    s.bind(port, '127.0.0.1', () => { s.off('error', rej); res(s); });
  });
}

/** A free UDP port (bound and released; the CLI binds it right after). */
export async function freePort(): Promise<number> {
  const s = await bindUdp();
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
