"""The GDB side of isrdbg, the one adapter between GDB's Python API and the
pure core: the Target over GDB (target.py), the session's shared state, the
breakpoints that arm vectors and find exits, run tracking at breakpoint hits
and through the trace plugin, the target's lifecycle, Ctrl-C requests.  The
GDB commands themselves (gdbext.commands, commands/ in the tree) stay thin
and use these."""
