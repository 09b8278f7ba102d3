/*
 * i386-only scenarios: none. pf-reserved-bit and pf-instruction-fetch need
 * PAE/long-mode paging (NX and reserved physical-address bits), which this
 * kernel does not use, bad-red-zone needs the x86_64 ABI's red zone, and
 * style-rust* an x86_64 Rust target: on i386 they are unknown scenarios.
 */
#include "scenario.h"

const struct scenario arch_scenarios[] = {
	{ NULL, NULL, NULL },
};
