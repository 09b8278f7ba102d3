/* #PF scenarios on the special pages, from ring 0 and ring 3. */
#include "exc.h"
#include "memmap.h"
#include "scenario.h"

DECLARE_TRIGGER(pf_read_not_present);
DECLARE_TRIGGER(pf_write_not_present);
DECLARE_TRIGGER(pf_write_readonly);
DECLARE_TRIGGER(pf_user_read_supervisor);
DECLARE_TRIGGER(pf_user_write_readonly);
DECLARE_TRIGGER(pf_user_read_not_present);

#define PF_CASE(trigger, page, err, in_user)                                   \
	run_pf_case(&(struct fault_case){ CASE_TRIGGER(trigger),               \
					  .user = in_user, .vector = 14,       \
					  .has_error = 1, .error = (err),      \
					  .cr2 = page, .cr2_name = #page })

int sc_pf_read_not_present(void)
{
	return PF_CASE(pf_read_not_present, pf_not_present_page, 0, 0);
}

int sc_pf_write_not_present(void)
{
	return PF_CASE(pf_write_not_present, pf_not_present_page, PF_W, 0);
}

int sc_pf_write_readonly(void)
{
	/* Faults in ring 0 only because CR0.WP is set. */
	return PF_CASE(pf_write_readonly, pf_readonly_page, PF_P | PF_W, 0);
}

int sc_pf_user_read_supervisor(void)
{
	return PF_CASE(pf_user_read_supervisor, pf_supervisor_page,
		       PF_P | PF_U, 1);
}

int sc_pf_user_write_readonly(void)
{
	return PF_CASE(pf_user_write_readonly, pf_readonly_page,
		       PF_P | PF_W | PF_U, 1);
}

int sc_pf_user_read_not_present(void)
{
	return PF_CASE(pf_user_read_not_present, pf_not_present_page, PF_U, 1);
}
