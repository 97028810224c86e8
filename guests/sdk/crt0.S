/* Guest entry (docs-boot.md): RDI = boot-info, RSP = 0x80000, IF = 0.
 * Clears .bss, aligns the stack, calls main(bootinfo), exits with its return value. */
	.section .text.start, "ax"
	.globl _start
	.type _start, @function
_start:
	mov %rdi, %r12                 /* boot-info pointer (callee-saved) */
	lea __bss_start(%rip), %rdi
	lea __bss_end(%rip), %rcx
	sub %rdi, %rcx
	shr $3, %rcx                   /* .bss is 8-byte aligned and padded by the linker script */
	xor %eax, %eax
	cld
	rep stosq
	and $-16, %rsp
	xor %ebp, %ebp                 /* end of frame chain */
	mov %r12, x86ft_bootinfo_ptr(%rip)
	mov %r12, %rdi
	call main
	mov %eax, %edi
	call exit
	.size _start, . - _start
