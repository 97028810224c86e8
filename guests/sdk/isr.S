/* Interrupt entry stubs for all 256 vectors, 16 bytes apart from x86ft_isr_stubs.
 * Each pushes a 0 error code if the CPU does not push one (all but 8, 10-14, 17, 21, 29, 30),
 * then its vector, then jumps to the common path, which saves the GPRs into a
 * struct x86ft_frame, calls x86ft_isr_dispatch(frame) on a 16-byte aligned stack,
 * restores the (possibly changed) registers and returns with IRETQ. */
	.text
	.globl x86ft_isr_stubs
	.align 16
x86ft_isr_stubs:
	.set vec, 0
	.rept 256
	.align 16
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp x86ft_isr_common
	.set vec, vec + 1
	.endr

	.type x86ft_isr_common, @function
x86ft_isr_common:
	cld
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi                 /* struct x86ft_frame * */
	mov %rsp, %rbx
	and $-16, %rsp
	call x86ft_isr_dispatch
	mov %rbx, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp                  /* vector and error code */
	iretq
	.size x86ft_isr_common, . - x86ft_isr_common
