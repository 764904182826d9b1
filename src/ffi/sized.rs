//! Structs that can grow: the caller states in `struct_size` (the first field) the size it was
//! compiled with, and the library reads and writes no more than that, filling defaults for the
//! fields the caller does not know.
//!
//! A struct is never accessed through a Rust reference to the caller's memory (that memory may
//! be smaller than the Rust struct): the library copies the caller's prefix into a full local
//! value, or a full local value's prefix out to the caller.

use std::mem::size_of;

use super::error::Failure;
use super::types::*;

/// A `#[repr(C)]` struct whose first field is `struct_size: u32`.
///
/// # Safety
/// The implementor is `#[repr(C)]`, starts with a `u32` size field, and every byte pattern of
/// its fields after `struct_size` that C can write is a valid value (integers, arrays of them,
/// `bool`, pointers), as is the all-zero pattern.
pub(crate) unsafe trait Growable: Copy {
    /// The C name, for messages.
    const NAME: &'static str;
    /// The smallest size accepted: the fields below it have no default.
    const MIN_SIZE: usize;
    /// `(offset, size)` of every field, in order, so that a size cutting a field is refused.
    fn spans(&self) -> Vec<(usize, usize)>;
    /// Sets the `struct_size` field.
    fn set_struct_size(&mut self, size: u32);
}

/// Implements [`Growable`] for a struct with a leading `struct_size`, listing its other fields.
macro_rules! growable {
    ($t:ident, min: $min:expr; $($field:ident),+ $(,)?) => {
        // SAFETY: the struct is repr(C), starts with `struct_size: u32`, and its fields are
        // integers, bools, byte/char arrays and pointers (all-zero is valid, C writes valid
        // values).
        unsafe impl $crate::ffi::sized::Growable for $t {
            const NAME: &'static str = stringify!($t);
            const MIN_SIZE: usize = $min;
            fn spans(&self) -> Vec<(usize, usize)> {
                $crate::ffi::sized::spans!(self, $t; $($field),+)
            }
            fn set_struct_size(&mut self, size: u32) {
                self.struct_size = size;
            }
        }
    };
}
pub(crate) use growable;

/// `(offset, size)` of each named field of `value` (a `#[repr(C)]` struct).
macro_rules! spans {
    ($value:expr, $t:ty; $($field:ident),+ $(,)?) => {
        vec![$((std::mem::offset_of!($t, $field), std::mem::size_of_val(&$value.$field))),+]
    };
}
pub(crate) use spans;

/// The size stated by the caller, checked: at least `T::MIN_SIZE`, at most this library's
/// `sizeof(T)` (a larger struct comes from a newer header than this library), and not cutting
/// a field.
fn checked_size<T: Growable>(
    stated: u32,
    layout: &T,
    what: &str,
    min: usize,
) -> Result<usize, Failure> {
    let size = stated as usize;
    let max = size_of::<T>();
    let refuse = |why: String| {
        Failure::new(
            SA_ERR_INVALID_ARGUMENT,
            format!(
                "{what}->struct_size is {stated}: {why} (set it to sizeof({}))",
                T::NAME
            ),
        )
    };
    if size < min {
        return Err(refuse(format!(
            "the smallest {} this library accepts here is {min} bytes",
            T::NAME
        )));
    }
    if size > max {
        return Err(refuse(format!(
            "this library's {} has {max} bytes; the program was built against a newer header",
            T::NAME
        )));
    }
    // The full size ends after the last field (and is what nearly every caller states: no
    // need to list the fields).
    if size < max
        && layout
            .spans()
            .iter()
            .any(|&(offset, len)| offset < size && size < offset + len)
    {
        return Err(refuse("the size ends inside a field".into()));
    }
    Ok(size)
}

/// Reads the caller's `struct_size`.
///
/// # Safety
/// `ptr` is non-NULL and valid for reads of 4 bytes.
unsafe fn stated_size<T>(ptr: *const T) -> u32 {
    // SAFETY: per the contract; the caller's struct starts with its u32 size.
    unsafe { ptr.cast::<u32>().read_unaligned() }
}

/// Reads a struct from C: the caller's `struct_size` bytes over `defaults` (so fields beyond
/// them keep their default), refusing a size below `min` (the fields it needs). The result's
/// `struct_size` is the caller's.
///
/// # Safety
/// `ptr` is NULL (rejected) or valid for reads of its stated `struct_size` bytes.
pub(crate) unsafe fn read_in<T: Growable>(
    ptr: *const T,
    what: &str,
    defaults: T,
    min: usize,
) -> Result<T, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: non-NULL and readable per the contract.
    let stated = unsafe { stated_size(ptr) };
    if stated as usize == size_of::<T>() {
        // What nearly every caller states: the whole struct, read as it is (no defaults to
        // build, no sizes to check).
        // SAFETY: the caller's struct holds `size_of::<T>()` bytes per the contract, and every
        // byte pattern C writes is valid for T (trait contract).
        return Ok(unsafe { ptr.read_unaligned() });
    }
    let size = checked_size(stated, &defaults, what, min)?;
    // SAFETY: `size` was checked against T, and the caller's struct holds `size` bytes.
    Ok(unsafe { copy_in(ptr, size, defaults) })
}

/// `defaults` with its first `size` bytes taken from `ptr`.
///
/// # Safety
/// `size` <= size_of::<T>(), `ptr` is valid for reads of `size` bytes.
unsafe fn copy_in<T: Growable>(ptr: *const T, size: usize, defaults: T) -> T {
    let mut value = defaults;
    // SAFETY: per the contract; the local value does not overlap the caller's memory, and
    // every byte pattern C writes is valid for T (trait contract).
    unsafe {
        std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), (&mut value as *mut T).cast::<u8>(), size)
    };
    value
}

/// Writes the first `size` bytes of `value` (its `struct_size` set to `size`) to `ptr`.
///
/// # Safety
/// `size` <= size_of::<T>(), `ptr` is valid for writes of `size` bytes.
unsafe fn copy_out<T: Growable>(ptr: *mut T, size: usize, mut value: T) {
    value.set_struct_size(size as u32);
    // SAFETY: per the contract; the local value does not overlap the caller's memory.
    unsafe {
        std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), ptr.cast::<u8>(), size)
    };
}

/// Reads a struct from C whose fields after `struct_size` default to zero (false, NULL, 0).
///
/// # Safety
/// As [`read_in`].
pub(crate) unsafe fn read_in_zeroed<T: Growable>(
    ptr: *const T,
    what: &str,
    min: usize,
) -> Result<T, Failure> {
    // SAFETY: all-zero is a valid T (trait contract).
    let zero: T = unsafe { std::mem::zeroed() };
    // SAFETY: forwarded contract.
    unsafe { read_in(ptr, what, zero, min) }
}

/// An out-pointer to a growable struct, checked before any work is done so that a bad size
/// changes nothing.
pub(crate) struct SizedOut<T> {
    ptr: *mut T,
    size: usize,
}

impl<T: Growable> SizedOut<T> {
    /// Checks `ptr` (NULL is refused) and its stated size.
    ///
    /// # Safety
    /// `ptr` is NULL or valid for reads and writes of its stated `struct_size` bytes.
    pub(crate) unsafe fn new(ptr: *mut T, what: &str) -> Result<SizedOut<T>, Failure> {
        if ptr.is_null() {
            return Err(Failure::null(what));
        }
        // SAFETY: non-NULL and readable per the contract.
        let stated = unsafe { stated_size(ptr) };
        if stated as usize == size_of::<T>() {
            // What nearly every caller states: no layout to build (a memset of the struct).
            return Ok(SizedOut {
                ptr,
                size: size_of::<T>(),
            });
        }
        // SAFETY: all-zero is a valid T (trait contract); it only serves its field layout.
        let layout: T = unsafe { std::mem::zeroed() };
        let size = checked_size(stated, &layout, what, T::MIN_SIZE)?;
        Ok(SizedOut { ptr, size })
    }

    /// The caller's struct when it is this library's whole struct, to fill field by field
    /// (sparing a large struct's build and copy); `None` for a smaller, older struct.
    pub(crate) fn whole(&self) -> Option<*mut T> {
        (self.size == size_of::<T>()).then_some(self.ptr)
    }

    /// Writes the first `struct_size` bytes of `value` (its `struct_size` set to the caller's);
    /// the caller's bytes after them are untouched.
    pub(crate) fn write(self, value: T) {
        // SAFETY: `ptr` is writable for `size` bytes (checked in `new`, contract of `new`),
        // and `size` <= size_of::<T>().
        unsafe { copy_out(self.ptr, self.size, value) };
    }
}

/// An array of `count` growable structs from C. Its stride is the `struct_size` of its first
/// element, which every element must state: a caller compiled against an older header passes
/// an array of its smaller structs, and the array stays readable. All sizes are checked before
/// any work, so a bad one changes nothing.
pub(crate) struct SizedArray<T> {
    ptr: *mut T,
    count: usize,
    size: usize,
}

impl<T: Growable> SizedArray<T> {
    /// Checks `ptr` (NULL is refused unless `count` is 0) and every element's stated size
    /// (at least `min`).
    ///
    /// # Safety
    /// `ptr` is NULL or valid for reads of `count` elements of its first element's stated
    /// size (and for writes, when the array is written).
    pub(crate) unsafe fn new(
        ptr: *mut T,
        count: usize,
        what: &str,
        min: usize,
    ) -> Result<SizedArray<T>, Failure> {
        if count == 0 {
            return Ok(SizedArray {
                ptr,
                count,
                size: 0,
            });
        }
        if ptr.is_null() {
            return Err(Failure::null(what));
        }
        // SAFETY: all-zero is a valid T (trait contract); it only serves its field layout.
        let layout: T = unsafe { std::mem::zeroed() };
        // SAFETY: non-NULL and readable per the contract.
        let stride = unsafe { stated_size(ptr) };
        let size = checked_size(stride, &layout, &format!("{what}[0]"), min)?;
        for index in 1..count {
            // SAFETY: element `index` lies within the array per the contract.
            let stated = unsafe { stated_size(ptr.cast::<u8>().add(index * size).cast::<T>()) };
            if stated != stride {
                return Err(Failure::new(
                    SA_ERR_INVALID_ARGUMENT,
                    format!(
                        "{what}[{index}].struct_size is {stated} but {what}[0].struct_size is                          {stride}: every element states the same size, sizeof({})",
                        T::NAME
                    ),
                ));
            }
        }
        Ok(SizedArray { ptr, count, size })
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    fn element(&self, index: usize) -> *mut T {
        assert!(index < self.count, "element {index} of {}", self.count);
        // SAFETY: within the array (checked above, contract of `new`).
        unsafe { self.ptr.cast::<u8>().add(index * self.size).cast::<T>() }
    }

    /// Element `index`, the fields beyond the caller's size zero (false, NULL, 0).
    pub(crate) fn read(&self, index: usize) -> T {
        // SAFETY: all-zero is a valid T (trait contract).
        let zero: T = unsafe { std::mem::zeroed() };
        // SAFETY: the element holds `size` readable bytes (contract of `new`), `size` was
        // checked against T.
        unsafe { copy_in(self.element(index), self.size, zero) }
    }

    /// Element `index` when the elements are this library's whole struct, to fill field by
    /// field; `None` for smaller, older structs (or an index out of range).
    pub(crate) fn whole(&self, index: usize) -> Option<*mut T> {
        (self.size == size_of::<T>() && index < self.count).then(|| self.element(index))
    }

    /// Writes element `index` (its first `struct_size` bytes).
    pub(crate) fn write(&self, index: usize, value: T) {
        // SAFETY: the element holds `size` writable bytes (contract of `new`), `size` was
        // checked against T.
        unsafe { copy_out(self.element(index), self.size, value) }
    }
}
