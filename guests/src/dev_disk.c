/* dev_disk: a virtio-blk driver of its own (virtio 1.x over MMIO, one split virtqueue,
 * completion by interrupt) and a disk exercise:
 *   - finds the block device in the boot-info block, negotiates VERSION_1 (+ FLUSH), reads the
 *     capacity from the config space, routes its IRQ line through the PIC;
 *   - prints sector 0 (the test writes a text there) up to its first NUL or newline;
 *   - writes a pattern: sector 1 alone, sectors 2-5 in one request, sectors 8-15 in one request
 *     whose data is split over two descriptors, sectors 20, 21, 22 as three requests in flight
 *     at once (one notify), and the last sector; reads every one back and compares, plus one
 *     read of sectors 1-5 as a whole;
 *   - GET_ID (prints the serial), FLUSH (expects OK);
 *   - a read at sector = capacity and a 2-sector write at capacity - 1: both must complete with
 *     VIRTIO_BLK_S_IOERR and leave the disk alone.
 * Pattern byte i of sector s: (s * 31 + i * 7 + 0x5A) & 0xFF. Sectors 6, 7 and 16-19 are never
 * written. Needs a disk of at least 64 sectors. Exit status 0 when every check passes. */
#include "x86ft.h"
#include "dev/pc.h"
#include "dev/virtio.h"

#define SECTOR 512
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define S_OK 0
#define S_IOERR 1

struct blk_hdr { uint32_t type, reserved; uint64_t sector; };

static struct virtq vq __attribute__((aligned(4096)));
static uintptr_t base;
static int irq;
static volatile uint32_t interrupts;
static int failures;

/* per-request header and status, indexed by head descriptor */
static struct blk_hdr hdrs[VQ_SIZE];
static volatile uint8_t statuses[VQ_SIZE];
static uint8_t buf[16 * SECTOR] __attribute__((aligned(16)));
static uint8_t cmp[16 * SECTOR] __attribute__((aligned(16)));

static void on_irq(struct x86ft_frame *f) {
  (void)f;
  uint32_t st = vio_r32(base, VIO_INTERRUPT_STATUS);
  vio_w32(base, VIO_INTERRUPT_ACK, st);   /* level-triggered line: drop it before the EOI */
  interrupts++;
  pic_eoi(irq);
}

static uint8_t pat(uint64_t s, unsigned i) { return (uint8_t)(s * 31 + i * 7 + 0x5A); }
static void fill(uint8_t *p, uint64_t s, unsigned n) {
  for (unsigned k = 0; k < n; k++) for (unsigned i = 0; i < SECTOR; i++) p[k * SECTOR + i] = pat(s + k, i);
}

/* Queues one request (data split over `split` descriptors when > 1); returns its head. */
static int submit(uint32_t type, uint64_t sector, void *data, uint32_t len, int split) {
  struct vq_buf b[4];
  int n = 0;
  static struct blk_hdr tmp;
  tmp.type = type; tmp.reserved = 0; tmp.sector = sector;
  /* the header lives in hdrs[head]; head is free_head before the add */
  uint16_t head = vq.free_head;
  hdrs[head] = tmp;
  b[n++] = (struct vq_buf){ &hdrs[head], sizeof hdrs[head], 0 };
  int wr = type == T_IN || type == T_GET_ID;
  if (len) {
    if (split > 1) {
      uint32_t first = (len / 2 + SECTOR - 1) / SECTOR * SECTOR;
      b[n++] = (struct vq_buf){ data, first, wr };
      b[n++] = (struct vq_buf){ (uint8_t *)data + first, len - first, wr };
    } else b[n++] = (struct vq_buf){ data, len, wr };
  }
  statuses[head] = 0xFF;
  b[n++] = (struct vq_buf){ (const void *)&statuses[head], 1, 1 };
  int h = vq_add(&vq, b, n);
  if (h != head) { printf("FAIL: vq_add returned %d, expected %u\n", h, head); x86ft_exit(3); }
  return h;
}

/* Waits (HLT) until `count` requests completed; returns the number of bytes the last wrote. */
static void wait_all(int count, int *heads, uint8_t *st) {
  int done = 0;
  cli();
  while (done < count) {
    while (!vq_has_used(&vq)) sti_hlt_cli();
    uint32_t len;
    int h = vq_get_used(&vq, &len);
    for (int k = 0; k < count; k++) if (heads[k] == h) st[k] = statuses[h];
    done++;
  }
  sti();
}

static uint8_t request(uint32_t type, uint64_t sector, void *data, uint32_t len, int split) {
  int h = submit(type, sector, data, len, split);
  vq_kick(&vq);
  uint8_t st;
  wait_all(1, &h, &st);
  return st;
}

static void check(int cond, const char *what) {
  printf("%-44s %s\n", what, cond ? "ok" : "FAIL");
  if (!cond) failures++;
}

static void write_and_verify(uint64_t s, unsigned n, int split, const char *what) {
  fill(buf, s, n);
  uint8_t st = request(T_OUT, s, buf, n * SECTOR, split);
  memset(buf, 0xEE, n * SECTOR);
  uint8_t st2 = request(T_IN, s, buf, n * SECTOR, split);
  fill(cmp, s, n);
  char line[80];
  snprintf(line, sizeof line, "%s (sector %lu x%u)", what, (unsigned long)s, n);
  check(st == S_OK && st2 == S_OK && memcmp(buf, cmp, n * SECTOR) == 0, line);
}

int main(const struct x86ft_bootinfo *bi) {
  if (!vio_find(bi, 2, &base, &irq)) { printf("no virtio-blk device\n"); return 2; }
  printf("virtio-blk at %#lx irq %d\n", (unsigned long)base, irq);
  uint32_t offered, accepted;
  if (vio_negotiate(base, 1u << 9 /* FLUSH */, &offered, &accepted) != 0) { printf("feature negotiation failed\n"); return 2; }
  printf("features offered %#x accepted %#x + VERSION_1\n", offered, accepted);
  uint32_t gen;
  uint64_t cap;
  do {
    gen = vio_r32(base, VIO_CONFIG_GENERATION);
    cap = vio_r32(base, VIO_CONFIG) | (uint64_t)vio_r32(base, VIO_CONFIG + 4) << 32;
  } while (gen != vio_r32(base, VIO_CONFIG_GENERATION));
  printf("capacity %lu sectors (%lu KiB)%s\n", (unsigned long)cap, (unsigned long)(cap / 2), offered & (1u << 5) ? " read-only" : "");
  if (cap < 64) { printf("disk too small\n"); return 2; }
  if (vq_setup(&vq, base, 0) != 0) { printf("queue setup failed\n"); return 2; }

  cli();
  idt_set_handler(IRQ_VEC(irq), on_irq);
  pic_remap(0x20, 0x28);
  pic_unmask(irq);
  vio_driver_ok(base);
  sti();

  /* sector 0: text from the host */
  memset(buf, 0, SECTOR);
  uint8_t st = request(T_IN, 0, buf, SECTOR, 1);
  check(st == S_OK, "read sector 0");
  unsigned n = 0;
  while (n < SECTOR && buf[n] && buf[n] != '\n') n++;
  printf("sector 0: \"%.*s\"\n", (int)n, (const char *)buf);

  write_and_verify(1, 1, 1, "write+read single sector");
  write_and_verify(2, 4, 1, "write+read 4-sector request");
  write_and_verify(8, 8, 2, "write+read 8 sectors, 2 data descriptors");
  write_and_verify(cap - 1, 1, 1, "write+read last sector");

  /* sectors 1-5 in one read */
  memset(buf, 0, 5 * SECTOR);
  st = request(T_IN, 1, buf, 5 * SECTOR, 1);
  fill(cmp, 1, 5);
  check(st == S_OK && memcmp(buf, cmp, 5 * SECTOR) == 0, "read sectors 1-5 in one request");

  /* three writes in flight, one notify */
  static uint8_t three[3][SECTOR];
  int heads[3];
  uint8_t sts[3];
  for (int k = 0; k < 3; k++) { fill(three[k], 20 + k, 1); heads[k] = submit(T_OUT, 20 + k, three[k], SECTOR, 1); }
  uint32_t irq_before = interrupts;
  vq_kick(&vq);
  wait_all(3, heads, sts);
  check(sts[0] == S_OK && sts[1] == S_OK && sts[2] == S_OK, "three writes in flight");
  check(interrupts > irq_before, "completion interrupt");
  memset(buf, 0, 3 * SECTOR);
  st = request(T_IN, 20, buf, 3 * SECTOR, 1);
  fill(cmp, 20, 3);
  check(st == S_OK && memcmp(buf, cmp, 3 * SECTOR) == 0, "read back sectors 20-22");

  /* GET_ID */
  memset(buf, 0, 32);
  st = request(T_GET_ID, 0, buf, 20, 1);
  printf("serial \"%.20s\"\n", (const char *)buf);
  check(st == S_OK, "GET_ID");

  st = request(T_FLUSH, 0, NULL, 0, 1);
  check(st == S_OK, "FLUSH");

  st = request(T_IN, cap, buf, SECTOR, 1);
  check(st == S_IOERR, "read at sector = capacity -> IOERR");
  fill(buf, 0x777, 2);
  st = request(T_OUT, cap - 1, buf, 2 * SECTOR, 1);
  check(st == S_IOERR, "write across the end -> IOERR");
  memset(buf, 0, SECTOR);
  st = request(T_IN, cap - 1, buf, SECTOR, 1);
  fill(cmp, cap - 1, 1);
  check(st == S_OK && memcmp(buf, cmp, SECTOR) == 0, "last sector unchanged");

  check(!(vio_r32(base, VIO_STATUS) & VIO_S_NEEDS_RESET), "device status healthy");
  printf("%s: %d failures\n", failures ? "FAIL" : "disk ok", failures);
  return failures ? 1 : 0;
}
