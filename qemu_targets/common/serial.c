/* Polled 16550 driver for COM1 (0x3f8), 115200 8N1, output only. */
#include "serial.h"
#include "x86.h"

#define COM1 0x3f8
#define REG_DATA 0
#define REG_IER 1
#define REG_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define LSR_THR_EMPTY 0x20

void serial_init(void)
{
	outb(COM1 + REG_IER, 0x00); /* polled: no UART interrupts */
	outb(COM1 + REG_LCR, 0x80); /* DLAB on to set the divisor */
	outb(COM1 + REG_DATA, 1);   /* 115200 baud */
	outb(COM1 + REG_IER, 0);
	outb(COM1 + REG_LCR, 0x03); /* 8N1, DLAB off */
	outb(COM1 + REG_FCR, 0xc7); /* FIFO on and cleared */
	outb(COM1 + REG_MCR, 0x03); /* DTR|RTS, OUT2 off: IRQ4 stays quiet */
}

void serial_putc(char c)
{
	while (!(inb(COM1 + REG_LSR) & LSR_THR_EMPTY))
		;
	outb(COM1 + REG_DATA, (uint8_t)c);
}
