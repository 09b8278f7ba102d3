#!/usr/bin/env bash
# Build both kernels, run every scenario on both arches exactly as the
# debugger does (minus -S -gdb), and print one table row per run.
#
#   ./run-all.sh                  every scenario either kernel knows
#   ./run-all.sh timer nmi        just these
#   ARCHES=i386 ./run-all.sh      one arch
#
# Each kernel supplies its own scenario list (the "known scenarios:" line
# it prints for an unknown name), so this script has none to keep in sync.
# A scenario only one kernel knows is expected to fail as unknown on the
# other ("n/a"). Exit status 0 iff every run ended as expected.
set -u
cd "$(dirname "$0")"

ARCHES=${ARCHES:-"x86_64 i386"}
TIMEOUT=10

make -s -j2 || exit 2

qemu_for() {
	case $1 in
	x86_64) echo "qemu-system-x86_64 -kernel build/x86_64/kernel.elf32" ;;
	i386)   echo "qemu-system-i386 -kernel build/i386/kernel.elf" ;;
	esac
}

# run ARCH SCENARIO: sets $status and $output
run() {
	output=$(timeout "$TIMEOUT" $(qemu_for "$1") -append "scenario=$2" \
		-display none -serial stdio -monitor none -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -m 128M \
		</dev/null 2>&1)
	status=$?
}

known_scenarios() {
	run "$1" "--list--"
	sed -n 's/^known scenarios: //p' <<<"$output"
}

declare -A known
all=()
for arch in $ARCHES; do
	known[$arch]=" $(known_scenarios "$arch") "
	for s in ${known[$arch]}; do
		[[ " ${all[*]} " == *" $s "* ]] || all+=("$s")
	done
done
[ $# -gt 0 ] && all=("$@")

failures=0
printf '%-26s %-7s %-5s %-6s %s\n' SCENARIO ARCH EXIT RESULT "LAST SERIAL LINE"
for s in "${all[@]}"; do
	for arch in $ARCHES; do
		run "$arch" "$s"
		last=$(tail -n 1 <<<"$output" | tr -d '\r')
		if [[ ${known[$arch]} == *" $s "* ]]; then
			[ "$status" -eq 1 ] && result=PASS || result=FAIL
		elif [ "$status" -eq 3 ] && [[ $last == *"unknown scenario"* ]]; then
			result=n/a
		else
			result=FAIL
		fi
		[ "$status" -eq 124 ] && result=TIMEOUT
		[ "$result" = PASS ] || [ "$result" = n/a ] || failures=$((failures + 1))
		printf '%-26s %-7s %-5s %-6s %s\n' "$s" "$arch" "$status" "$result" "$last"
	done
done

echo
if [ "$failures" -eq 0 ]; then
	echo "all runs as expected (exit 1 = PASS; n/a = scenario not on that arch)"
else
	echo "$failures run(s) failed"
fi
[ "$failures" -eq 0 ]
