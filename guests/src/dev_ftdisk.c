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
#include "dev/virtio-blk.h"

static uint8_t buf[SECTOR] __attribute__((aligned(16)));
static uint8_t cmp[SECTOR] __attribute__((aligned(16)));
static uint32_t written[64];

static void fill(uint8_t *p, uint32_t seed) {
  for (unsigned i = 0; i < SECTOR; i++) { seed = seed * 1103515245u + 12345u; p[i] = (uint8_t)(seed >> 16); }
}

int main(const struct x86ft_bootinfo *bi) {
  unsigned long long rounds = x86ft_cmdline_number(bi, 400);
  if (vblk_init(bi, "no virtio-blk device") != 0) return 2;

  uint32_t h = 2166136261u;
  int failures = 0;
  for (unsigned long long r = 1; r <= rounds; r++) {
    for (unsigned k = 0; k < 400; k++) { h ^= (uint32_t)(r * 2654435761u + k); h *= 16777619u; h ^= h >> 13; }
    printf("r %llu hash %08x\n", r, h);
    unsigned s = 1 + (unsigned)(r % 60);
    fill(buf, h);
    written[s] = h;
    if (vblk_request(T_OUT, s, buf, SECTOR) != 0) { printf("write of sector %u failed\n", s); failures++; }
    if (r % 7 == 0 && r > 3) {
      unsigned t = 1 + (unsigned)((r - 3) % 60);
      memset(buf, 0, SECTOR);
      if (vblk_request(T_IN, t, buf, SECTOR) != 0) { printf("read of sector %u failed\n", t); failures++; }
      fill(cmp, written[t]);
      if (memcmp(buf, cmp, SECTOR) != 0) { printf("sector %u does not hold what round %llu wrote\n", t, r - 3); failures++; }
    }
    if (r % 16 == 0 && vblk_request(T_FLUSH, 0, NULL, 0) != 0) { printf("flush failed\n"); failures++; }
  }
  printf("ftdisk done %llu hash %08x failures %d\n", rounds, h, failures);
  return failures ? 1 : 0;
}
