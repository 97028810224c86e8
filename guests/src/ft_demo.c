/* ft_demo: the guest `npm start` runs under protection. Deterministic (nothing depends on time or
 * input), so a lost or doubled byte shows at once: line r is "demo line <r> of <N> hash <h>" where h
 * is a running FNV-1a-style hash over everything before it, and each line also writes sector
 * 1 + (r % 32) of the disk with a pattern of h (virtio-blk, by interrupt) and reads back the sector
 * of 5 lines earlier (a lost write would show as "MISMATCH"). N = the first number on the command
 * line (default 60); each line costs about <second number, default 3000> thousand instructions of
 * arithmetic, so a human can watch the lines come; an optional third number is milliseconds of guest
 * time to idle in HLT after each line (PIT channel 0 at 1 kHz: a lower bound on the run's length that
 * does not depend on the machine's speed; default 0, no timer at all). An optional fourth number 1 holds
 * the end: after the last line the guest prints "demo holding: waiting for one console byte", asserts
 * RTS (the host console sends only then) and idles in HLT on the 1 kHz tick until COM1 has received a
 * byte (polled in LSR each tick; the byte is read and not echoed), so a test decides when the guest may
 * end, whatever the machine's speed (default 0: no hold). Ends with "demo done <N> hash <h> mismatches <m>",
 * exit status 0 when every read matched. Needs a disk of at least 40 sectors. */
#include "x86ft.h"
#include "dev/virtio-blk.h"
#include "dev/pc.h"

static uint8_t buf[SECTOR] __attribute__((aligned(16)));
static uint8_t cmp[SECTOR] __attribute__((aligned(16)));
static uint32_t written[64];
static volatile uint64_t ms_ticks;

static void on_tick(struct x86ft_frame *f) {
  (void)f;
  ms_ticks++;
  pic_eoi(0);
}

static void fill(uint8_t *p, uint32_t seed) {
  for (unsigned i = 0; i < SECTOR; i++) { seed = seed * 1103515245u + 12345u; p[i] = (uint8_t)(seed >> 16); }
}

int main(const struct x86ft_bootinfo *bi) {
  unsigned long long lines = x86ft_cmdline_number(bi, 60);
  unsigned long long work = x86ft_cmdline_word_number(bi, 1, 3000) * 100;
  unsigned long long pause_ms = x86ft_cmdline_word_number(bi, 2, 0);
  unsigned long long hold = x86ft_cmdline_word_number(bi, 3, 0);
  if (vblk_init(bi, "no virtio-blk device (give --disk)") != 0) return 2;
  if (pause_ms || hold) {
    cli();
    idt_set_handler(IRQ_VEC(0), on_tick);
    pit_start(2, (uint16_t)((PIT_HZ + 500) / 1000));
    pic_unmask(0);
    sti();
  }

  uint32_t h = 2166136261u;
  int mismatches = 0;
  for (unsigned long long r = 1; r <= lines; r++) {
    for (unsigned long long k = 0; k < work; k++) { h ^= (uint32_t)(r * 2654435761u + k); h *= 16777619u; h ^= h >> 13; }
    unsigned s = 1 + (unsigned)(r % 32);
    fill(buf, h);
    written[s] = h;
    if (vblk_request(T_OUT, s, buf, SECTOR) != 0) { printf("write of sector %u failed\n", s); mismatches++; }
    const char *check = "";
    if (r > 5) {
      unsigned t = 1 + (unsigned)((r - 5) % 32);
      memset(buf, 0, SECTOR);
      if (vblk_request(T_IN, t, buf, SECTOR) != 0 || (fill(cmp, written[t]), memcmp(buf, cmp, SECTOR) != 0)) { check = " MISMATCH"; mismatches++; }
    }
    if (r % 8 == 0 && vblk_request(T_FLUSH, 0, NULL, 0) != 0) { printf("flush failed\n"); mismatches++; }
    printf("demo line %04llu of %llu hash %08x sector %2u%s\n", r, lines, h, s, check);
    if (pause_ms) {
      cli();
      uint64_t until = ms_ticks + pause_ms;
      while (ms_ticks < until) sti_hlt_cli();
      sti();
    }
  }
  if (hold) {
    printf("demo holding: waiting for one console byte\n");
    outb(COM1 + UART_MCR, 0x0B);               /* DTR, RTS, OUT2: the host console may send */
    cli();
    while (!(inb(COM1 + UART_LSR) & 0x01)) sti_hlt_cli();
    sti();
    (void)inb(COM1 + UART_RBR);
  }
  printf("demo done %llu hash %08x mismatches %d\n", lines, h, mismatches);
  return mismatches ? 1 : 0;
}
