//! A bump allocator for plugins, which live for one call.
//!
//! The host gives every call a fresh instance, and a promotion call
//! allocates about a hundred small blocks: the host lowers every string of
//! the cart through `cabi_realloc`, the answer is built, and all of it is
//! freed by the post-return function. Bumping a pointer costs a handful of
//! instructions where wasi-libc's dlmalloc costs ~120 per `malloc`/`free`;
//! on the host's benchmark (`runtime/benches/promotion_call.rs`) it takes
//! about a tenth off a `category-sale` call on a 10-line cart. Declare it
//! once per plugin crate:
//!
//! ```ignore
//! vitrine_sdk::use_call_arena!();
//! ```
//!
//! - Blocks of at most 2 KiB come from one 32 KiB chunk, itself taken from
//!   the system allocator on first use (so it lives in the initial heap and
//!   never grows linear memory, which costs the host two `mprotect`s per
//!   call).
//! - When every block of the chunk is freed (the end of each call), the
//!   chunk starts over; freeing the newest block gives its room back at once.
//!   So an instance reused for several calls reuses the chunk too.
//! - Anything else, or anything that does not fit (a long-lived allocation
//!   pins the chunk), goes to the system allocator: the worst case is
//!   dlmalloc's speed, never unbounded growth.
//!
//! A wasm32 guest has one thread; this allocator relies on it and is only
//! declared for `target_arch = "wasm32"`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The chunk's size.
const CHUNK: usize = 32 << 10;
/// The largest block served from the chunk.
const SMALL: usize = 2 << 10;
/// The largest alignment served from the chunk (the chunk's own).
const ALIGN: usize = 16;

/// The allocator; see the [module docs](self). Declare it with
/// [`use_call_arena!`](crate::use_call_arena).
pub struct CallArena {
    base: Cell<usize>,
    next: Cell<usize>,
    live: Cell<usize>,
}

// SAFETY: a wasm32 guest without atomics has one thread; nothing here is
// shared across threads. Elsewhere the arena is not `Sync`, so it cannot be
// a global allocator there.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for CallArena {}

impl Default for CallArena {
    fn default() -> Self {
        Self::new()
    }
}

impl CallArena {
    /// An arena whose chunk is taken on first use.
    pub const fn new() -> Self {
        Self {
            base: Cell::new(0),
            next: Cell::new(0),
            live: Cell::new(0),
        }
    }

    fn owns(&self, ptr: *mut u8) -> bool {
        let base = self.base.get();
        base != 0 && (base..base + CHUNK).contains(&(ptr as usize))
    }

    /// A block from the chunk, if `layout` is small and it fits.
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        if layout.size() > SMALL || layout.align() > ALIGN {
            return None;
        }
        if self.base.get() == 0 {
            // SAFETY: a non-zero size and a valid power-of-two alignment.
            let chunk = unsafe { System.alloc(Layout::from_size_align(CHUNK, ALIGN).ok()?) };
            if chunk.is_null() {
                return None;
            }
            self.base.set(chunk as usize);
            self.next.set(chunk as usize);
        }
        let start = self.next.get().next_multiple_of(layout.align());
        let end = start + layout.size();
        if end > self.base.get() + CHUNK {
            return None;
        }
        self.next.set(end);
        self.live.set(self.live.get() + 1);
        Some(start as *mut u8)
    }
}

// SAFETY: blocks from the chunk are in bounds, aligned to at most `ALIGN`
// (the chunk's own alignment) and handed out once until freed; everything
// else is the system allocator's, under its own contract.
unsafe impl GlobalAlloc for CallArena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => ptr,
            // SAFETY: the caller's contract, passed on.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.owns(ptr) {
            // SAFETY: not ours, so the system allocator's.
            return unsafe { System.dealloc(ptr, layout) };
        }
        let live = self.live.get() - 1;
        self.live.set(live);
        if live == 0 {
            self.next.set(self.base.get());
        } else if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let ours = self.owns(ptr);
        if ours
            && ptr as usize + layout.size() == self.next.get()
            && new_size <= SMALL
            && ptr as usize + new_size <= self.base.get() + CHUNK
        {
            // The newest block: grow or shrink it in place.
            self.next.set(ptr as usize + new_size);
            return ptr;
        }
        if !ours && new_size > SMALL {
            // SAFETY: the system allocator's block, the caller's contract.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: `layout.align()` is valid and `new_size` is non-zero (the caller's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as above.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and distinct.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}
