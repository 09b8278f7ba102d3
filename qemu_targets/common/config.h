/* Settings parsed from the multiboot command line. */
#ifndef CONFIG_H
#define CONFIG_H

#include "types.h"

struct config {
	const char *scenario; /* scenario=NAME, default "idle" */
	unsigned ticks;       /* ticks=N, default 10: timer interrupts to wait for */
	unsigned hz;          /* hz=N, default 1000: PIT rate */
};

extern struct config config;

/*
 * Parses without printing (the banner, which names the scenario, must come
 * first). Returns NULL, or why the boot magic or a value is unusable.
 */
const char *config_parse(uint32_t magic, uint32_t mbi_addr);

#endif
