/* Finding and starting the other CPUs; see smp.h. */
#include "smp.h"
#include "cpu.h"
#include "lapic.h"
#include "memmap.h"
#include "pic.h"
#include "printf.h"
#include "report.h"
#include "string.h"
#include "vectors.h"
#include "x86.h"

#define AP_START_TIMEOUT_US 1000000
#define STACK_ALIGN __attribute__((aligned(16)))

/* Per-CPU stacks of CPUs 1..SMP_MAX_CPUS-1 (CPU 0 uses stacks.S's). */
struct ap_stacks {
	char boot[16384];  /* smp_ap_entry and ap_main; ring-0 interrupts */
	char kernel[8192]; /* TSS RSP0/ESP0: entries from ring 3 */
	char ist1[4096];   /* x86_64 #DF */
	char ist2[4096];   /* x86_64 NMI */
} STACK_ALIGN;
struct ap_stacks ap_stacks[SMP_MAX_CPUS - 1];

volatile unsigned smp_cpus = 1;
volatile int smp_lapic_timers;
volatile ureg_t cpu_timer_ticks[SMP_MAX_CPUS];
volatile ureg_t cpu_timer_sp_lo[SMP_MAX_CPUS], cpu_timer_sp_hi[SMP_MAX_CPUS];

/* APIC ID of each CPU index, and back. */
static uint8_t apic_id_of[SMP_MAX_CPUS];
static uint8_t index_of_apic_id[256];
static volatile int lapic_in_use; /* cpu_index() may read the LAPIC */

/* Read by <arch>/ap_boot.S (absolute addresses: it runs as a copy). */
ureg_t ap_boot_cr0, ap_boot_cr3, ap_boot_cr4, ap_boot_efer, ap_boot_stack;
volatile unsigned ap_boot_cpu;
static void (*volatile ap_main_fn)(void);
extern const char ap_boot_start[], ap_boot_end[];
void smp_ap_entry(void); /* called by ap_boot.S */

unsigned cpu_index(void)
{
	return lapic_in_use ? index_of_apic_id[lapic_id()] : 0;
}

const void *cpu_boot_stack(unsigned cpu)
{
	return cpu ? ap_stacks[cpu - 1].boot : boot_stack;
}

const void *cpu_boot_stack_top(unsigned cpu)
{
	return cpu ? ap_stacks[cpu - 1].boot + sizeof(ap_stacks[0].boot)
		   : boot_stack_top;
}

/* ---- the MP table (Intel MultiProcessor Specification 1.4) ---- */

struct mp_floating {
	char signature[4]; /* "_MP_" */
	uint32_t config;   /* physical address of the configuration table */
	uint8_t length;    /* in 16-byte units */
	uint8_t revision, checksum, feature[5];
} __attribute__((packed));

struct mp_config {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t revision, checksum;
	char oem[8], product[12];
	uint32_t oem_table;
	uint16_t oem_size, entries;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum, reserved;
} __attribute__((packed));

#define MP_PROCESSOR 0 /* 20-byte entry; every other type is 8 bytes */
#define MP_CPU_ENABLED 0x1

static int checksum_ok(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (n--)
		sum += *b++;
	return sum == 0;
}

static const struct mp_floating *mp_find_in(ureg_t lo, ureg_t hi)
{
	const struct mp_floating *f;

	for (; lo + sizeof(*f) <= hi; lo += 16) {
		f = (const struct mp_floating *)lo;
		if (!memcmp(f->signature, "_MP_", 4) &&
		    checksum_ok(f, f->length * 16u))
			return f;
	}
	return NULL;
}

/*
 * SeaBIOS keeps the table in the BIOS area; the EBDA, the spec's first
 * place to look, is found through 0x40e, which is in page 0: unmapped here
 * (the NULL guard). Fills apic_id_of[] (boot CPU first); returns the count.
 */
static unsigned mp_table_cpus(void)
{
	const struct mp_floating *f = mp_find_in(0x9fc00, 0xa0000);
	const struct mp_config *c;
	const uint8_t *e, *end;
	unsigned n = 1, listed = 0, i;

	apic_id_of[0] = (uint8_t)lapic_id();
	if (!f)
		f = mp_find_in(0xf0000, 0x100000);
	if (!f || !f->config) {
		kprintf("smp: no MP table: one CPU\n");
		return 1;
	}
	c = (const struct mp_config *)(ureg_t)f->config;
	if (memcmp(c->signature, "PCMP", 4) || !checksum_ok(c, c->length)) {
		kprintf("smp: MP configuration table at %p is invalid: one CPU\n",
			(const void *)c);
		return 1;
	}
	e = (const uint8_t *)(c + 1);
	end = (const uint8_t *)c + c->length;
	for (i = 0; i < c->entries && e < end; i++) {
		if (e[0] != MP_PROCESSOR) {
			e += 8;
			continue;
		}
		if (e[3] & MP_CPU_ENABLED) {
			listed++;
			if (e[1] != apic_id_of[0] && n < SMP_MAX_CPUS)
				apic_id_of[n++] = e[1];
		}
		e += 20;
	}
	kprintf("smp: the MP table lists %u CPU%s", listed, listed == 1 ? "" : "s");
	if (listed > SMP_MAX_CPUS)
		kprintf(" (starting %u: SMP_MAX_CPUS)", SMP_MAX_CPUS);
	kprintf("\n");
	return n;
}

/* ---- starting the other CPUs ---- */

static int wait_for_checkin(unsigned online)
{
	lapic_clock_start();
	while (smp_cpus < online) {
		if (lapic_clock_us() > AP_START_TIMEOUT_US)
			return 0;
		__asm__ volatile("pause");
	}
	return 1;
}

unsigned smp_start(void (*ap_main)(void))
{
	static int started;
	unsigned n, cpu;

	if (started++) /* INIT would reset a CPU that already runs */
		return smp_cpus;
	n = mp_table_cpus();
	if (n == 1)
		return 1; /* the LAPIC stays as the BIOS left it */
	for (cpu = 0; cpu < n; cpu++)
		index_of_apic_id[apic_id_of[cpu]] = (uint8_t)cpu;
	lapic_enable();
	lapic_in_use = 1;

	/* The state the trampoline gives each CPU before it reaches C. */
	ap_boot_cr0 = read_cr0();
	ap_boot_cr3 = read_cr3();
	ap_boot_cr4 = read_cr4();
#ifdef __x86_64__
	ap_boot_efer = rdmsr(MSR_EFER) & ~(1ULL << 10); /* LMA is read-only */
#endif
	memcpy((void *)AP_BOOT_ADDR, ap_boot_start,
	       (size_t)(ap_boot_end - ap_boot_start));
	ap_main_fn = ap_main;

	/* One at a time: the trampoline and ap_boot_* are shared. */
	for (cpu = 1; cpu < n; cpu++) {
		ap_boot_cpu = cpu;
		ap_boot_stack = (ureg_t)cpu_boot_stack_top(cpu);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (lapic_start_cpu(apic_id_of[cpu], AP_BOOT_ADDR >> 12) ||
		    !wait_for_checkin(cpu + 1)) {
			fail("CPU %u (APIC ID %u) did not start", cpu,
			     apic_id_of[cpu]);
			break;
		}
		kprintf("smp: CPU %u (APIC ID %u) online\n", cpu, apic_id_of[cpu]);
	}
	return smp_cpus;
}

/* ap_boot.S calls this on the CPU's boot stack, paging on (the kernel's
 * own page tables), interrupts off, with the trampoline's flat GDT. */
void smp_ap_entry(void)
{
	unsigned cpu = ap_boot_cpu;
	struct ap_stacks *s = &ap_stacks[cpu - 1];

	gdt_init_ap(cpu, (ureg_t)(s->kernel + sizeof(s->kernel)),
		    (ureg_t)(s->ist1 + sizeof(s->ist1)),
		    (ureg_t)(s->ist2 + sizeof(s->ist2)));
	idt_load();
	lapic_enable();
	__atomic_add_fetch(&smp_cpus, 1, __ATOMIC_SEQ_CST); /* checked in */
	ap_main_fn();
	for (;;) {
		cli();
		hlt();
	}
}

/* ---- timers on every CPU ---- */

void smp_timer_tick(void)
{
	unsigned cpu = cpu_index();
	ureg_t sp = (ureg_t)__builtin_frame_address(0);

	if (!cpu_timer_ticks[cpu] || sp < cpu_timer_sp_lo[cpu])
		cpu_timer_sp_lo[cpu] = sp;
	if (!cpu_timer_ticks[cpu] || sp > cpu_timer_sp_hi[cpu])
		cpu_timer_sp_hi[cpu] = sp;
	cpu_timer_ticks[cpu]++;
	lapic_eoi();
}

void timer_eoi(void)
{
	if (smp_lapic_timers)
		lapic_eoi();
	else
		outb(PIC1_CMD, PIC_EOI);
}

/* ---- running something on every CPU with its timer ---- */

static void (*volatile timed_fn)(void);
static unsigned timed_hz;
static volatile unsigned timed_done;

/* Only on 2+ CPUs: every CPU's own LAPIC timer. */
static void timed_cpu(void)
{
	smp_lapic_timers = 1; /* before the first tick wants its EOI */
	lapic_timer_start(VEC_TIMER, timed_hz);
	timed_fn();
	lapic_timer_stop();
	__atomic_add_fetch(&timed_done, 1, __ATOMIC_SEQ_CST);
}

unsigned smp_run_timed(void (*fn)(void), unsigned hz)
{
	unsigned cpus;

	timed_fn = fn;
	timed_hz = hz;
	cpus = smp_start(timed_cpu);
	if (cpus == 1) { /* as on a one-CPU kernel: the PIT on IRQ0 */
		pit_set_hz(hz);
		pic_set_mask((uint16_t)~(1u << 0));
		fn();
		pic_mask_all();
		return 1;
	}
	timed_cpu();
	while (timed_done < cpus)
		__asm__ volatile("pause");
	smp_lapic_timers = 0;
	return cpus;
}
