/* ft_dirty: a guest that keeps writing much of its RAM, for the pre-copy of a respawned secondary
 * (FT.md "Redundancy restored"): pages change while they are copied, so a page whose last change the
 * copy missed shows in the output. Deterministic (nothing depends on time or input). Command line:
 * passes P (default 20), KiB of RAM written A (default 6144, at most 6144, a multiple of 4), and an
 * optional third number: milliseconds of guest idle time after each pass (PIT channel 0 at 1 kHz: a
 * lower bound on the run's length that does not depend on the machine's speed; default 0).
 * Pass p writes one 64-bit word in every 4 KiB page of the area (at an offset that moves with p) and
 * fills every 16th page (a moving set) whole, then reads the whole area into a running FNV-1a-style
 * hash h and prints "dirty pass <p> of <P> hash <h>". An optional fourth number 1 holds the end: after the
 * last pass the guest prints "dirty holding: waiting for one console byte", asserts RTS and, until COM1 has
 * received a byte (polled in LSR on its 1 kHz tick), rewrites a word in every page of the area every 50 ms (so
 * RAM keeps changing while a test respawns a secondary) without printing; the byte is read, not echoed. The
 * output does not depend on how long it held (default 0: no hold). Ends with "dirty done <P> hash <h>", status 0. */
#include "x86ft.h"
#include "dev/pc.h"

#define MAX_KIB 6144u
static uint64_t area[MAX_KIB * 1024u / 8u];
static volatile uint64_t ms_ticks;

static void on_tick(struct x86ft_frame *f) {
  (void)f;
  ms_ticks++;
  pic_eoi(0);
}

int main(const struct x86ft_bootinfo *bi) {
  unsigned long long passes = x86ft_cmdline_number(bi, 20);
  unsigned long long kib = x86ft_cmdline_word_number(bi, 1, 6144);
  unsigned long long pause_ms = x86ft_cmdline_word_number(bi, 2, 0);
  unsigned long long hold = x86ft_cmdline_word_number(bi, 3, 0);
  if (kib == 0 || kib > MAX_KIB || kib % 4) { printf("ft_dirty: KiB must be a multiple of 4 in 4..%u\n", MAX_KIB); return 2; }
  if (pause_ms || hold) {
    cli();
    pic_remap(0x20, 0x28);
    idt_set_handler(IRQ_VEC(0), on_tick);
    pit_start(2, (uint16_t)((PIT_HZ + 500) / 1000));
    pic_unmask(0);
    sti();
  }
  const unsigned pages = (unsigned)(kib / 4), words = 4096 / 8;
  uint64_t h = 1469598103934665603ull;
  for (unsigned long long p = 1; p <= passes; p++) {
    for (unsigned pg = 0; pg < pages; pg++) {
      uint64_t *page = &area[(uint64_t)pg * words];
      page[(pg * 7u + p * 13u) % words] ^= h + pg * 0x9e3779b97f4a7c15ull;
      if ((pg + p) % 16 == 0) {
        uint64_t x = h ^ (p << 32) ^ pg;
        for (unsigned w = 0; w < words; w++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; page[w] = x; }
      }
    }
    for (uint64_t i = 0; i < (uint64_t)pages * words; i++) { h ^= area[i]; h *= 1099511628211ull; }
    printf("dirty pass %04llu of %llu hash %016llx\n", p, passes, (unsigned long long)h);
    if (pause_ms) {
      cli();
      uint64_t until = ms_ticks + pause_ms;
      while (ms_ticks < until) sti_hlt_cli();
      sti();
    }
  }
  if (hold) {
    printf("dirty holding: waiting for one console byte\n");
    outb(COM1 + UART_MCR, 0x0B);               /* DTR, RTS, OUT2: the host console may send */
    cli();
    for (uint64_t k = 1; !(inb(COM1 + UART_LSR) & 0x01); k++) {
      for (unsigned pg = 0; pg < pages; pg++) area[(uint64_t)pg * words + (pg * 5u + k) % words] += k;
      uint64_t until = ms_ticks + 50;
      while (ms_ticks < until && !(inb(COM1 + UART_LSR) & 0x01)) sti_hlt_cli();
    }
    sti();
    (void)inb(COM1 + UART_RBR);
  }
  printf("dirty done %llu hash %016llx\n", passes, (unsigned long long)h);
  return 0;
}
