//! TEMPORARY STUB
pub(crate) struct Running { pub(crate) guard: std::ops::Range<usize>, pub(crate) stack_size: usize, pub(crate) id: u64, pub(crate) name: Option<std::sync::Arc<str>> }
pub(crate) fn install() {}
pub(crate) fn ensure_altstack() {}
pub(crate) unsafe fn set_running(_running: *const Running) {}
