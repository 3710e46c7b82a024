//! [`HugePages`]: a global allocator that puts large buffers on transparent
//! huge pages (2 MB), as NumPy does for its large arrays.
//!
//! GEMM packing reads its operands across many rows, each in another 4 KB
//! page once a row is 4 KB or longer; with 4 KB pages those reads miss the
//! TLB. On Linux, allocations of at least [`HUGE_MIN`] bytes are aligned to
//! 2 MB and marked with `madvise(MADV_HUGEPAGE)`, so the kernel backs them with
//! huge pages where it can (it needs THP set to `madvise` or `always`).
//! Everything else, and every other OS, goes straight to the system
//! allocator. Install it in a binary:
//!
//! ```
//! #[global_allocator]
//! static ALLOC: autodiff::alloc::HugePages = autodiff::alloc::HugePages;
//! let v = vec![0.0f32; 1 << 21]; // 8 MB: on huge pages (on Linux)
//! if cfg!(target_os = "linux") {
//!     assert_eq!(v.as_ptr() as usize % autodiff::alloc::HUGE_PAGE, 0);
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout, System};

/// Size (and alignment) of a huge page.
pub const HUGE_PAGE: usize = 2 << 20;
/// Allocations of at least this many bytes go on huge pages (NumPy's
/// threshold for its arrays).
pub const HUGE_MIN: usize = 4 << 20;

/// The global allocator described in the [module docs](self).
pub struct HugePages;

/// The layout a request is served with: 2 MB aligned when large.
fn served(layout: Layout) -> Layout {
    if cfg!(target_os = "linux") && layout.size() >= HUGE_MIN {
        // A power of two at least as large as the requested alignment; the
        // size is unchanged, so this cannot fail for a valid layout.
        Layout::from_size_align(layout.size(), layout.align().max(HUGE_PAGE)).unwrap_or(layout)
    } else {
        layout
    }
}

#[cfg(target_os = "linux")]
extern "C" {
    /// glibc's `madvise(2)` wrapper.
    fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
}
/// `MADV_HUGEPAGE` (the same value on every Linux architecture).
#[cfg(target_os = "linux")]
const MADV_HUGEPAGE: i32 = 14;

/// Asks the kernel for huge pages over `size` bytes at `p` (a no-op off Linux).
fn advise(p: *mut u8, size: usize) {
    #[cfg(target_os = "linux")]
    if !p.is_null() && size >= HUGE_MIN {
        // SAFETY: `p` starts an allocation of `size` bytes that we own;
        // madvise only changes how the kernel backs it (and may fail, which
        // leaves 4 KB pages: nothing to handle).
        unsafe { madvise(p.cast(), size, MADV_HUGEPAGE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (p, size);
}

// SAFETY: every request is forwarded to `System` with a layout of the same
// size and an alignment at least the requested one, and freed with that same
// layout (`served` depends on the size and alignment only).
unsafe impl GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract (non-zero size).
        let p = unsafe { System.alloc(served(layout)) };
        advise(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract (non-zero size).
        let p = unsafe { System.alloc_zeroed(served(layout)) };
        advise(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with `served(layout)`.
        unsafe { System.dealloc(ptr, served(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract; the new layout is valid (checked by
        // the caller of realloc).
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if served(layout) == layout && served(new) == new {
            // Small before and after: the system's realloc, in place when it can.
            // SAFETY: forwarded contract.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: forwarded contract; copies the common prefix, then frees.
        unsafe {
            let p = self.alloc(new);
            if !p.is_null() {
                std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Allocates `size` bytes through `HugePages` and fills them with a pattern.
    fn filled(size: usize) -> (*mut u8, Layout) {
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: non-zero size.
        let p = unsafe { HugePages.alloc(layout) };
        assert!(!p.is_null());
        for i in 0..size {
            // SAFETY: inside the allocation.
            unsafe { *p.add(i) = (i % 251) as u8 };
        }
        (p, layout)
    }

    fn holds_pattern(p: *const u8, len: usize) -> bool {
        // SAFETY: the caller passes an allocation of at least len bytes.
        (0..len).all(|i| unsafe { *p.add(i) } == (i % 251) as u8)
    }

    #[test]
    fn large_blocks_are_huge_page_aligned_small_ones_untouched() {
        let (p, layout) = filled(HUGE_MIN);
        if cfg!(target_os = "linux") {
            assert_eq!(p as usize % HUGE_PAGE, 0);
        }
        assert!(holds_pattern(p, HUGE_MIN));
        // SAFETY: allocated above with this layout.
        unsafe { HugePages.dealloc(p, layout) };
        let small = Layout::from_size_align(HUGE_MIN - 1, 8).unwrap();
        assert_eq!(served(small), small);
    }

    #[test]
    fn realloc_across_the_threshold_keeps_contents() {
        // Small -> large -> larger -> small -> smaller.
        let (mut p, mut layout) = filled(1000);
        let mut valid = 1000;
        for size in [HUGE_MIN + 12_345, 3 * HUGE_MIN, HUGE_MIN / 2, 77] {
            // SAFETY: p was allocated by HugePages with `layout`; size > 0.
            p = unsafe { HugePages.realloc(p, layout, size) };
            assert!(!p.is_null());
            assert!(holds_pattern(p, valid.min(size)), "contents lost growing/shrinking to {size}");
            for i in valid.min(size)..size {
                // SAFETY: inside the new allocation.
                unsafe { *p.add(i) = (i % 251) as u8 };
            }
            valid = size;
            layout = Layout::from_size_align(size, 8).unwrap();
            if cfg!(target_os = "linux") && size >= HUGE_MIN {
                assert_eq!(p as usize % HUGE_PAGE, 0);
            }
        }
        // SAFETY: the last reallocation's layout.
        unsafe { HugePages.dealloc(p, layout) };
    }

    #[test]
    fn zeroed_large_blocks_are_zero() {
        let layout = Layout::from_size_align(HUGE_MIN + 3, 4).unwrap();
        // SAFETY: non-zero size.
        let p = unsafe { HugePages.alloc_zeroed(layout) };
        assert!(!p.is_null());
        // SAFETY: inside the allocation.
        assert!((0..layout.size()).step_by(4093).all(|i| unsafe { *p.add(i) } == 0));
        // SAFETY: allocated above with this layout.
        unsafe { HugePages.dealloc(p, layout) };
    }
}
