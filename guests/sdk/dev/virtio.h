/* x86ft device guests: a small virtio 1.x MMIO transport driver with split virtqueues
 * (virtio 1.1 spec, sections 2.7 and 4.2.2), header-only. One struct virtq per queue, statically
 * allocated by the guest; guest RAM is identity-mapped, so virtual = physical addresses.
 * Written from the specification for the emulator's device guests. */
#ifndef X86FT_DEV_VIRTIO_H
#define X86FT_DEV_VIRTIO_H
#include "x86ft.h"

/* MMIO registers (register layout version 2) */
#define VIO_MAGIC 0x000
#define VIO_VERSION 0x004
#define VIO_DEVICE_ID 0x008
#define VIO_VENDOR_ID 0x00c
#define VIO_DEVICE_FEATURES 0x010
#define VIO_DEVICE_FEATURES_SEL 0x014
#define VIO_DRIVER_FEATURES 0x020
#define VIO_DRIVER_FEATURES_SEL 0x024
#define VIO_QUEUE_SEL 0x030
#define VIO_QUEUE_NUM_MAX 0x034
#define VIO_QUEUE_NUM 0x038
#define VIO_QUEUE_READY 0x044
#define VIO_QUEUE_NOTIFY 0x050
#define VIO_INTERRUPT_STATUS 0x060
#define VIO_INTERRUPT_ACK 0x064
#define VIO_STATUS 0x070
#define VIO_QUEUE_DESC_LOW 0x080
#define VIO_QUEUE_DESC_HIGH 0x084
#define VIO_QUEUE_DRIVER_LOW 0x090
#define VIO_QUEUE_DRIVER_HIGH 0x094
#define VIO_QUEUE_DEVICE_LOW 0x0a0
#define VIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIO_CONFIG_GENERATION 0x0fc
#define VIO_CONFIG 0x100

/* device status bits */
#define VIO_S_ACKNOWLEDGE 1
#define VIO_S_DRIVER 2
#define VIO_S_DRIVER_OK 4
#define VIO_S_FEATURES_OK 8
#define VIO_S_NEEDS_RESET 64
#define VIO_S_FAILED 128

#define VIO_F_VERSION_1_HI 1u   /* feature bit 32 = bit 0 of the high word */

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2

static inline uint32_t vio_r32(uintptr_t base, uint32_t off) { return *(volatile uint32_t *)(base + off); }
static inline void vio_w32(uintptr_t base, uint32_t off, uint32_t v) { *(volatile uint32_t *)(base + off) = v; }
static inline uint8_t vio_cfg8(uintptr_t base, uint32_t off) { return *(volatile uint8_t *)(base + VIO_CONFIG + off); }

/* The first virtio-mmio device of `device_id` listed in the boot-info block (its index in *slot). */
static inline int vio_find(const struct x86ft_bootinfo *bi, uint32_t device_id, uintptr_t *base, int *irq) {
  for (uint32_t i = 0; i < bi->ndevices; i++) {
    if (bi->devices[i].type != 1) continue;
    uintptr_t b = (uintptr_t)bi->devices[i].base;
    if (vio_r32(b, VIO_MAGIC) != 0x74726976 || vio_r32(b, VIO_VERSION) != 2) continue;
    if (vio_r32(b, VIO_DEVICE_ID) != device_id) continue;
    *base = b; *irq = (int)bi->devices[i].irq;
    return 1;
  }
  return 0;
}

/* Reset and the initialisation sequence up to FEATURES_OK (spec 3.1.1): ACKNOWLEDGE, DRIVER,
 * read the device features, accept `want_lo` of the low word and VERSION_1, FEATURES_OK and
 * check that the device kept it. Returns 0 and the accepted low features, or -1. */
static inline int vio_negotiate(uintptr_t base, uint32_t want_lo, uint32_t *offered_lo, uint32_t *accepted_lo) {
  vio_w32(base, VIO_STATUS, 0);
  while (vio_r32(base, VIO_STATUS) != 0) {}
  vio_w32(base, VIO_STATUS, VIO_S_ACKNOWLEDGE);
  vio_w32(base, VIO_STATUS, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
  vio_w32(base, VIO_DEVICE_FEATURES_SEL, 0);
  uint32_t lo = vio_r32(base, VIO_DEVICE_FEATURES);
  vio_w32(base, VIO_DEVICE_FEATURES_SEL, 1);
  uint32_t hi = vio_r32(base, VIO_DEVICE_FEATURES);
  if (offered_lo) *offered_lo = lo;
  if (!(hi & VIO_F_VERSION_1_HI)) { vio_w32(base, VIO_STATUS, VIO_S_FAILED); return -1; }
  uint32_t acc = lo & want_lo;
  vio_w32(base, VIO_DRIVER_FEATURES_SEL, 0);
  vio_w32(base, VIO_DRIVER_FEATURES, acc);
  vio_w32(base, VIO_DRIVER_FEATURES_SEL, 1);
  vio_w32(base, VIO_DRIVER_FEATURES, VIO_F_VERSION_1_HI);
  vio_w32(base, VIO_STATUS, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER | VIO_S_FEATURES_OK);
  if (!(vio_r32(base, VIO_STATUS) & VIO_S_FEATURES_OK)) { vio_w32(base, VIO_STATUS, VIO_S_FAILED); return -1; }
  if (accepted_lo) *accepted_lo = acc;
  return 0;
}

static inline void vio_driver_ok(uintptr_t base) {
  vio_w32(base, VIO_STATUS, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
}

/* ---- split virtqueue ------------------------------------------------------------------ */
#define VQ_SIZE 16

struct vq_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct vq_avail { uint16_t flags, idx, ring[VQ_SIZE], used_event; };
struct vq_used_elem { uint32_t id, len; };
struct vq_used { uint16_t flags, idx; struct vq_used_elem ring[VQ_SIZE]; uint16_t avail_event; };

struct virtq {
  struct vq_desc desc[VQ_SIZE] __attribute__((aligned(16)));
  struct vq_avail avail __attribute__((aligned(2)));
  struct vq_used used __attribute__((aligned(4)));
  uintptr_t base;
  uint16_t index, free_head, num_free, last_used;
  uint16_t chain_len[VQ_SIZE];
};

/* Sets queue `index` up with VQ_SIZE entries. Returns 0, or -1 if the device cannot. */
static inline int vq_setup(struct virtq *q, uintptr_t base, uint16_t index) {
  memset(q, 0, sizeof *q);
  q->base = base; q->index = index;
  for (int i = 0; i < VQ_SIZE; i++) q->desc[i].next = (uint16_t)(i + 1);
  q->num_free = VQ_SIZE;
  vio_w32(base, VIO_QUEUE_SEL, index);
  if (vio_r32(base, VIO_QUEUE_READY) != 0) return -1;
  uint32_t max = vio_r32(base, VIO_QUEUE_NUM_MAX);
  if (max < VQ_SIZE) return -1;
  vio_w32(base, VIO_QUEUE_NUM, VQ_SIZE);
  uint64_t d = (uintptr_t)q->desc, a = (uintptr_t)&q->avail, u = (uintptr_t)&q->used;
  vio_w32(base, VIO_QUEUE_DESC_LOW, (uint32_t)d); vio_w32(base, VIO_QUEUE_DESC_HIGH, (uint32_t)(d >> 32));
  vio_w32(base, VIO_QUEUE_DRIVER_LOW, (uint32_t)a); vio_w32(base, VIO_QUEUE_DRIVER_HIGH, (uint32_t)(a >> 32));
  vio_w32(base, VIO_QUEUE_DEVICE_LOW, (uint32_t)u); vio_w32(base, VIO_QUEUE_DEVICE_HIGH, (uint32_t)(u >> 32));
  vio_w32(base, VIO_QUEUE_READY, 1);
  return 0;
}

struct vq_buf { const void *addr; uint32_t len; int writable; };

/* Puts a chain of `n` buffers (device-readable ones first) in the available ring; does not
 * notify. Returns the head descriptor index, or -1 when the queue has too few free entries. */
static inline int vq_add(struct virtq *q, const struct vq_buf *b, int n) {
  if (n <= 0 || n > q->num_free) return -1;
  uint16_t head = q->free_head, i = head, last = head;
  for (int k = 0; k < n; k++) {
    struct vq_desc *d = &q->desc[i];
    d->addr = (uintptr_t)b[k].addr;
    d->len = b[k].len;
    d->flags = (uint16_t)((b[k].writable ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0));
    last = i;
    i = d->next;
  }
  q->free_head = q->desc[last].next;   /* the unused rest of the free list */
  q->num_free = (uint16_t)(q->num_free - n);
  q->chain_len[head] = (uint16_t)n;
  q->avail.ring[q->avail.idx % VQ_SIZE] = head;
  __asm__ volatile("" ::: "memory");   /* ring entry before index (x86 keeps store order) */
  *(volatile uint16_t *)&q->avail.idx = (uint16_t)(q->avail.idx + 1);
  return head;
}

static inline void vq_kick(struct virtq *q) {
  __asm__ volatile("" ::: "memory");
  vio_w32(q->base, VIO_QUEUE_NOTIFY, q->index);
}

/* True when the device has returned a chain not yet collected. */
static inline int vq_has_used(struct virtq *q) {
  return *(volatile uint16_t *)&q->used.idx != q->last_used;
}

/* Collects the next used chain: returns its head (and the length the device wrote), frees its
 * descriptors; -1 when there is none. */
static inline int vq_get_used(struct virtq *q, uint32_t *len) {
  if (!vq_has_used(q)) return -1;
  __asm__ volatile("" ::: "memory");
  struct vq_used_elem e = q->used.ring[q->last_used % VQ_SIZE];
  q->last_used++;
  uint16_t head = (uint16_t)e.id, i = head;
  for (int k = 1; k < q->chain_len[head]; k++) i = q->desc[i].next;
  q->desc[i].next = q->free_head;
  q->free_head = head;
  q->num_free = (uint16_t)(q->num_free + q->chain_len[head]);
  if (len) *len = e.len;
  return head;
}

#endif
