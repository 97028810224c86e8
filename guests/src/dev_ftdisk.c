/* dev_ftdisk: a deterministic console + disk workload for fault-tolerance tests (its output does
 * not depend on time, so a run that survived a failover must equal an uninterrupted one byte for
 * byte). For round r = 1..N (N = the first number on the command line, default 400):
 *   - mixes r into a running FNV-1a hash with some arithmetic (a few thousand instructions);
 *   - prints "r <r> hash <hash>" on COM1;
 *   - writes sector 1 + (r % 60) with a pattern derived from the hash (virtio-blk, by interrupt);
 *   - every 7th round reads back the sector written 3 rounds earlier and checks it (a read of a
 *     write still held under the Output Rule must see it);
 *   - every 16th round flushes.
 * At the end: "ftdisk done <rounds> hash <hash> failures <n>", exit status 0 when every check
 * passed. Needs a disk of at least 64 sectors. */
#include "x86ft.h"
#include "dev/pc.h"
#include "dev/virtio.h"

#define SECTOR 512
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4

struct blk_hdr { uint32_t type, reserved; uint64_t sector; };

static struct virtq vq __attribute__((aligned(4096)));
static uintptr_t base;
static int irq;
static struct blk_hdr hdr;
static volatile uint8_t status;
static uint8_t buf[SECTOR] __attribute__((aligned(16)));
static uint8_t cmp[SECTOR] __attribute__((aligned(16)));
static uint32_t written[64];

static void on_irq(struct x86ft_frame *f) {
  (void)f;
  uint32_t st = vio_r32(base, VIO_INTERRUPT_STATUS);
  vio_w32(base, VIO_INTERRUPT_ACK, st);
  pic_eoi(irq);
}

static uint8_t request(uint32_t type, uint64_t sector, void *data, uint32_t len) {
  struct vq_buf b[3];
  int n = 0;
  hdr.type = type; hdr.reserved = 0; hdr.sector = sector;
  b[n++] = (struct vq_buf){ &hdr, sizeof hdr, 0 };
  if (len) b[n++] = (struct vq_buf){ data, len, type == T_IN };
  status = 0xFF;
  b[n++] = (struct vq_buf){ (const void *)&status, 1, 1 };
  vq_add(&vq, b, n);
  vq_kick(&vq);
  cli();
  while (!vq_has_used(&vq)) sti_hlt_cli();
  uint32_t got;
  vq_get_used(&vq, &got);
  sti();
  return status;
}

static void fill(uint8_t *p, uint32_t seed) {
  for (unsigned i = 0; i < SECTOR; i++) { seed = seed * 1103515245u + 12345u; p[i] = (uint8_t)(seed >> 16); }
}

int main(const struct x86ft_bootinfo *bi) {
  unsigned long long rounds = x86ft_cmdline_number(bi, 400);
  if (!vio_find(bi, 2, &base, &irq)) { printf("no virtio-blk device\n"); return 2; }
  uint32_t offered, accepted;
  if (vio_negotiate(base, 1u << 9, &offered, &accepted) != 0) { printf("feature negotiation failed\n"); return 2; }
  if (vq_setup(&vq, base, 0) != 0) { printf("queue setup failed\n"); return 2; }
  cli();
  idt_set_handler(IRQ_VEC(irq), on_irq);
  pic_remap(0x20, 0x28);
  pic_unmask(irq);
  vio_driver_ok(base);
  sti();

  uint32_t h = 2166136261u;
  int failures = 0;
  for (unsigned long long r = 1; r <= rounds; r++) {
    for (unsigned k = 0; k < 400; k++) { h ^= (uint32_t)(r * 2654435761u + k); h *= 16777619u; h ^= h >> 13; }
    printf("r %llu hash %08x\n", r, h);
    unsigned s = 1 + (unsigned)(r % 60);
    fill(buf, h);
    written[s] = h;
    if (request(T_OUT, s, buf, SECTOR) != 0) { printf("write of sector %u failed\n", s); failures++; }
    if (r % 7 == 0 && r > 3) {
      unsigned t = 1 + (unsigned)((r - 3) % 60);
      memset(buf, 0, SECTOR);
      if (request(T_IN, t, buf, SECTOR) != 0) { printf("read of sector %u failed\n", t); failures++; }
      fill(cmp, written[t]);
      if (memcmp(buf, cmp, SECTOR) != 0) { printf("sector %u does not hold what round %llu wrote\n", t, r - 3); failures++; }
    }
    if (r % 16 == 0 && request(T_FLUSH, 0, NULL, 0) != 0) { printf("flush failed\n"); failures++; }
  }
  printf("ftdisk done %llu hash %08x failures %d\n", rounds, h, failures);
  return failures ? 1 : 0;
}
