//! style-rust, style-rust-err (x86_64 kernel only): Rust's
//! `extern "x86-interrupt"` handlers. rustc (LLVM's x86-interrupt
//! convention) writes the prologue that saves every caller-saved GPR the
//! calls may clobber, the `cld`, the realignment for the error-code frame,
//! the error-code pop and the `iretq`. Built by scripts/build-rust.sh; the
//! bodies mirror the GCC and clang style handlers.
#![no_std]
#![feature(abi_x86_interrupt)]

/// What the CPU pushed (common/frame.h, struct iframe).
#[repr(C)]
pub struct InterruptStackFrame {
    ip: u64,
    cs: u64,
    flags: u64,
    sp: u64,
    ss: u64,
}

// common/vectors.h
const VEC_GP: u32 = 13;
const VEC_STYLE_RUST: u32 = 0x44;

// common/exc.h
extern "C" {
    fn exc_log_event(vector: u32, f: *const InterruptStackFrame, has_error: i32,
                     error: u64, cr2: u64, handler_sp: u64);
    fn fault_fixup(vector: u32, f: *mut InterruptStackFrame, has_error: i32,
                   error: u64, cr2: u64);
}

/// `int $0x44`: a trap; log it and return to the next instruction.
#[no_mangle]
pub extern "x86-interrupt" fn style_rust_handler(frame: InterruptStackFrame) {
    let f = &frame as *const InterruptStackFrame;
    unsafe { exc_log_event(VEC_STYLE_RUST, f, 0, 0, 0, f as u64) }
}

/// #GP: log it and resume at the scenario's fixup. The frame argument is
/// the CPU's own frame in place (LLVM passes it by reference), so the
/// fixup's new ip is what `iretq` returns to.
#[no_mangle]
pub extern "x86-interrupt" fn style_rust_err_handler(mut frame: InterruptStackFrame,
                                                     error: u64) {
    let f = &mut frame as *mut InterruptStackFrame;
    unsafe { fault_fixup(VEC_GP, f, 1, error, 0) }
}
