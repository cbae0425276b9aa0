//! TEMPORARY STUB
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;
static LIVE: AtomicUsize = AtomicUsize::new(0);
pub(crate) fn validate_size(size: usize) -> io::Result<usize> {
    if size < MIN_STACK_SIZE || size > MAX_STACK_SIZE { return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad stack size")); }
    Ok((size + 4095) & !4095)
}
pub(crate) struct Stack { base: *mut u8, size: usize }
unsafe impl Send for Stack {}
impl Stack {
    pub(crate) fn top(&self) -> *mut u8 { unsafe { self.base.add(4096 + self.size) } }
    pub(crate) fn bottom(&self) -> *mut u8 { unsafe { self.base.add(4096) } }
    pub(crate) fn size(&self) -> usize { self.size }
    pub(crate) fn guard(&self) -> std::ops::Range<usize> { self.base as usize..self.base as usize + 4096 }
}
pub(crate) fn acquire(size: usize) -> io::Result<Stack> {
    let p = unsafe { libc::mmap(std::ptr::null_mut(), size + 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0) };
    if p == libc::MAP_FAILED { return Err(io::Error::last_os_error()); }
    unsafe { libc::madvise(p, 4096, 102) };
    LIVE.fetch_add(1, Ordering::Relaxed);
    Ok(Stack { base: p.cast(), size })
}
pub(crate) unsafe fn release(stack: Stack) {
    LIVE.fetch_sub(1, Ordering::Relaxed);
    unsafe { libc::munmap(stack.base.cast(), stack.size + 4096) };
}
pub(crate) fn live_stacks() -> usize { LIVE.load(Ordering::Relaxed) }
