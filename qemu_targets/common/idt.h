#ifndef IDT_H
#define IDT_H

/* Fill all 256 gates (see idt.c for the assignment) and lidt. */
void idt_init(void);

#endif
