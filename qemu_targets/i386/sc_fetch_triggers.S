/*
 * pf-user-fetch-not-present (i386): ring 3 calls into a page that is not
 * present.  The call completes (pushing its return address), the fetch at
 * the page faults: 32-bit paging has no NX, so the error code is U only
 * (I/D stays 0) and the sign of a fetch is CR2 = EIP = the page.  The fixup
 * resumes at fault_resume_..., which drops the return address.
 */
#include "asm.h"

CANARY_ENTER pf_user_fetch_not_present
LABEL(fault_insn_pf_user_fetch_not_present)
	call *%eax
	jmp 1f
LABEL(fault_resume_pf_user_fetch_not_present)
	add $4, %esp
1:
CANARY_LEAVE pf_user_fetch_not_present
