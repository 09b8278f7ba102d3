/* The 32-bit TSS: both the ring-3 entry stack and, for #DF, a whole task. */
#ifndef TSS_H
#define TSS_H

#include "types.h"

/* Segment-selector slots are 16 bits wide, upper halves reserved (zero). */
struct tss32 {
	uint32_t link; /* previous task, set by a task switch through a gate */
	uint32_t esp0, ss0, esp1, ss1, esp2, ss2;
	uint32_t cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap_base;
} __attribute__((packed));

_Static_assert(sizeof(struct tss32) == 104, "32-bit TSS layout");

extern struct tss32 tss;    /* SEL_TSS: the kernel's own task */
extern struct tss32 df_tss; /* SEL_DF_TSS: the #DF task */

#endif
