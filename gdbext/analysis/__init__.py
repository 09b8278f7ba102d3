"""Static analysis of handler machine code: control flow, the worklist data
flow over an abstract stack machine, the convention checks (isr-check), the
saved-register slots (isr-saved) and which registers a handler restores from
its own slots.  Pure: no gdb."""
