/*
 * Which guest instructions may change the vCPU state the trace plugin keeps
 * cached between events (isrdbg_trace.c, "cached state"): the x87/SSE/AVX
 * registers, and in long mode FS/GS bases, KERNEL_GS_BASE, CR3 and EFER.
 *
 * The plugin reads that state only after such an instruction ran (an inline
 * store, planted at translation, marks the vCPU), so the answer must never
 * be "no" for an instruction that writes it: a stale cache would compare an
 * old entry value with a fresh exit value and accuse a correct handler.
 * It may be "yes" for instructions that do not (a needless read only costs
 * time); it is "no" for the frequent harmless ones (fences, clac/stac).
 */
#ifndef ISRDBG_STATE_WRITERS_H
#define ISRDBG_STATE_WRITERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ``code``: the instruction's bytes, exactly ``len`` of them (prefixes included) */
bool may_write_cached_state(const uint8_t *code, size_t len);

/* iret and far ret: returning to an outer privilege level they load null
 * into DS/ES/FS/GS that the new level may not use (QEMU keeps the FS/GS
 * bases).  Every handler exit is one, so they do not count as writers of
 * the cached state: the plugin reads the four selectors anew after one. */
bool may_null_selectors(const uint8_t *code, size_t len);

#endif
