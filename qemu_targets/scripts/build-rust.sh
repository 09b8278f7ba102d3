#!/bin/sh
# build-rust.sh SRC OUT     (env: RUSTC = path or empty, STANDIN = command)
#
# Compiles the Rust x86-interrupt handlers (foreign/style_rust.rs) into an
# object for the x86_64 kernel. Never fails the build: if rustc is missing
# or cannot compile them, it builds the stand-in object instead (STANDIN,
# given -DWHY="<reason>" -o OUT), and style-rust* then FAIL with
# "not built: <reason>". rustc's messages go to OUT.log.
set -u
# rustc would try to join make's jobserver (and warn that it cannot).
unset MAKEFLAGS MFLAGS
src=$1 out=$2
log=$out.log
flags="--edition 2021 --crate-type=lib --emit obj -C opt-level=2 -C debuginfo=2
	-C relocation-model=static -C code-model=kernel -C no-redzone=yes
	-C panic=abort"

standin() {
	echo "note: $1: style-rust* will report 'not built' (see $log)"
	$STANDIN -DWHY="\"$1\"" -o "$out"
}

# A built object must not touch SSE state: the kernel runs with SSE off.
checked() {
	if "${OBJDUMP:-objdump}" -d "$out" | grep -q '%[xy]mm'; then
		standin "rustc emitted SSE instructions"
	fi
	exit 0
}

rm -f "$out"
if [ -z "$RUSTC" ]; then
	echo "rustc not found" >"$log"
	standin "rustc missing"
	exit 0
fi

# x86_64-unknown-none is the kernel target (soft-float: no SSE in the
# handlers, no red zone), but needs its own core library installed.
echo "== $RUSTC --target x86_64-unknown-none" >"$log"
# shellcheck disable=SC2086
if RUSTC_BOOTSTRAP=1 "$RUSTC" $flags --target x86_64-unknown-none -D warnings \
	"$src" -o "$out" >>"$log" 2>&1; then
	checked
fi

# Otherwise the host target's core with SSE turned off, so the handlers
# touch no xmm register (SSE is off in this kernel; with it on, LLVM would
# also save all 16 xmm registers around the calls). rustc warns that turning
# SSE off on this target is an ABI mismatch; these handlers pass no floating-
# point values, so the warning is harmless and stays in the log.
echo "== $RUSTC (host target) -C target-feature=-sse,-sse2" >>"$log"
# shellcheck disable=SC2086
if RUSTC_BOOTSTRAP=1 "$RUSTC" $flags -C target-feature=-sse,-sse2 \
	"$src" -o "$out" >>"$log" 2>&1; then
	checked
fi
standin "rustc failed"
