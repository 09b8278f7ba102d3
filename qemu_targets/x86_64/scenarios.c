/* Scenarios that need long-mode paging (NX, reserved physical-address bits). */
#include "exc.h"
#include "memmap.h"
#include "scenario.h"

DECLARE_TRIGGER(pf_reserved_bit);
DECLARE_TRIGGER(pf_instruction_fetch);

static int sc_pf_reserved_bit(void)
{
	return run_pf_case(&(struct fault_case){
		CASE_TRIGGER(pf_reserved_bit), .vector = 14, .has_error = 1,
		.error = PF_P | PF_RSVD,
		.error_qemu = PF_RSVD, /* QEMU TCG leaves P clear */
		.cr2 = pf_reserved_page,
		.cr2_name = "pf_reserved_page" });
}

static int sc_pf_instruction_fetch(void)
{
	return run_pf_case(&(struct fault_case){
		CASE_TRIGGER(pf_instruction_fetch), .vector = 14,
		.has_error = 1, .error = PF_P | PF_ID,
		.fault_ip = pf_nx_page, /* reported at the target, not the call */
		.sp_pushed = 8,         /* the call's return address */
		.cr2 = pf_nx_page, .cr2_name = "pf_nx_page" });
}

const struct scenario arch_scenarios[] = {
	{ "pf-reserved-bit", sc_pf_reserved_bit },
	{ "pf-instruction-fetch", sc_pf_instruction_fetch },
	{ NULL, NULL },
};
