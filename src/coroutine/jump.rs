//! The one context switch: [`jump`], `Context::resume` of the `context`
//! crate entered so that the CPU's return-address predictor stays in step.
//!
//! Boost.Context's `jump_fcontext` is reached by a `call` but leaves by an
//! indirect `jmp` to the other context's saved return address. The `call`
//! pushes an entry on the return stack buffer (RSB) that no `ret` ever pops,
//! so after every switch the RSB is one entry off: every `ret` the resumed
//! side executes is predicted to go where the *suspending* side's caller
//! was, and mispredicts, down the whole call chain (about 25 ns per switch
//! here: a yield between two green threads took 42 ns, against 7 ns for
//! the bare jump).
//!
//! On x86-64 Linux, [`jump`] pushes its return address and enters
//! `jump_fcontext` with a `jmp`: no RSB entry is pushed and none is popped.
//! The resumed side's `ret`s then pop the entries of the suspending side's
//! unfinished calls, which are the right predictions whenever both sides
//! switched from the same call chain (two green threads yielding, or
//! parked in the same channel operation). The saved frame is exactly the
//! one `jump_fcontext` writes when called, so a context suspended by either
//! entry can be resumed by the other. Elsewhere [`jump`] is
//! `Context::resume`.
//!
//! The saved frame (Boost's 0x38 bytes plus the return address) is
//! placed to fill exactly one 64-byte cache line: with thousands of green
//! threads every resume reads a stack the core no longer caches, and a
//! frame straddling two lines cost two misses.
//!
//! Invariants: `jump_fcontext` saves and restores the callee-saved
//! registers, the stack pointer, MXCSR and the x87 control word; every
//! other register is declared clobbered (`clobber_abi("C")`), as a call
//! would. The asm block runs with the stack aligned for a call (no
//! `nostack`) and moves `rsp` only down, to a 64-byte boundary, before the
//! push, so the frame lands where a `call` from an aligned stack would put
//! it, and restores it after.

use context::{Context, Transfer};

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
unsafe extern "C" {
    /// Boost.Context's switch, compiled and linked by the `context` crate
    /// (its `src/asm/jump_x86_64_sysv_elf_gas.S`).
    fn jump_fcontext(to: *const std::ffi::c_void, data: usize) -> Transfer;
}

/// Switches to `to`, passing `data`; returns the `Transfer` of the jump
/// that resumes the caller (the context it came from and its data word).
///
/// # Safety
/// As for `Context::resume`: `to` is a context made by `Context::new` on a
/// live stack, or saved by a switch away from it on this OS thread and not
/// resumed since; whatever runs there must eventually jump back to the
/// context this call leaves, if the caller is to return.
#[inline(always)]
pub(super) unsafe fn jump(to: Context, data: usize) -> Transfer {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        // SAFETY: `Context` is `#[repr(C)]` around one `&'static c_void`,
        // the `fcontext_t` that `jump_fcontext` takes.
        let to: *const std::ffi::c_void = unsafe { std::mem::transmute(to) };
        let from: *const std::ffi::c_void;
        let data_out: usize;
        // SAFETY: the caller's contract is `jump_fcontext`'s. The block
        // aligns `rsp` down to a cache line (keeping the old value in r12,
        // which `jump_fcontext` saves and restores like every callee-saved
        // register), pushes the address of label 2 and jumps, as a `call`
        // would without the RSB entry. `jump_fcontext` saves its 0x38-byte
        // frame below that address: frame and address fill exactly the
        // cache line below the aligned `rsp`, so a resume reads one line,
        // not two. Whatever resumes this context pops the frame and the
        // address and jumps to label 2 with r12 restored, and the block
        // puts `rsp` back as it was on entry; the transfer is in rax:rdx.
        // Everything else is clobbered, as declared (r12 too, as far as
        // the compiler knows).
        unsafe {
            std::arch::asm!(
                "mov r12, rsp",
                "and rsp, -64",
                "lea rax, [rip + 2f]",
                "push rax",
                "jmp {jump}",
                "2:",
                "mov rsp, r12",
                jump = sym jump_fcontext,
                inout("rdi") to => _,
                inout("rsi") data => _,
                out("rax") from,
                out("rdx") data_out,
                out("r12") _,
                clobber_abi("C"),
            );
        }
        // SAFETY: `from` is the `fcontext_t` of the context that jumped
        // here; `Context` is `#[repr(C)]` around it.
        let context: Context = unsafe { std::mem::transmute(from) };
        Transfer::new(context, data_out)
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        // SAFETY: the caller's contract is `Context::resume`'s.
        unsafe { to.resume(data) }
    }
}
