/*
 * The local APIC (xAPIC, MMIO at 0xfee00000): IDs, EOI, IPIs for starting
 * the other CPUs, and its timer. Mapped uncached by <arch>/paging.c on
 * every boot; used only by scenarios that ask for it (smp.c), so a boot
 * that never calls lapic_enable() runs exactly as on a machine without one.
 * Constants are assembly-safe.
 */
#ifndef LAPIC_H
#define LAPIC_H

#define LAPIC_BASE 0xfee00000u
#define LAPIC_SPURIOUS_VECTOR 0xff /* lands in isr_default: never expected */

#ifndef __ASSEMBLER__
#include "types.h"

/* This CPU's APIC ID (bits 31..24 of the ID register). */
unsigned lapic_id(void);
/* Software-enables this CPU's LAPIC (SVR), TPR 0, error LVT masked. The
 * BSP keeps LINT0 as the BIOS left it (ExtINT: the PIC still reaches it). */
void lapic_enable(void);
void lapic_eoi(void);

/* INIT then two STARTUP IPIs to apic_id, starting it at page << 12
 * (real mode, CS = page << 8, IP = 0). Returns 0, or -1 if the ICR
 * never reported the IPIs as sent. */
int lapic_start_cpu(unsigned apic_id, unsigned page);

/* This CPU's timer: periodic on `vector` at about hz per second (QEMU's
 * APIC bus runs at 1 GHz; KVM's too), or stopped and masked. */
void lapic_timer_start(unsigned vector, unsigned hz);
void lapic_timer_stop(void);

/* A coarse clock for deadlines, from this CPU's timer in one-shot mode
 * (masked: it raises nothing). lapic_clock_us() counts microseconds since
 * lapic_clock_start(); it is meaningful for ~60 s. Not while the timer is
 * running periodically. */
void lapic_clock_start(void);
unsigned long lapic_clock_us(void);
#endif

#endif
