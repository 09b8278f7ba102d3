"""Handler runs: where to break, entries paired with exits by run identity,
judged against the convention (findings and their rules), traced, summarised
for status; the trace plugin's ring and records.  Pure: no gdb."""
