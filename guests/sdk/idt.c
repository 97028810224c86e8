/* x86ft SDK: the IDT. 256 64-bit gates pointing at the stubs in isr.S, a table of C
 * handlers, and the dispatcher the stubs call. */
#include "x86ft.h"

struct gate {
  uint16_t off_lo, sel;
  uint8_t ist, attr;
  uint16_t off_mid;
  uint32_t off_hi, zero;
} __attribute__((packed));

extern char x86ft_isr_stubs[];
static struct gate idt[256] __attribute__((aligned(16)));
static x86ft_handler handlers[256];
static int idt_ready;

void lidt(const void *base, uint16_t limit) {
  struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d = { limit, (uint64_t)base };
  __asm__ volatile("lidt %0" : : "m"(d) : "memory");
}

void idt_set_gate(int vec, void (*entry)(void), uint16_t selector, int type, int dpl, int ist) {
  uint64_t a = (uint64_t)entry;
  struct gate *g = &idt[vec & 255];
  g->off_lo = (uint16_t)a;
  g->sel = selector;
  g->ist = (uint8_t)(ist & 7);
  g->attr = (uint8_t)(0x80 | (dpl & 3) << 5 | (type & 15));
  g->off_mid = (uint16_t)(a >> 16);
  g->off_hi = (uint32_t)(a >> 32);
  g->zero = 0;
}

void (*idt_stub(int vec))(void) {
  return (void (*)(void))(x86ft_isr_stubs + 16 * (vec & 255));
}

void idt_init(void) {
  if (idt_ready) return;
  for (int v = 0; v < 256; v++) idt_set_gate(v, idt_stub(v), 0x08, 0xE, 0, 0);
  lidt(idt, sizeof idt - 1);
  idt_ready = 1;
}

void idt_set_handler(int vec, x86ft_handler h) {
  idt_init();
  handlers[vec & 255] = h;
}

void x86ft_dump_frame(const struct x86ft_frame *f) {
  printf("vector %lu error %#lx rip %#lx cs %#lx rflags %#lx rsp %#lx ss %#lx\n",
         (unsigned long)f->vector, (unsigned long)f->error_code, (unsigned long)f->rip,
         (unsigned long)f->cs, (unsigned long)f->rflags, (unsigned long)f->rsp, (unsigned long)f->ss);
  printf("rax %#lx rbx %#lx rcx %#lx rdx %#lx rsi %#lx rdi %#lx rbp %#lx\n",
         (unsigned long)f->rax, (unsigned long)f->rbx, (unsigned long)f->rcx, (unsigned long)f->rdx,
         (unsigned long)f->rsi, (unsigned long)f->rdi, (unsigned long)f->rbp);
  if (f->vector == X86FT_PF) printf("cr2 %#lx\n", (unsigned long)read_cr2());
}

void x86ft_isr_dispatch(struct x86ft_frame *f);
void x86ft_isr_dispatch(struct x86ft_frame *f) {
  x86ft_handler h = handlers[f->vector & 255];
  if (h) { h(f); return; }
  printf("\nx86ft: unhandled interrupt\n");
  x86ft_dump_frame(f);
  x86ft_exit(128 + (int)(f->vector & 127));
}
