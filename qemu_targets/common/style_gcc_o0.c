/* Built at -O0 (Makefile EXTRA_FLAGS): frame pointer, locals on the stack. */
#include "style_gcc.h"

DEFINE_STYLE_GCC_HANDLERS(style_gcc_o0, VEC_STYLE_GCC_O0)
