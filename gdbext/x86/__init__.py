"""x86 facts: the vector table, CPU modes and selectors, GDT and IDT gates,
paging, error-code layouts, register files, debug registers.  Pure: no gdb."""
