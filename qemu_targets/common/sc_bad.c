/*
 * Part 1: deliberately broken handlers (bad.h). Each scenario's install
 * hook puts its handler on a vector (vectors.h) before scenario_start, and
 * the trigger runs through the canary harness as usual. The checks then
 * report the damage, so these runs end FAIL by design: either the normal
 * FAIL with "canary FAIL ..." lines, or (when the broken return itself
 * faults) the unexpected-exception FAIL path. README "Broken handlers"
 * lists each outcome; run-all.sh checks them.
 */
#include "bad.h"
#include "canary.h"
#include "idt.h"
#include "memmap.h"
#include "report.h"
#include "scenario.h"
#include "sse.h"
#include "vectors.h"

DECLARE_TRIGGER(bad_pop_order);
DECLARE_TRIGGER(bad_error_code_not_popped);
DECLARE_TRIGGER(bad_pf_error_code_not_popped);
DECLARE_TRIGGER(bad_ret);
DECLARE_TRIGGER(bad_clobber_rbx);
DECLARE_TRIGGER(bad_clobber_rax);
DECLARE_TRIGGER(bad_scratch_not_saved);
DECLARE_TRIGGER(bad_sse_clobber);
DECLARE_TRIGGER(bad_segment_clobber);
DECLARE_TRIGGER(bad_stack_imbalance_8);
DECLARE_TRIGGER(bad_stack_imbalance_4);

static void in_pop_order(void)
{
	idt_install(VEC_BAD_POP_ORDER, bad_pop_order_handler);
}

static int sc_pop_order(void)
{
	return run_int_case(SOFT_INT_CASE(bad_pop_order, VEC_BAD_POP_ORDER));
}

static void in_error_code_not_popped(void)
{
	idt_install(VEC_GP, bad_error_code_not_popped_handler);
}

/* The #GP is handled; its return raises a second #GP, which the same
 * handler reports as unexpected (the fixup is one-shot). */
static int sc_error_code_not_popped(void)
{
	return run_gp_case(GP_CASE(bad_error_code_not_popped));
}

static void in_pf_error_code_not_popped(void)
{
	idt_install(VEC_PF, bad_pf_error_code_not_popped_handler);
}

/* As above; the #GP from the return lands in isr_general_protection. */
static int sc_pf_error_code_not_popped(void)
{
	return run_pf_case(&(struct fault_case){
		CASE_TRIGGER(bad_pf_error_code_not_popped), .vector = VEC_PF,
		.has_error = 1, .error = 0, .cr2 = pf_not_present_page,
		.cr2_name = "pf_not_present_page" });
}

static void in_ret(void)
{
	idt_install(VEC_BAD_RET, bad_ret_handler);
}

static int sc_ret(void)
{
	return run_int_case(SOFT_INT_CASE(bad_ret, VEC_BAD_RET));
}

static void in_clobber_rbx(void)
{
	idt_install(VEC_BAD_CLOBBER_RBX, bad_clobber_rbx_handler);
}

static int sc_clobber_rbx(void)
{
	return run_int_case(SOFT_INT_CASE(bad_clobber_rbx, VEC_BAD_CLOBBER_RBX));
}

static void in_clobber_rax(void)
{
	idt_install(VEC_BAD_CLOBBER_RAX, bad_clobber_rax_handler);
}

static int sc_clobber_rax(void)
{
	return run_int_case(SOFT_INT_CASE(bad_clobber_rax, VEC_BAD_CLOBBER_RAX));
}

static void in_scratch_not_saved(void)
{
	idt_install(VEC_BAD_SCRATCH_NOT_SAVED, bad_scratch_not_saved_handler);
}

static int sc_scratch_not_saved(void)
{
	return run_int_case(SOFT_INT_CASE(bad_scratch_not_saved,
					  VEC_BAD_SCRATCH_NOT_SAVED));
}

static int sse_on;

static void in_sse_clobber(void)
{
	sse_on = sse_enable();
	idt_install(VEC_BAD_SSE_CLOBBER, bad_sse_clobber_handler);
}

/* The harness also loads xmm0..CANARY_NXMM-1 and checks them. */
static int sc_sse_clobber(void)
{
	if (!check(sse_on, "CPU lacks SSE2"))
		return 0;
	canary_reset();
	return run_case(&(struct fault_case){ CASE_TRIGGER(bad_sse_clobber),
					      .kind = CASE_TRAP,
					      .vector = VEC_BAD_SSE_CLOBBER,
					      .xmm = 1 });
}

static void in_segment_clobber(void)
{
	idt_install(VEC_BAD_SEGMENT_CLOBBER, bad_segment_clobber_handler);
}

/* The harness checks DS and ES in every scenario (and restores them). */
static int sc_segment_clobber(void)
{
	return run_int_case(SOFT_INT_CASE(bad_segment_clobber,
					  VEC_BAD_SEGMENT_CLOBBER));
}

static void in_stack_imbalance_8(void)
{
	idt_install(VEC_BAD_STACK_IMBALANCE_8, bad_stack_imbalance_8_handler);
}

static int sc_stack_imbalance_8(void)
{
	return run_int_case(SOFT_INT_CASE(bad_stack_imbalance_8,
					  VEC_BAD_STACK_IMBALANCE_8));
}

static void in_stack_imbalance_4(void)
{
	idt_install(VEC_BAD_STACK_IMBALANCE_4, bad_stack_imbalance_4_handler);
}

static int sc_stack_imbalance_4(void)
{
	return run_int_case(SOFT_INT_CASE(bad_stack_imbalance_4,
					  VEC_BAD_STACK_IMBALANCE_4));
}

const struct scenario bad_scenarios[] = {
	{ "bad-pop-order", sc_pop_order, in_pop_order },
	{ "bad-error-code-not-popped", sc_error_code_not_popped,
	  in_error_code_not_popped },
	{ "bad-pf-error-code-not-popped", sc_pf_error_code_not_popped,
	  in_pf_error_code_not_popped },
	{ "bad-ret", sc_ret, in_ret },
	{ "bad-clobber-rbx", sc_clobber_rbx, in_clobber_rbx },
	{ "bad-clobber-rax", sc_clobber_rax, in_clobber_rax },
	{ "bad-scratch-not-saved", sc_scratch_not_saved, in_scratch_not_saved },
	{ "bad-sse-clobber", sc_sse_clobber, in_sse_clobber },
	{ "bad-segment-clobber", sc_segment_clobber, in_segment_clobber },
	{ "bad-stack-imbalance-8", sc_stack_imbalance_8, in_stack_imbalance_8 },
	{ "bad-stack-imbalance-4", sc_stack_imbalance_4, in_stack_imbalance_4 },
	{ NULL, NULL, NULL },
};
