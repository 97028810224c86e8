/* Multiboot (0.6.96) entry of the 32-bit CoreMark kernel for v86: header, stack, mb_main(magic, info), halt. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0
  .section .multiboot, "a"
  .align 4
  .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

  .section .bss
  .align 16
stack_bottom:
  .skip 65536
stack_top:

  .section .text
  .globl _start
_start:
  mov $stack_top, %esp
  push %ebx            /* multiboot information */
  push %eax            /* 0x2BADB002 */
  call mb_main
1: cli
  hlt
  jmp 1b
