/*
 * The pages whose mappings the #PF scenarios exercise. aligned(4096) plus a
 * size of exactly one page means nothing else can share their page, so
 * <arch>/paging.c can change their PTEs freely. Filled with a byte pattern
 * so a read that should have faulted but didn't is recognisable.
 */
#include "memmap.h"

#define PF_PAGE(name, fill)                                                    \
	unsigned char name[PAGE_SIZE]                                          \
		__attribute__((aligned(PAGE_SIZE))) = { [0 ... PAGE_SIZE - 1] = fill }

PF_PAGE(pf_not_present_page, 0x11);
PF_PAGE(pf_readonly_page, 0x22);
PF_PAGE(pf_supervisor_page, 0x33);
