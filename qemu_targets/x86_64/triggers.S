/* Triggers that only exist in long mode (see common/triggers.S). */
#include "asm.h"
#include "vectors.h"

/* Reserved bit 51 in the PTE: #PF with P|RSVD on any access. */
CANARY_TRIGGER pf_reserved_bit, mov (%rax), %rbx

/*
 * Call into the NX page: the call itself completes (pushing a return
 * address), then the fetch at pf_nx_page faults, so the CPU reports
 * ip = cr2 = pf_nx_page and the fixup must drop the return address.
 * pf_nx_page is full of `ret`, so without NX the call simply returns.
 */
CANARY_ENTER pf_instruction_fetch
LABEL(fault_insn_pf_instruction_fetch)
	call *%rax
	jmp 1f
LABEL(fault_resume_pf_instruction_fetch)
	add $8, %rsp        /* drop the faulting call's return address */
1:
CANARY_LEAVE pf_instruction_fetch

/* Long-mode-only handlers that scenarios install (vectors.h). */
CANARY_TRIGGER bad_red_zone, int $VEC_BAD_RED_ZONE
CANARY_TRIGGER style_rust, int $VEC_STYLE_RUST
CANARY_TRIGGER style_rust_err, mov %ax, %ds
