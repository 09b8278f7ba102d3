#include "pic.h"
#include "x86.h"

#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define ICW1_INIT_ICW4 0x11
#define ICW4_8086 0x01

#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_CH0_LOHI_MODE2 0x34 /* channel 0, lo/hi byte, rate generator */
#define PIT_HZ 1193182u

void pic_init(void)
{
	outb(PIC1_CMD, ICW1_INIT_ICW4);
	outb(PIC2_CMD, ICW1_INIT_ICW4);
	outb(PIC1_DATA, IRQ_BASE);     /* ICW2: vector offsets */
	outb(PIC2_DATA, IRQ_BASE + 8);
	outb(PIC1_DATA, 1 << 2);       /* ICW3: slave on IRQ2 */
	outb(PIC2_DATA, 2);
	outb(PIC1_DATA, ICW4_8086);
	outb(PIC2_DATA, ICW4_8086);
	pic_mask_all();
}

void pic_set_mask(uint16_t mask)
{
	outb(PIC1_DATA, (uint8_t)mask);
	outb(PIC2_DATA, (uint8_t)(mask >> 8));
}

/*
 * Everything, IRQ7 included, stays masked unless a scenario opens a line:
 * a spurious IRQ7 (vector 39) would land in isr_default and fail the run.
 */
void pic_mask_all(void)
{
	pic_set_mask(0xffff);
}

void pit_set_hz(unsigned hz)
{
	unsigned divisor = (PIT_HZ + hz / 2) / hz; /* 32-bit division only */

	if (divisor > 0xffff)
		divisor = 0xffff;
	if (divisor < 1)
		divisor = 1;
	outb(PIT_CMD, PIT_CH0_LOHI_MODE2);
	outb(PIT_CH0, (uint8_t)divisor);
	outb(PIT_CH0, (uint8_t)(divisor >> 8));
}
