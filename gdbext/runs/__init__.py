"""Scripted regression runs: the scenario file format, boot options shared
with the launcher, run reports (JSON, JUnit, tables).  Pure: no gdb."""
