// The PC device layout x86ft machines use: I/O ports, IRQ lines, virtio-mmio windows.
// The boot-info block lists the virtio devices (type 1, irq, base). Imports nothing.

/** Legacy PC devices: first port, port count, IRQ (-1 = none). */
export const PC_PORTS = {
  picMaster: { port: 0x20, count: 2 },
  picSlave: { port: 0xa0, count: 2 },
  elcr: { port: 0x4d0, count: 2 },
  pit: { port: 0x40, count: 4, irq: 0 },
  port61: { port: 0x61, count: 1 },
  rtc: { port: 0x70, count: 2, irq: 8 },
  com1: { port: 0x3f8, count: 8, irq: 4 },
  debugExit: { port: 0xf4, count: 1 },
} as const;

/** virtio-mmio device n lives at VIRTIO_MMIO_BASE + n * 0x1000. */
export const VIRTIO_MMIO_BASE = 0xd0000000;
/** IRQ lines handed to virtio-mmio devices, in order (first disk, then NIC, ...). They are
 *  level-triggered: the machine sets their ELCR bits (port 0x4D0) before boot. */
export const VIRTIO_IRQS = [5, 6, 10, 11] as const;

/** MMIO base of virtio device slot n. */
export function virtioBase(n: number): number { return VIRTIO_MMIO_BASE + n * 0x1000; }
