/* 8259A PIC pair and 8254 PIT channel 0. Constants are assembly-safe. */
#ifndef PIC_H
#define PIC_H

#define IRQ_BASE 32 /* IRQ0..15 -> vectors 32..47, clear of the exceptions */
#define PIC1_CMD 0x20
#define PIC_EOI 0x20

#ifndef __ASSEMBLER__
#include "types.h"

/* Remap and mask every line. */
void pic_init(void);
/* Bit n set = IRQ n masked. */
void pic_set_mask(uint16_t mask);
void pic_mask_all(void);

/* Program PIT channel 0 as a rate generator at hz (19..1193182). */
void pit_set_hz(unsigned hz);
#endif

#endif
