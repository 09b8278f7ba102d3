/* Thin inline wrappers for privileged x86 instructions (same on both arches). */
#ifndef X86_H
#define X86_H

#include "types.h"

#define CR0_PE (1UL << 0)
#define CR0_WP (1UL << 16)  /* supervisor writes honour read-only PTEs */
#define CR0_PG (1UL << 31)
#define CR4_PSE (1UL << 4)
#define CR4_PAE (1UL << 5)
#define EFLAGS_TF (1UL << 8)
#define EFLAGS_IF (1UL << 9)
#define MSR_EFER 0xc0000080u
#define EFER_NXE (1ULL << 11)

/* Operand of lgdt/lidt; base is 8 bytes in long mode and 4 in protected mode. */
struct dtr {
	uint16_t limit;
	ureg_t base;
} __attribute__((packed));

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void cli(void) { __asm__ volatile("cli" : : : "memory"); }
static inline void sti(void) { __asm__ volatile("sti" : : : "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" : : : "memory"); }

#define DEFINE_CR_ACCESSORS(n)                                                 \
	static inline ureg_t read_cr##n(void)                                  \
	{                                                                      \
		ureg_t v;                                                      \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));              \
		return v;                                                      \
	}                                                                      \
	static inline void write_cr##n(ureg_t v)                               \
	{                                                                      \
		__asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");     \
	}
DEFINE_CR_ACCESSORS(0)
DEFINE_CR_ACCESSORS(2)
DEFINE_CR_ACCESSORS(3)
DEFINE_CR_ACCESSORS(4)
#undef DEFINE_CR_ACCESSORS

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c,
			 uint32_t *d)
{
	__asm__ volatile("cpuid"
			 : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
			 : "a"(leaf), "c"(0));
}

/* Written with explicit edx:eax halves so it means the same on i386. */
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr"
			 : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void lidt(const struct dtr *d)
{
	__asm__ volatile("lidt %0" : : "m"(*d));
}

static inline void ltr(uint16_t sel)
{
	__asm__ volatile("ltr %0" : : "r"(sel));
}

static inline uint16_t str(void)
{
	uint16_t sel;
	__asm__ volatile("str %0" : "=r"(sel));
	return sel;
}

#endif
