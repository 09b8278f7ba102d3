/* SSE for the scenarios that use xmm registers (bad-sse-clobber). */
#ifndef SSE_H
#define SSE_H

/* If the CPU has SSE2: CR0.EM=0, MP=1, CR4.OSFXSR|OSXMMEXCPT, and
 * return 1. Otherwise change nothing and return 0. The kernel boots with
 * SSE off; only the scenarios that need it turn it on. */
int sse_enable(void);

#endif
