"""GDB commands of isrdbg, one module per command (installed as gdbext.commands).

``register()`` creates every command and parameter; the loader
(gdbext/gdbinit.py) calls it once.
"""

_registered = False


def register():
    global _registered
    if _registered:
        return False
    from . import isr_idt, params  # noqa: F401  (each module registers at import)
    params.register()
    isr_idt.register()
    _registered = True
    return True
