"""GDB commands of isrdbg, one module per command (installed as gdbext.commands).

``register()`` creates every command and parameter; the loader
(gdbext/gdbinit.py) calls it once.
"""

_registered = False


def register():
    global _registered
    if _registered:
        return False
    from gdbext.gdbside import arming
    from . import (isr_break, isr_check, isr_diff, isr_frame, isr_functions, isr_idt,
                   isr_interrupt, isr_saved, isr_status, isr_trace, isr_watch, mi, params)
    for module in (params, arming, isr_idt, isr_break, isr_watch, isr_frame, isr_diff,
                   isr_saved, isr_check, isr_status, isr_trace, isr_functions, isr_interrupt):
        module.register()
    mi.register()   # last: the GDB/MI commands wrap the commands registered above
    from gdbext.gdbside import lifecycle
    lifecycle.register()
    _registered = True
    return True
