/* pf-user-fetch-not-present: an instruction-fetch #PF from ring 3 on
 * 32-bit paging (no NX): error code U, CR2 = EIP (sc_fetch_triggers.S). */
#include "exc.h"
#include "memmap.h"
#include "scenario.h"

DECLARE_TRIGGER(pf_user_fetch_not_present);

int sc_pf_user_fetch_not_present(void)
{
	return run_pf_case(&(struct fault_case){
		CASE_TRIGGER(pf_user_fetch_not_present), .user = 1, .vector = 14,
		.has_error = 1, .error = PF_U,
		.fault_ip = pf_not_present_page, /* reported at the target, not the call */
		.sp_pushed = 4,                  /* the call's return address */
		.cr2 = pf_not_present_page, .cr2_name = "pf_not_present_page" });
}
