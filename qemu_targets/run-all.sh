#!/usr/bin/env bash
# Build both kernels, run every scenario on both arches exactly as the
# debugger does (minus -S -gdb), and print one table row per run: what was
# expected, what happened, and whether that is as designed.
#
#   ./run-all.sh                  every scenario either kernel knows
#   ./run-all.sh timer nmi        just these
#   ARCHES=i386 ./run-all.sh      one arch
#   ACCEL=kvm TIMEOUT=60 ./run-all.sh   under KVM (see README "Under KVM")
#
# Each kernel supplies its own scenario list (the "known scenarios:" line
# it prints for an unknown name). Every scenario is expected to PASS unless
# the EXPECTATIONS table below says otherwise; a scenario only one kernel
# knows is expected to fail as unknown on the other ("n/a"). Verdicts:
#   ok        as expected
#   skipped   a foreign-compiler scenario whose compiler was missing
#             ("not built: ..."); not a deviation
#   DEVIATES  anything else (the reason follows on the next line)
# Exit status 0 iff nothing deviates.
set -u
cd "$(dirname "$0")"

ARCHES=${ARCHES:-"x86_64 i386"}
ACCEL=${ACCEL:-tcg}
TIMEOUT=${TIMEOUT:-10}	# KVM on a loaded nested host boots in up to ~20 s

make -s -j2 || exit 2

# ---- KVM served by kvm_pvm ------------------------------------------------
# The KVM of the project's machines (README "Under KVM") cannot run `int N`
# (ring 0: emulation failure, the VM pauses; ring 3: #UD) nor i386's
# non-PAE paging (triple fault). Those runs are reported as skipped.
PVM=
if [ "$ACCEL" = kvm ] && [ -d /sys/module/kvm_pvm ]; then
	PVM=1
	if [[ " $ARCHES " == *" i386 "* ]]; then
		echo "note: i386 skipped: kvm_pvm does not run non-PAE paging (README \"Under KVM\")"
		ARCHES=${ARCHES//i386/}
	fi
fi
# Every scenario whose trigger, or whose return from ring 3, is `int N`.
pvm_cannot_run() {
	case $1 in
	bad-error-code-not-popped | bad-pf-error-code-not-popped) return 1 ;;
	breakpoint | np-gate | int14 | nmi | nested-* | bad-* | style-* | \
	pf-user-* | user-breakpoint) return 0 ;;
	esac
	return 1
}

# ---- expectations --------------------------------------------------------
# expect NAME[@ARCH] STATUS LABEL [PATTERN...]
#   STATUS   QEMU exit status: 1 = PASS, 3 = FAIL
#   LABEL    the EXPECT column
#   PATTERN  an ERE that some line of the serial output must match. In a
#            pattern, {sym} is that symbol's address as the kernel prints
#            %p, {sym+N} the address plus N, and {sel:sym} the low 16 bits
#            of the address with the RPL bits cleared, as %#x (the selector
#            a broken iret takes from a return address).
# For a FAIL expectation, every "canary FAIL" line must also match one of
# the patterns: the damage must be exactly the designed one.
declare -A EXPECT_STATUS EXPECT_LABEL EXPECT_PATTERNS

expect() {
	local key=$1 status=$2 label=$3
	shift 3
	EXPECT_STATUS[$key]=$status
	EXPECT_LABEL[$key]=$label
	EXPECT_PATTERNS[$key]=$(printf '%s\n' "$@")
}

GP_IN_IRET='^unexpected #GP \(vector 13\): ip='

# Part 1: the deliberately broken handlers (README "Broken handlers").
expect bad-pop-order@x86_64 3 "FAIL rbx<->r12" \
	'^canary FAIL rbx changed 0x(b0)+b1 -> 0x(12)+$' \
	'^canary FAIL r12 changed 0x(12)+ -> 0x(b0)+b1$'
expect bad-pop-order@i386 3 "FAIL ebx<->esi" \
	'^canary FAIL ebx changed 0xb0b0b0b1 -> 0x51515151$' \
	'^canary FAIL esi changed 0x51515151 -> 0xb0b0b0b1$'
expect bad-error-code-not-popped 3 "FAIL #GP in iret" \
	"$GP_IN_IRET{bug_error_code_not_popped} .* error={sel:fault_resume_bad_error_code_not_popped}\$"
expect bad-pf-error-code-not-popped 3 "FAIL #GP in iret" \
	"$GP_IN_IRET{bug_pf_error_code_not_popped} .* error={sel:fault_resume_bad_pf_error_code_not_popped}\$"
expect bad-ret@x86_64 3 "FAIL rsp -0x28" \
	'^canary FAIL rsp changed 0x[0-9a-f]+ -> 0x[0-9a-f]+ \(-0x28\)$'
expect bad-ret@i386 3 "FAIL esp -8" \
	'^canary FAIL esp changed 0x[0-9a-f]+ -> 0x[0-9a-f]+ \(-0x8\)$'
expect bad-clobber-rbx@x86_64 3 "FAIL rbx=0xdead" \
	'^canary FAIL rbx changed 0x(b0)+b1 -> 0xdead$'
expect bad-clobber-rbx@i386 3 "FAIL ebx=0xdead" \
	'^canary FAIL ebx changed 0xb0b0b0b1 -> 0xdead$'
expect bad-clobber-rax 3 "FAIL al=0x20 (EOI)" \
	'^canary FAIL [re]ax changed 0x(a0)+a1 -> 0x(a0)+20$'
expect bad-scratch-not-saved@x86_64 3 "FAIL 9 scratch regs" \
	'^canary FAIL rax changed .* -> 0xdead0000$' \
	'^canary FAIL rcx changed .* -> 0xdead0001$' \
	'^canary FAIL rdx changed .* -> 0xdead0002$' \
	'^canary FAIL rsi changed .* -> 0xdead0003$' \
	'^canary FAIL rdi changed .* -> 0xdead0004$' \
	'^canary FAIL r8 changed .* -> 0xdead0005$' \
	'^canary FAIL r9 changed .* -> 0xdead0006$' \
	'^canary FAIL r10 changed .* -> 0xdead0007$' \
	'^canary FAIL r11 changed .* -> 0xdead0008$'
expect bad-scratch-not-saved@i386 3 "FAIL eax ecx edx" \
	'^canary FAIL eax changed .* -> 0xdead0000$' \
	'^canary FAIL ecx changed .* -> 0xdead0001$' \
	'^canary FAIL edx changed .* -> 0xdead0002$'
expect bad-sse-clobber 3 "FAIL xmm0=0" \
	'^canary FAIL xmm0 changed (e0){16} -> (00){16}$'
expect bad-segment-clobber 3 "FAIL ds=0x23" \
	'^canary FAIL ds changed 0x10 -> 0x23$'
expect bad-stack-imbalance-8@x86_64 3 "FAIL #GP in iret" \
	"$GP_IN_IRET{bug_stack_imbalance_8} .* error={sel:fault_resume_bad_stack_imbalance_8}\$"
expect bad-stack-imbalance-8@i386 3 "FAIL #GP(0) in iret" \
	"$GP_IN_IRET{bug_stack_imbalance_8} .* error=0x0\$"
expect bad-stack-imbalance-4@x86_64 3 "FAIL #GP(0) in iret" \
	"$GP_IN_IRET{bug_stack_imbalance_4+4} .* error=0x0\$"
expect bad-stack-imbalance-4@i386 3 "FAIL #GP in iret" \
	"$GP_IN_IRET{bug_stack_imbalance_4} .* error={sel:fault_resume_bad_stack_imbalance_4}\$"
# Latent: nothing lands on the red zone at run time (static checks only).
expect bad-red-zone@x86_64 1 "PASS (latent bug)" '^canary ok$'
# The process model's broken variants (README "Process model"): the user
# programs count what came back wrong.
expect bad-proc-syscall-rbx 3 "FAIL rbx after syscalls" \
	'^check failed: image 0: 18 wrong syscall results or arguments$'
expect bad-proc-switch-r11@x86_64 3 "FAIL r11 after switches" \
	'^canary FAIL image [0-2] r11 changed '
expect bad-proc-switch-ecx@i386 3 "FAIL ecx after switches" \
	'^canary FAIL image [0-2] ecx changed '
expect bad-proc-other-trapframe 3 "FAIL rbx of another process" \
	'^check failed: image [0-2]: 1 wrong syscall results or arguments$'
# Part 2: by design the CPU shuts down (QEMU exits 0 under -no-reboot).
expect triple-fault 0 "RESET (by design)"

# ---- running -------------------------------------------------------------
qemu_for() {
	case $1 in
	x86_64) echo "qemu-system-x86_64 -accel $ACCEL -kernel build/x86_64/kernel.elf32" ;;
	i386)   echo "qemu-system-i386 -accel $ACCEL -kernel build/i386/kernel.elf" ;;
	esac
}

# run ARCH SCENARIO: sets $status and $output. smp-* scenarios get two CPUs
# (sockets=2: SeaBIOS's MP table lists one CPU per socket).
run() {
	local smp=1
	[[ $2 == smp-* ]] && smp=2,sockets=2
	output=$(timeout "$TIMEOUT" $(qemu_for "$1") -append "scenario=$2" \
		-display none -serial stdio -monitor none -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -m 128M \
		-smp "$smp" </dev/null 2>&1)
	status=$?
	output=${output//$'\r'/}
}

known_scenarios() {
	run "$1" "--list--"
	sed -n 's/^known scenarios: //p' <<<"$output"
}

# The kernel's symbol table, for {sym} in patterns.
declare -A SYMS
load_symbols() {
	local addr type name
	while read -r addr type name; do
		SYMS[$1:$name]=$addr
	done < <(nm "build/$1/kernel.elf")
}

# expand ARCH PATTERN: replaces {sym}, {sym+N}, {sel:sym}; fails if a
# symbol is unknown.
expand() {
	local arch=$1 pat=$2 ref sym add addr value digits
	digits=$([ "$arch" = x86_64 ] && echo 16 || echo 8)
	while [[ $pat =~ \{(sel:)?([A-Za-z_][A-Za-z0-9_]*)(\+([0-9]+))?\} ]]; do
		ref=${BASH_REMATCH[0]} sym=${BASH_REMATCH[2]} add=${BASH_REMATCH[4]:-0}
		addr=${SYMS[$arch:$sym]:-}
		[ -n "$addr" ] || { echo "unknown symbol $sym"; return 1; }
		if [ -n "${BASH_REMATCH[1]}" ]; then
			value=$(printf '0x%x' $(((16#$addr) & 0xfffc)))
		else
			value=$(printf "0x%0${digits}x" $((16#$addr + add)))
		fi
		pat=${pat/"$ref"/$value}
	done
	echo "$pat"
}

# judge ARCH SCENARIO: sets $expect_label, $got, $verdict, $why
judge() {
	local arch=$1 s=$2 key want label patterns pat
	if [ -n "${EXPECT_STATUS[$s@$arch]:-}" ]; then key=$s@$arch; else key=$s; fi
	want=${EXPECT_STATUS[$key]:-1}
	label=${EXPECT_LABEL[$key]:-PASS}
	patterns=${EXPECT_PATTERNS[$key]:-}
	case $status in
	1) got=PASS ;; 3) got=FAIL ;; 124) got=TIMEOUT ;;
	0) got=RESET ;; # triple fault: QEMU exits because of -no-reboot
	*) got="exit$status" ;;
	esac
	verdict=ok why=

	if [[ ${known[$arch]} != *" $s "* ]]; then
		expect_label=n/a
		if [ "$status" -eq 3 ] && [[ $last == *"unknown scenario"* ]]; then
			got=n/a
		else
			verdict=DEVIATES why="not a $arch scenario, yet it did not fail as unknown"
		fi
		return
	fi
	expect_label=$label
	if [ "$status" -eq 3 ] && [[ $last == *": not built: "* ]]; then
		verdict=skipped why=${last#*: not built: }
		return
	fi
	if [ "$status" != "$want" ]; then
		verdict=DEVIATES why="QEMU exit status $status, expected $want"
		return
	fi
	while IFS= read -r pat; do
		[ -n "$pat" ] || continue
		pat=$(expand "$arch" "$pat") || { verdict=DEVIATES why=$pat; return; }
		if ! grep -Eq -- "$pat" <<<"$output"; then
			verdict=DEVIATES why="no line matches /$pat/"
			return
		fi
	done <<<"$patterns"
	[ "$want" -eq 3 ] || return 0
	# Exactly the designed damage: no canary failure beyond the patterns.
	while IFS= read -r line; do
		local matched=0
		while IFS= read -r pat; do
			[ -n "$pat" ] || continue
			pat=$(expand "$arch" "$pat")
			grep -Eq -- "$pat" <<<"$line" && matched=1 && break
		done <<<"$patterns"
		if [ $matched -eq 0 ]; then
			verdict=DEVIATES why="unexpected: $line"
			return
		fi
	done < <(grep '^canary FAIL' <<<"$output")
}

declare -A known
all=()
for arch in $ARCHES; do
	known[$arch]=" $(known_scenarios "$arch") "
	load_symbols "$arch"
	for s in ${known[$arch]}; do
		[[ " ${all[*]} " == *" $s "* ]] || all+=("$s")
	done
done

deviations=0 skipped=0
# An expectation for a scenario no kernel knows is stale.
for key in "${!EXPECT_STATUS[@]}"; do
	s=${key%@*} arch=${key#*@}
	[ "$arch" = "$key" ] && arch=
	for a in ${arch:-$ARCHES}; do
		[[ " $ARCHES " == *" $a "* ]] || continue
		if [[ ${known[$a]} != *" $s "* ]]; then
			echo "DEVIATES: run-all.sh expects '$s' on $a, which the kernel does not know"
			deviations=$((deviations + 1))
		fi
	done
done

[ $# -gt 0 ] && all=("$@")

printf '%-29s %-7s %-19s %-7s %-8s %s\n' \
	SCENARIO ARCH EXPECT GOT VERDICT "LAST SERIAL LINE"
for s in "${all[@]}"; do
	for arch in $ARCHES; do
		if [ -n "$PVM" ] && pvm_cannot_run "$s"; then
			printf '%-29s %-7s %-19s %-7s %-8s %s\n' "$s" "$arch" \
				"${EXPECT_LABEL[$s@$arch]:-${EXPECT_LABEL[$s]:-PASS}}" - skipped \
				"kvm_pvm cannot run int N (README \"Under KVM\")"
			skipped=$((skipped + 1))
			continue
		fi
		run "$arch" "$s"
		last=$(tail -n 1 <<<"$output")
		judge "$arch" "$s"
		printf '%-29s %-7s %-19s %-7s %-8s %s\n' \
			"$s" "$arch" "$expect_label" "$got" "$verdict" "$last"
		case $verdict in
		ok) ;;
		skipped) skipped=$((skipped + 1)) ;;
		*) deviations=$((deviations + 1))
		   echo "    -> $why" ;;
		esac
	done
done

echo
[ "$skipped" -eq 0 ] ||
	echo "$skipped run(s) skipped: a foreign compiler was missing or failed (see the build notes above)${PVM:+, or kvm_pvm cannot run them}"
if [ "$deviations" -eq 0 ]; then
	echo "all runs as expected (exit 1 = PASS, 3 = FAIL; n/a = scenario not on that arch)"
else
	echo "$deviations run(s) deviate from what is expected"
fi
[ "$deviations" -eq 0 ]
