"""Clients outside GDB: launching QEMU and GDB, the REPL, scenario runs."""
