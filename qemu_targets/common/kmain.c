/* C entry point, called by <arch>/boot.S on boot_stack. */
#include "config.h"
#include "cpu.h"
#include "hooks.h"
#include "idt.h"
#include "pic.h"
#include "report.h"
#include "scenario.h"
#include "serial.h"

void kmain(uint32_t magic, uint32_t mbi_addr);

void kmain(uint32_t magic, uint32_t mbi_addr)
{
	const char *error;
	const struct scenario *s;

	serial_init();
	error = config_parse(magic, mbi_addr); /* silent: banner comes first */
	report_begin(config.scenario);
	if (error)
		panic("%s", error);
	s = scenario_find(config.scenario);
	if (!s) {
		scenario_print_known();
		panic("unknown scenario");
	}

	paging_init(); /* first: i386's #DF TSS records the final CR3 */
	gdt_init();
	idt_init();
	pic_init();
	if (s->install)
		s->install(); /* its own gates: in place at scenario_start */

	scenario_start();
	finish(s->run());
}
