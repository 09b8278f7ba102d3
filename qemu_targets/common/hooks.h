/*
 * Empty functions that exist only as breakpoint sites for the debugger:
 * scenario_start() once GDT/IDT/TSS/paging/PIC are set up, right before the
 * scenario runs; scenario_done(ok) right before the PASS/FAIL line.
 */
#ifndef HOOKS_H
#define HOOKS_H

void scenario_start(void);
void scenario_done(int ok);

#endif
