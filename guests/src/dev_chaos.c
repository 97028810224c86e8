/* dev_chaos: programs the machine's I/O ports and virtio-mmio registers with values from a seeded
 * PRNG (splitmix64), right and wrong alike, while interrupts and host input (received frames,
 * disk data, console bytes) arrive. Its purpose is the record/replay rule: whatever a guest does
 * to its devices, a recording of it replays identically. Command line: "SEED [EPISODES]"
 * (defaults 1 and 200). Each episode is one of
 *   - a burst of port reads and writes (PIC, ELCR, PIT, port 0x61, COM1, CMOS, any port but the
 *     debug-exit port 0xF4), sizes 1/2/4;
 *   - a burst of virtio register reads and writes at register offsets or anywhere in the window;
 *   - a virtio set-up: reset, feature negotiation, queues whose size and ring addresses are good,
 *     straddle the end of RAM or lie outside it, ring contents (descriptors, available ring) from
 *     the PRNG or well formed (virtio-blk requests, posted receive buffers), DRIVER_OK, notifies;
 * and ends with a wait, interrupts on, of about two gate polls (50,000 instructions each), so
 * host input meets whatever state the devices are in. All device DMA goes to a scratch area or
 * outside RAM, never over the guest's code, data or stack. Everything read back is folded into
 * a hash, printed every 32 episodes and at the end; the run ends with status 0. Without virtio
 * devices it does the port episodes only. */
#include "x86ft.h"
#include "dev/pc.h"
#include "dev/virtio.h"

#define SCRATCH (256 * 1024)
static uint8_t scratch[SCRATCH] __attribute__((aligned(4096)));
static uint64_t ram_size;
static uint64_t state, hash = 0xcbf29ce484222325ull;
static volatile uint32_t irqs, storms;
static volatile uint32_t irq_count[16];
static uintptr_t vio_base[4];
static int vio_irq[4], vio_id[4], nvio;

static uint64_t rnd(void) {                      /* splitmix64 */
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static uint32_t below(uint32_t n) { return (uint32_t)(rnd() % n); }
static void fold(uint64_t v) { hash = (hash ^ v) * 0x100000001b3ull; }

/* ---- interrupts: count, quiet the source, EOI; a line that storms is masked ---------------- */
static void on_irq(struct x86ft_frame *f) {
  int line = (int)f->vector - 0x20;
  irqs++;
  if (line >= 0 && line < 16 && ++irq_count[line] > 2000) { pic_mask(line); storms++; }
  for (int i = 0; i < nvio; i++) if (vio_irq[i] == line) vio_w32(vio_base[i], VIO_INTERRUPT_ACK, vio_r32(vio_base[i], VIO_INTERRUPT_STATUS));
  if (line == 4) { for (int k = 0; k < 16 && !(inb(COM1 + UART_IIR) & 1); k++) { inb(COM1 + UART_LSR); inb(COM1); inb(COM1 + 6); } }
  if (line == 8) (void)cmos_read(0x0C);
  pic_eoi(line);
}

static void wait_polls(void) {
  for (int i = 0; i < 16; i++) irq_count[i] = 0;
  pic_remap(0x20, 0x28);
  outb(PIC1_DATA, 0x00); outb(PIC2_DATA, 0x00);  /* every line */
  sti();
  for (volatile uint32_t k = 0; k < 25000; k++) {}
  cli();
}

/* ---- ports ------------------------------------------------------------------------------- */
static const uint16_t ports[] = {
  0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x40, 0x41, 0x42, 0x43, 0x61,
  0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3FF, 0x70, 0x71,
};

static void port_burst(void) {
  uint32_t n = 1 + below(16);
  for (uint32_t i = 0; i < n; i++) {
    uint16_t p = below(8) ? ports[below(sizeof ports / sizeof ports[0])] : (uint16_t)rnd();
    if (p == 0xF4) continue;                     /* debug-exit would end the run */
    uint32_t v = (uint32_t)rnd();
    switch (below(6)) {
      case 0: fold(inb(p)); break;
      case 1: fold(inw(p)); break;
      case 2: fold(inl(p)); break;
      case 3: outw(p, (uint16_t)v); break;
      case 4: outl(p, v); break;
      default: outb(p, (uint8_t)v); break;
    }
  }
}

/* ---- virtio -------------------------------------------------------------------------------- */
static const uint16_t regs[] = {
  VIO_DEVICE_FEATURES, VIO_DEVICE_FEATURES_SEL, VIO_DRIVER_FEATURES, VIO_DRIVER_FEATURES_SEL,
  VIO_QUEUE_SEL, VIO_QUEUE_NUM_MAX, VIO_QUEUE_NUM, VIO_QUEUE_READY, VIO_QUEUE_NOTIFY,
  VIO_INTERRUPT_STATUS, VIO_INTERRUPT_ACK, VIO_STATUS, VIO_QUEUE_DESC_LOW, VIO_QUEUE_DESC_HIGH,
  VIO_QUEUE_DRIVER_LOW, VIO_QUEUE_DRIVER_HIGH, VIO_QUEUE_DEVICE_LOW, VIO_QUEUE_DEVICE_HIGH,
  VIO_CONFIG_GENERATION, VIO_CONFIG,
};

/* A guest-physical address for `len` bytes: mostly inside the scratch area (aligned or not),
 * else straddling the end of RAM, just past it, or far outside. Never other guest memory. */
static uint64_t gen_addr(uint32_t len, uint32_t align) {
  switch (below(10)) {
    case 0: return ram_size - below(len + 1);
    case 1: return ram_size + below(0x100000);
    case 2: return rnd() | (1ull << 40);
    default: {
      if (len > SCRATCH) len = SCRATCH;
      uint64_t off = below(SCRATCH - len + 1);
      if (align && below(4)) off &= ~(uint64_t)(align - 1);
      return (uint64_t)(uintptr_t)scratch + off;
    }
  }
}
static int in_scratch(uint64_t a, uint64_t len) {
  uint64_t s = (uintptr_t)scratch;
  return a >= s && a + len <= s + SCRATCH;
}
static void *at(uint64_t a) { return (void *)(uintptr_t)a; }

static void vio_burst(int d) {
  uintptr_t b = vio_base[d];
  uint32_t n = 1 + below(16);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t off = below(4) ? regs[below(sizeof regs / sizeof regs[0])] : (below(0x200) & ~3u);
    uint32_t v = below(3) ? (uint32_t)rnd() : below(16);
    if (off >= VIO_QUEUE_DESC_LOW && off <= VIO_QUEUE_DEVICE_HIGH && !(off & 4)) {
      uint64_t a = gen_addr(64, 16);           /* a ring address: scratch or above any RAM */
      v = a >> 32 ? 0xC0000000u | (uint32_t)rnd() : (uint32_t)a;
    }
    if (below(8) == 0) {                         /* a byte or word access anywhere in the window */
      volatile uint8_t *p = (volatile uint8_t *)(b + below(0x200));
      if (below(2)) fold(*p); else *p = (uint8_t)v;
    } else if (below(2)) fold(vio_r32(b, off));
    else vio_w32(b, off, v);
  }
}

/* Fills a descriptor table, available ring and (optionally) request data at the queue's
 * addresses, when they lie in the scratch area: random, or well formed for the device. */
static void fill_queue(int d, uint64_t desc, uint64_t avail, uint32_t num, int good) {
  if (num == 0 || num > 1024) return;
  if (in_scratch(desc, 16ull * num)) {
    struct vq_desc *t = at(desc);
    for (uint32_t i = 0; i < num; i++) {
      uint32_t len = below(3) ? 16 + below(2048) : (uint32_t)rnd();
      t[i].len = len;
      t[i].addr = gen_addr(len < 4096 ? len : 4096, 8);
      t[i].flags = (uint16_t)(below(4) ? below(4) : rnd());  /* NEXT/WRITE, sometimes INDIRECT or junk */
      t[i].next = (uint16_t)(below(4) ? (i + 1) % num : below(num + 2));
    }
    if (good && num >= 3) {
      if (vio_id[d] == 2) {                      /* virtio-blk: header, data, status */
        uint64_t hdr = (uintptr_t)scratch, data = hdr + 4096, st = hdr + 3 * 4096;
        uint32_t *h = at(hdr);
        static const uint32_t types[] = { 0, 1, 4, 8, 0x55 };
        h[0] = types[below(5)]; h[1] = 0; h[2] = below(256); h[3] = below(8) ? 0 : (uint32_t)rnd();
        t[0] = (struct vq_desc){ hdr, 16, VRING_DESC_F_NEXT, 1 };
        t[1] = (struct vq_desc){ data, 512 * (1 + below(4)), (uint16_t)(VRING_DESC_F_NEXT | (below(2) ? VRING_DESC_F_WRITE : 0)), 2 };
        t[2] = (struct vq_desc){ st, 1, VRING_DESC_F_WRITE, 0 };
      } else {                                   /* virtio-net: receive buffers, sometimes too short */
        for (uint32_t i = 0; i < num; i++) t[i] = (struct vq_desc){ (uintptr_t)scratch + 8192 * (i % 24), below(4) ? 1536 : 40, VRING_DESC_F_WRITE, 0 };
      }
    }
  }
  if (in_scratch(avail, 6 + 2ull * num)) {
    uint16_t *a = at(avail);
    a[0] = (uint16_t)below(2);                   /* flags: NO_INTERRUPT */
    a[1] = (uint16_t)(good ? (vio_id[d] == 2 ? 1 : num) : below(4) ? below(num + 1) : rnd());
    for (uint32_t i = 0; i < num; i++) a[2 + i] = (uint16_t)(good ? (vio_id[d] == 2 ? 0 : i) : below(num + 2));
  }
}

static void vio_setup(int d) {
  uintptr_t b = vio_base[d];
  int good = below(2);
  vio_w32(b, VIO_STATUS, 0);
  fold(vio_r32(b, VIO_STATUS));
  vio_w32(b, VIO_STATUS, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
  vio_w32(b, VIO_DEVICE_FEATURES_SEL, below(3));
  uint32_t feat = vio_r32(b, VIO_DEVICE_FEATURES);
  fold(feat);
  vio_w32(b, VIO_DRIVER_FEATURES_SEL, 0);
  vio_w32(b, VIO_DRIVER_FEATURES, good ? 0 : (uint32_t)rnd());
  vio_w32(b, VIO_DRIVER_FEATURES_SEL, 1);
  vio_w32(b, VIO_DRIVER_FEATURES, good || below(2) ? VIO_F_VERSION_1_HI : (uint32_t)rnd());
  vio_w32(b, VIO_STATUS, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER | VIO_S_FEATURES_OK);
  fold(vio_r32(b, VIO_STATUS));
  int nq = vio_id[d] == 1 ? 2 : 1;
  for (int q = 0; q < nq; q++) {
    vio_w32(b, VIO_QUEUE_SEL, (uint32_t)q);
    uint32_t max = vio_r32(b, VIO_QUEUE_NUM_MAX);
    uint32_t num = good || below(2) ? 1 + below(max < 16 ? max : 16) : below(max + 4);
    vio_w32(b, VIO_QUEUE_NUM, num);
    uint64_t desc = good ? (uintptr_t)scratch + 0x30000 + q * 0x4000 : gen_addr(16 * num, 16);
    uint64_t avail = good ? desc + 0x1000 : gen_addr(6 + 2 * num, 2);
    uint64_t used = good ? desc + 0x2000 : gen_addr(6 + 8 * num, 4);
    if (good && below(3) == 0) {                 /* one address outside RAM: the device must fail */
      uint64_t bad = below(2) ? ram_size + 0x1000 : ram_size - 4;
      switch (below(3)) { case 0: desc = bad; break; case 1: avail = bad; break; default: used = bad; }
    }
    fill_queue(d, desc, avail, num, good);
    vio_w32(b, VIO_QUEUE_DESC_LOW, (uint32_t)desc); vio_w32(b, VIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
    vio_w32(b, VIO_QUEUE_DRIVER_LOW, (uint32_t)avail); vio_w32(b, VIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
    vio_w32(b, VIO_QUEUE_DEVICE_LOW, (uint32_t)used); vio_w32(b, VIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
    vio_w32(b, VIO_QUEUE_READY, good || below(4) ? 1 : (uint32_t)rnd());
  }
  vio_w32(b, VIO_STATUS, good || below(2) ? VIO_S_ACKNOWLEDGE | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK : below(256));
  uint32_t kicks = below(3);
  for (uint32_t k = 0; k < kicks; k++) vio_w32(b, VIO_QUEUE_NOTIFY, below(4) ? below((uint32_t)nq) : (uint32_t)rnd());
  fold(vio_r32(b, VIO_STATUS));
  fold(vio_r32(b, VIO_INTERRUPT_STATUS));
}

int main(const struct x86ft_bootinfo *bi) {
  const char *cl = x86ft_cmdline(bi);
  char *end;
  state = strtoull(cl, &end, 0);
  if (end == cl) state = 1;
  unsigned long long episodes = strtoull(end, &end, 0);
  if (episodes == 0) episodes = 200;
  ram_size = bi->ram_size;
  for (uint32_t i = 0; i < bi->ndevices && nvio < 4; i++) {
    if (bi->devices[i].type != 1) continue;
    vio_base[nvio] = (uintptr_t)bi->devices[i].base;
    vio_irq[nvio] = (int)bi->devices[i].irq;
    vio_id[nvio] = (int)vio_r32(vio_base[nvio], VIO_DEVICE_ID);
    nvio++;
  }
  cli();
  for (int v = 0x20; v < 0x30; v++) idt_set_handler(v, on_irq);
  printf("dev_chaos seed %llu, %llu episodes, %d virtio devices\n", (unsigned long long)state, episodes, nvio);
  for (unsigned long long e = 1; e <= episodes; e++) {
    uint32_t kind = below(nvio ? 4 : 1);
    if (kind == 0) port_burst();
    else if (kind == 1) vio_burst((int)below((uint32_t)nvio));
    else vio_setup((int)below((uint32_t)nvio));
    wait_polls();
    for (int i = 0; i < nvio; i++) fold(vio_r32(vio_base[i], VIO_STATUS));
    if (e % 32 == 0) printf("episode %llu: hash %016llx\n", e, (unsigned long long)hash);
  }
  uart_init(1, 0x00);                            /* the random port writes may have changed COM1 */
  printf("dev_chaos done: hash %016llx, %u interrupts, %u storms\n", (unsigned long long)hash, irqs, storms);
  return 0;
}
