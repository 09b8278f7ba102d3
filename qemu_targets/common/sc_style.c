/*
 * Part 2: correct handlers of other styles (style.h, foreign.h), for the
 * debugger's static analysis. Each scenario installs its handler (on its
 * own vector, or on #GP for the error-code variants) and triggers it
 * through the canary harness; all of them PASS. A foreign handler whose
 * compiler was missing FAILs with "not built: <why>" instead.
 */
#include "foreign.h"
#include "idt.h"
#include "report.h"
#include "scenario.h"
#include "style.h"
#include "vectors.h"

DECLARE_TRIGGER(style_gcc_o0);
DECLARE_TRIGGER(style_gcc_o0_err);
DECLARE_TRIGGER(style_gcc_o2);
DECLARE_TRIGGER(style_gcc_o2_err);
DECLARE_TRIGGER(style_clang);
DECLARE_TRIGGER(style_clang_err);
DECLARE_TRIGGER(style_alltraps);
DECLARE_TRIGGER(style_alltraps_err);

/* For scenarios whose handler comes from foreign/: 1 if it was built. */
int style_built(const void *handler, const char *why)
{
	return check(handler != NULL, "not built: %s", why ? why : "unknown");
}

static void in_gcc_o0(void)
{
	idt_install(VEC_STYLE_GCC_O0, style_gcc_o0_handler);
}

static int sc_gcc_o0(void)
{
	return run_int_case(SOFT_INT_CASE(style_gcc_o0, VEC_STYLE_GCC_O0));
}

static void in_gcc_o0_err(void)
{
	idt_install(VEC_GP, style_gcc_o0_err_handler);
}

static int sc_gcc_o0_err(void)
{
	return run_gp_case(GP_CASE(style_gcc_o0_err));
}

static void in_gcc_o2(void)
{
	idt_install(VEC_STYLE_GCC_O2, style_gcc_o2_handler);
}

static int sc_gcc_o2(void)
{
	return run_int_case(SOFT_INT_CASE(style_gcc_o2, VEC_STYLE_GCC_O2));
}

static void in_gcc_o2_err(void)
{
	idt_install(VEC_GP, style_gcc_o2_err_handler);
}

static int sc_gcc_o2_err(void)
{
	return run_gp_case(GP_CASE(style_gcc_o2_err));
}

static void in_clang(void)
{
	idt_install(VEC_STYLE_CLANG, style_clang_handler);
}

static int sc_clang(void)
{
	if (!style_built(style_clang_handler, style_clang_not_built))
		return 0;
	return run_int_case(SOFT_INT_CASE(style_clang, VEC_STYLE_CLANG));
}

static void in_clang_err(void)
{
	idt_install(VEC_GP, style_clang_err_handler);
}

static int sc_clang_err(void)
{
	if (!style_built(style_clang_err_handler, style_clang_not_built))
		return 0;
	return run_gp_case(GP_CASE(style_clang_err));
}

static void in_alltraps(void)
{
	idt_install(VEC_STYLE_ALLTRAPS, style_alltraps_handler);
}

static int sc_alltraps(void)
{
	return run_int_case(SOFT_INT_CASE(style_alltraps, VEC_STYLE_ALLTRAPS));
}

static void in_alltraps_err(void)
{
	idt_install(VEC_GP, style_alltraps_err_handler);
}

static int sc_alltraps_err(void)
{
	return run_gp_case(GP_CASE(style_alltraps_err));
}

const struct scenario style_scenarios[] = {
	{ "style-gcc-o0", sc_gcc_o0, in_gcc_o0 },
	{ "style-gcc-o0-err", sc_gcc_o0_err, in_gcc_o0_err },
	{ "style-gcc-o2", sc_gcc_o2, in_gcc_o2 },
	{ "style-gcc-o2-err", sc_gcc_o2_err, in_gcc_o2_err },
	{ "style-clang", sc_clang, in_clang },
	{ "style-clang-err", sc_clang_err, in_clang_err },
	{ "style-alltraps", sc_alltraps, in_alltraps },
	{ "style-alltraps-err", sc_alltraps_err, in_alltraps_err },
	{ NULL, NULL, NULL },
};
