//! Everything a verb prints to stdout goes through [`outln!`] into a
//! buffer that [`flush_stdout`] writes once at the end: a closed pipe
//! (`chainstorm ... | head`) then ends quietly instead of panicking in
//! `println!`, for every verb.

use std::cell::RefCell;

thread_local! {
    pub(crate) static OUT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Appends a line to the process's stdout buffer (see [`flush_stdout`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        crate::output::OUT.with(|b| {
            use std::fmt::Write as _;
            let mut b = b.borrow_mut();
            let _ = writeln!(b, $($arg)*);
        })
    }};
}

/// Writes what the verb printed. A closed pipe is not an error worth a
/// panic: the reader has what it wanted.
pub fn flush_stdout() {
    use std::io::Write as _;
    let text = OUT.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}
