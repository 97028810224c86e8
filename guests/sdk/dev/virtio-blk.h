/* x86ft device guests: one virtio-blk device driven one request at a time (virtio 1.1 spec,
 * section 5.2: request header, data, status byte), the request waiting in STI;HLT for its
 * completion interrupt. Header-only; the guest includes it once. Written from the specification. */
#ifndef X86FT_DEV_VIRTIO_BLK_H
#define X86FT_DEV_VIRTIO_BLK_H
#include "x86ft.h"
#include "dev/pc.h"
#include "dev/virtio.h"

#define SECTOR 512
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4

struct blk_hdr { uint32_t type, reserved; uint64_t sector; };

static struct virtq vblk_vq __attribute__((aligned(4096)));
static uintptr_t vblk_base;
static int vblk_irq;
static struct blk_hdr vblk_hdr;
static volatile uint8_t vblk_status;

static void vblk_on_irq(struct x86ft_frame *f) {
  (void)f;
  uint32_t st = vio_r32(vblk_base, VIO_INTERRUPT_STATUS);
  vio_w32(vblk_base, VIO_INTERRUPT_ACK, st);   /* level-triggered line: drop it before the EOI */
  pic_eoi(vblk_irq);
}

/* Finds the first virtio-blk device, negotiates VIRTIO_F_VERSION_1, sets up queue 0 and its
 * interrupt (PIC remapped to 0x20/0x28) and enables interrupts. Returns 0, or prints why
 * (`missing` when there is no device) and returns 2. */
static inline int vblk_init(const struct x86ft_bootinfo *bi, const char *missing) {
  if (!vio_find(bi, 2, &vblk_base, &vblk_irq)) { printf("%s\n", missing); return 2; }
  uint32_t offered, accepted;
  if (vio_negotiate(vblk_base, 1u << 9, &offered, &accepted) != 0) { printf("feature negotiation failed\n"); return 2; }
  if (vq_setup(&vblk_vq, vblk_base, 0) != 0) { printf("queue setup failed\n"); return 2; }
  cli();
  idt_set_handler(IRQ_VEC(vblk_irq), vblk_on_irq);
  pic_remap(0x20, 0x28);
  pic_unmask(vblk_irq);
  vio_driver_ok(vblk_base);
  sti();
  return 0;
}

/* One request (T_IN reads into `data`, T_OUT writes it, T_FLUSH has no data), waited for;
 * returns the device's status byte (0 = OK). */
static inline uint8_t vblk_request(uint32_t type, uint64_t sector, void *data, uint32_t len) {
  struct vq_buf b[3];
  int n = 0;
  vblk_hdr.type = type; vblk_hdr.reserved = 0; vblk_hdr.sector = sector;
  b[n++] = (struct vq_buf){ &vblk_hdr, sizeof vblk_hdr, 0 };
  if (len) b[n++] = (struct vq_buf){ data, len, type == T_IN };
  vblk_status = 0xFF;
  b[n++] = (struct vq_buf){ (const void *)&vblk_status, 1, 1 };
  vq_add(&vblk_vq, b, n);
  vq_kick(&vblk_vq);
  cli();
  while (!vq_has_used(&vblk_vq)) sti_hlt_cli();
  uint32_t got;
  vq_get_used(&vblk_vq, &got);
  sti();
  return vblk_status;
}

#endif
