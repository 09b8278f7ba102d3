#!/bin/sh
# label-insn.sh OBJ FUNC LABEL REGEX
#
# Adds the global symbol LABEL to OBJ, on the first instruction of FUNC whose
# disassembly (objdump -d, AT&T) matches the extended regex REGEX. For bug
# labels on instructions the compiler chose, which C cannot name. Fails if
# no instruction matches, so the build also asserts the code shape.
set -eu
obj=$1 func=$2 label=$3 regex=$4
OBJDUMP=${OBJDUMP:-objdump}
OBJCOPY=${OBJCOPY:-objcopy}

# In a relocatable object, objdump's addresses are offsets in the section.
line=$("$OBJDUMP" -d --no-show-raw-insn "$obj" | RE=$regex FUNC="<$func>:" awk '
	index($0, ENVIRON["FUNC"]) { infunc = 1; next }
	infunc && /^$/ { exit }
	infunc && $0 ~ ENVIRON["RE"] { print; exit }')
if [ -z "$line" ]; then
	echo "$0: $obj: no instruction in $func matches /$regex/" >&2
	exit 1
fi
offset=$(echo "$line" | sed 's/^ *\([0-9a-f]*\):.*/\1/')
section=$("$OBJDUMP" -t "$obj" | awk -v f="$func" '$NF == f { print $(NF - 2); exit }')
"$OBJCOPY" --add-symbol "$label=$section:0x$offset,global" "$obj"
