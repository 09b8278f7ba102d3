/* Built at the kernel's -O2: the same source as style_gcc_o0.c. */
#include "style_gcc.h"

DEFINE_STYLE_GCC_HANDLERS(style_gcc_o2, VEC_STYLE_GCC_O2)
