#include "lapic.h"
#include "x86.h"

/* Register offsets (Intel SDM vol. 3, table 11-1). */
#define LAPIC_ID 0x020
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

#define SVR_ENABLE (1u << 8)
#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define ICR_INIT 0x00000500u
#define ICR_STARTUP 0x00000600u
#define ICR_ASSERT 0x00004000u
#define ICR_PENDING (1u << 12)
#define TIMER_DIV_16 0x3
#define BUS_HZ 1000000000u     /* QEMU's APIC_BUS_CYCLE_NS = 1 */
#define TIMER_HZ (BUS_HZ / 16) /* counts per second at divide-by-16 */

static inline uint32_t lapic_read(unsigned reg)
{
	return *(volatile uint32_t *)(ureg_t)(LAPIC_BASE + reg);
}

static inline void lapic_write(unsigned reg, uint32_t v)
{
	*(volatile uint32_t *)(ureg_t)(LAPIC_BASE + reg) = v;
}

unsigned lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

void lapic_enable(void)
{
	lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, SVR_ENABLE | LAPIC_SPURIOUS_VECTOR);
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

/* Delivery status: QEMU sends at once; real hardware within microseconds. */
static int icr_send(unsigned apic_id, uint32_t low)
{
	unsigned spin;

	lapic_write(LAPIC_ESR, 0);
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, low);
	for (spin = 0; spin < 1000000; spin++)
		if (!(lapic_read(LAPIC_ICR_LO) & ICR_PENDING))
			return 0;
	return -1;
}

static void delay_us(unsigned long us)
{
	unsigned long start;

	lapic_clock_start();
	start = lapic_clock_us();
	while (lapic_clock_us() - start < us)
		__asm__ volatile("pause");
}

/* The SDM's universal start-up: INIT, 10 ms, STARTUP, 200 us, STARTUP. A
 * CPU that already runs ignores the second STARTUP. */
int lapic_start_cpu(unsigned apic_id, unsigned page)
{
	if (icr_send(apic_id, ICR_INIT | ICR_ASSERT))
		return -1;
	delay_us(10000);
	if (icr_send(apic_id, ICR_STARTUP | ICR_ASSERT | (page & 0xff)))
		return -1;
	delay_us(200);
	return icr_send(apic_id, ICR_STARTUP | ICR_ASSERT | (page & 0xff));
}

void lapic_timer_start(unsigned vector, unsigned hz)
{
	uint32_t count = TIMER_HZ / (hz ? hz : 1);

	lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | (vector & 0xff));
	lapic_write(LAPIC_TIMER_INIT, count ? count : 1);
}

void lapic_timer_stop(void)
{
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_TIMER_INIT, 0);
}

void lapic_clock_start(void)
{
	lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED); /* one-shot, raises nothing */
	lapic_write(LAPIC_TIMER_INIT, 0xffffffffu);
}

unsigned long lapic_clock_us(void)
{
	uint32_t elapsed = 0xffffffffu - lapic_read(LAPIC_TIMER_CUR);

	/* 62.5 counts per us: *2/125 stays within 32 bits for ~34 s; i386
	 * has no 64-bit division (no libgcc). */
	return (unsigned long)(elapsed / 125u) * 2u;
}
