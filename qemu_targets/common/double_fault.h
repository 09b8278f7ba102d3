/* Shared part of the #DF handlers (<arch>/double_fault.c). */
#ifndef DOUBLE_FAULT_H
#define DOUBLE_FAULT_H

#include "types.h"

extern volatile int double_fault_expected; /* set by the double-fault scenario */

/* Panics if no #DF was expected; prints and checks what both arches can
 * check. Returns 1 if everything matched. */
int double_fault_check(ureg_t ip, ureg_t cs, ureg_t error);

#endif
