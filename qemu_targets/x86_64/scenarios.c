/*
 * Scenarios that need long mode: paging features (NX, reserved physical-
 * address bits), and handlers that only exist here (red zone, Rust).
 */
#include "bad.h"
#include "exc.h"
#include "foreign.h"
#include "idt.h"
#include "memmap.h"
#include "scenario.h"
#include "vectors.h"

DECLARE_TRIGGER(pf_reserved_bit);
DECLARE_TRIGGER(pf_instruction_fetch);
DECLARE_TRIGGER(bad_red_zone);
DECLARE_TRIGGER(style_rust);
DECLARE_TRIGGER(style_rust_err);

static int sc_pf_reserved_bit(void)
{
	return run_pf_case(&(struct fault_case){
		CASE_TRIGGER(pf_reserved_bit), .vector = 14, .has_error = 1,
		.error = PF_P | PF_RSVD,
		.error_qemu = PF_RSVD, /* QEMU TCG leaves P clear */
		.cr2 = pf_reserved_page,
		.cr2_name = "pf_reserved_page" });
}

static int sc_pf_instruction_fetch(void)
{
	return run_pf_case(&(struct fault_case){
		CASE_TRIGGER(pf_instruction_fetch), .vector = 14,
		.has_error = 1, .error = PF_P | PF_ID,
		.fault_ip = pf_nx_page, /* reported at the target, not the call */
		.sp_pushed = 8,         /* the call's return address */
		.cr2 = pf_nx_page, .cr2_name = "pf_nx_page" });
}

/* Latent: nothing nests on the red zone here, so this PASSes. */
static void in_bad_red_zone(void)
{
	idt_install(VEC_BAD_RED_ZONE, bad_red_zone_handler);
}

static int sc_bad_red_zone(void)
{
	return run_int_case(SOFT_INT_CASE(bad_red_zone, VEC_BAD_RED_ZONE));
}

static void in_style_rust(void)
{
	idt_install(VEC_STYLE_RUST, style_rust_handler);
}

static int sc_style_rust(void)
{
	if (!style_built(style_rust_handler, style_rust_not_built))
		return 0;
	return run_int_case(SOFT_INT_CASE(style_rust, VEC_STYLE_RUST));
}

static void in_style_rust_err(void)
{
	idt_install(VEC_GP, style_rust_err_handler);
}

static int sc_style_rust_err(void)
{
	if (!style_built(style_rust_err_handler, style_rust_not_built))
		return 0;
	return run_gp_case(GP_CASE(style_rust_err));
}

const struct scenario arch_scenarios[] = {
	{ "pf-reserved-bit", sc_pf_reserved_bit, NULL },
	{ "pf-instruction-fetch", sc_pf_instruction_fetch, NULL },
	{ "bad-red-zone", sc_bad_red_zone, in_bad_red_zone },
	{ "style-rust", sc_style_rust, in_style_rust },
	{ "style-rust-err", sc_style_rust_err, in_style_rust_err },
	{ NULL, NULL, NULL },
};
