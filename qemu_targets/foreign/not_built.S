/*
 * Stand-in for a foreign/ object whose compiler is missing (or, for rustc,
 * failed). It defines only <STYLE>_not_built, the reason, which the style-*
 * scenarios print as "not built: <reason>"; the real object's handlers stay
 * undefined (weak references in foreign.h), so the kernel still links.
 * Built with -DSTYLE=<prefix> -DWHY='"<reason>"'.
 */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

	.section .note.GNU-stack, "", @progbits
	.section .rodata
	.globl CAT(STYLE, _not_built)
CAT(STYLE, _not_built):
	.asciz WHY
