/*
 * i386-only scenarios: pf-user-fetch-not-present (sc_fetch.c), a fetch #PF
 * without NX.  pf-reserved-bit and pf-instruction-fetch need PAE/long-mode
 * paging (NX and reserved physical-address bits), which this
 * kernel does not use, bad-red-zone needs the x86_64 ABI's red zone, and
 * style-rust* an x86_64 Rust target: on i386 they are unknown scenarios.
 */
#include "scenario.h"

int sc_pf_user_fetch_not_present(void);	/* sc_fetch.c */

const struct scenario arch_scenarios[] = {
	{ "pf-user-fetch-not-present", sc_pf_user_fetch_not_present, NULL },
	{ NULL, NULL, NULL },
};
