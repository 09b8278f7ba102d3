/*
 * QEMU passes "<kernel path> <-append string>" as the multiboot command
 * line, so tokens without a known key= prefix are ignored.
 */
#include "config.h"
#include "multiboot.h"
#include "printf.h"
#include "string.h"

/* Lowest rate whose PIT divisor (1193182 / hz) still fits in 16 bits. */
#define HZ_MIN 19
#define HZ_MAX 1193182
#define TICKS_MAX 1000000
#define STR_(x) #x
#define STR(x) STR_(x)

struct config config = { .scenario = "idle", .ticks = 10, .hz = 1000 };

/* Kept in the kernel (and visible to the debugger) rather than pointing at
 * the loader's copy, which lives in memory we never reserved. */
char kernel_cmdline[256];
static char scenario_buf[64];
static char error_buf[96];

static int parse_uint(const char *s, size_t len, unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	if (!len || len > 9) /* <= 9 digits: no overflow checks needed */
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = (unsigned)v;
	return 1;
}

/* Returns NULL or an error message. */
static const char *parse_token(const char *tok, size_t len)
{
	const char *eq = tok;
	size_t klen, vlen;
	const char *val;

	while (eq < tok + len && *eq != '=')
		eq++;
	if (eq == tok + len)
		return NULL; /* no '=': the kernel path, or a bare word */
	klen = (size_t)(eq - tok);
	val = eq + 1;
	vlen = len - klen - 1;

	if (klen == 8 && !strncmp(tok, "scenario", 8)) {
		if (vlen == 0 || vlen >= sizeof(scenario_buf))
			return "bad scenario= value";
		memcpy(scenario_buf, val, vlen);
		scenario_buf[vlen] = '\0';
		config.scenario = scenario_buf;
	} else if (klen == 5 && !strncmp(tok, "ticks", 5)) {
		if (!parse_uint(val, vlen, &config.ticks) || config.ticks < 1 ||
		    config.ticks > TICKS_MAX)
			return "ticks= must be 1.." STR(TICKS_MAX);
	} else if (klen == 2 && !strncmp(tok, "hz", 2)) {
		if (!parse_uint(val, vlen, &config.hz) || config.hz < HZ_MIN ||
		    config.hz > HZ_MAX)
			return "hz= must be " STR(HZ_MIN) ".." STR(HZ_MAX);
	}
	/* Other key=value tokens are ignored: they may belong to the path. */
	return NULL;
}

const char *config_parse(uint32_t magic, uint32_t mbi_addr)
{
	const struct mb_info *mbi = (const struct mb_info *)(ureg_t)mbi_addr;
	const char *p, *error = NULL;

	if (magic != MB_BOOT_MAGIC) {
		ksnprintf(error_buf, sizeof(error_buf),
			  "not booted by multiboot (eax=%#x)", magic);
		return error_buf;
	}
	if (!(mbi->flags & MB_INFO_CMDLINE))
		return NULL;
	strlcpy(kernel_cmdline, (const char *)(ureg_t)mbi->cmdline,
		sizeof(kernel_cmdline));

	for (p = kernel_cmdline; *p;) {
		const char *start;
		while (*p == ' ')
			p++;
		start = p;
		while (*p && *p != ' ')
			p++;
		if (p > start && !error)
			error = parse_token(start, (size_t)(p - start));
	}
	return error;
}
