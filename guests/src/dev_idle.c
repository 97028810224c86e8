/* dev_idle: an idle guest with a timer, the shape of an OS with nothing to do. Programs PIT
 * channel 0 as a rate generator (mode 2) at HZ (the second number on the command line, default
 * 100), unmasks IRQ 0 only and sleeps in HLT between ticks for SECONDS (the first number, default
 * 10) worth of ticks; prints the tick count and exits 0. `npm run bench` measures the log
 * bandwidth such a guest costs a primary (FT: an idle guest with a 100 Hz timer). */
#include "x86ft.h"
#include "dev/pc.h"

static volatile uint32_t ticks;

static void on_tick(struct x86ft_frame *f) {
  (void)f;
  ticks++;
  pic_eoi(0);
}

int main(const struct x86ft_bootinfo *bi) {
  uint32_t seconds = (uint32_t)x86ft_cmdline_number(bi, 10);
  uint32_t hz = x86ft_cmdline_word_number(bi, 1, 100);
  if (hz < 19 || hz > 10000) { printf("dev_idle: HZ must be 19..10000\n"); return 2; }
  uint32_t want = seconds * hz;
  cli();
  idt_set_handler(IRQ_VEC(0), on_tick);
  pic_remap(0x20, 0x28);
  pit_start(2, (uint16_t)((PIT_HZ + hz / 2) / hz));
  pic_unmask(0);
  while (ticks < want) sti_hlt_cli();
  pic_mask(0);
  printf("dev_idle: %u ticks at %u Hz\n", (unsigned)ticks, (unsigned)hz);
  return 0;
}
