/*
 * style-clang, style-clang-err: __attribute__((interrupt)) compiled by clang
 * (LLVM's x86-interrupt convention) for both kernels; the Makefile swaps in
 * not_built.S when clang is missing. The bodies are the GCC style handlers'
 * (style_gcc.h), so the two compilers' prologues and epilogues can be
 * compared directly.
 */
#include "exc.h"
#include "isr.h"
#include "vectors.h"

ISR void style_clang_handler(struct iframe *f);
ISR void style_clang_err_handler(struct iframe *f, uword_t error);

/* int $0x43: a trap; log it and return to the next instruction. */
ISR void style_clang_handler(struct iframe *f)
{
	exc_log_event(VEC_STYLE_CLANG, f, 0, 0, 0, HANDLER_SP);
}

/* #GP: log it and resume at the scenario's fixup. */
ISR void style_clang_err_handler(struct iframe *f, uword_t error)
{
	fault_fixup(VEC_GP, f, 1, (ureg_t)error, 0);
}
