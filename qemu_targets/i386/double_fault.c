/* Body of the #DF task (entered via isr_double_fault in isr.S). */
#include "canary.h"
#include "double_fault.h"
#include "printf.h"
#include "report.h"
#include "segments.h"
#include "tss.h"
#include "x86.h"

void double_fault_task(ureg_t error);

void double_fault_task(ureg_t error)
{
	/* The task switch saved the faulting context into the old TSS. */
	int ok = double_fault_check(tss.eip, tss.cs, error);

	ok &= check_eq("task register", str(), SEL_DF_TSS);
	ok &= check_eq("#DF task back link", df_tss.link, SEL_TSS);

	/* Which makes the faulting registers checkable against the canaries,
	 * something a same-task handler could not do from C. */
	canary_actual[CANARY_AX] = tss.eax;
	canary_actual[CANARY_BX] = tss.ebx;
	canary_actual[CANARY_CX] = tss.ecx;
	canary_actual[CANARY_DX] = tss.edx;
	canary_actual[CANARY_SI] = tss.esi;
	canary_actual[CANARY_DI] = tss.edi;
	canary_actual[CANARY_BP] = tss.ebp;
	canary_sp_after = tss.esp;
	canary_ds_after = (uint16_t)tss.ds;
	canary_es_after = (uint16_t)tss.es;
	ok &= check(canary_check() == 0,
		    "faulting registers (saved in the TSS) are not the canaries");
	finish(ok);
}
