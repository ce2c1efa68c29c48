//! [`Errno`]: the error of every dpif operation, a positive errno value.

use std::fmt;
use std::num::NonZeroI32;

/// A positive errno value (Linux numbering), the error of every dpif call.
///
/// `Display` gives the C library's message (`strerror`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(NonZeroI32);

macro_rules! errnos {
    ($($name:ident, $doc:expr;)*) => {
        impl Errno {
            $(
                #[doc = $doc]
                pub const $name: Errno = Errno(match NonZeroI32::new(nl::errno::$name) {
                    Some(v) => v,
                    None => panic!("errno 0"),
                });
            )*
        }
    };
}

// The numbers come from the workspace's one table, `nl::errno`.
errnos! {
    EPERM, "Operation not permitted (missing privileges).";
    ENOENT, "No such flow, datapath or file.";
    EIO, "Input/output error (an OS error without an errno).";
    E2BIG, "Argument list too long.";
    EAGAIN, "Nothing available now; try again.";
    ENOMEM, "Out of memory.";
    EACCES, "Permission denied.";
    EBUSY, "Resource busy (e.g. a port number in use).";
    EEXIST, "Already exists (a flow, datapath or port).";
    ENODEV, "No such port or device.";
    EINVAL, "Invalid argument (malformed key, mask or actions...).";
    EMFILE, "Too many open files or connections.";
    EFBIG, "Too large (e.g. too many ports or flows).";
    ENOSPC, "No space left (a table is full).";
    EPIPE, "Peer went away.";
    ERANGE, "Out of range.";
    EPROTO, "Protocol error (a provider broke its contract).";
    EOVERFLOW, "Value too large for its type.";
    EMSGSIZE, "Message too long.";
    EOPNOTSUPP, "Operation not supported by this provider.";
    EAFNOSUPPORT, "Unknown datapath type.";
    EADDRINUSE, "Address (e.g. a netlink port id) in use.";
    ENOBUFS, "Buffers overflowed (e.g. port change notifications lost).";
    ETIMEDOUT, "Timed out.";
}

impl Errno {
    /// The errno `v`, if positive.
    pub fn new(v: i32) -> Option<Errno> {
        if v > 0 {
            NonZeroI32::new(v).map(Errno)
        } else {
            None
        }
    }

    /// The numeric value.
    pub fn get(self) -> i32 {
        self.0.get()
    }

    /// The symbolic name (`"ENOENT"`), if this is a well-known errno.
    pub fn name(self) -> Option<&'static str> {
        nl::errno::name(self.get())
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "Errno({})", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = std::io::Error::from_raw_os_error(self.get());
        // io::Error's Display appends " (os error N)"; keep strerror only.
        let s = e.to_string();
        match s.rfind(" (os error") {
            Some(i) => f.write_str(&s[..i]),
            None => f.write_str(&s),
        }
    }
}

impl std::error::Error for Errno {}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        e.raw_os_error().and_then(Errno::new).unwrap_or(Errno::EIO)
    }
}

impl From<odp::DecodeError> for Errno {
    fn from(_: odp::DecodeError) -> Errno {
        Errno::EINVAL
    }
}

impl From<odp::ParseError> for Errno {
    fn from(_: odp::ParseError) -> Errno {
        Errno::EINVAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_strerror() {
        assert_eq!(Errno::ENOENT.to_string(), "No such file or directory");
        assert_eq!(format!("{:?}", Errno::EEXIST), "EEXIST");
    }

    #[test]
    fn io_errors_keep_their_errno() {
        let e = std::io::Error::from_raw_os_error(19);
        assert_eq!(Errno::from(e), Errno::ENODEV);
        let e = std::io::Error::other("no errno");
        assert_eq!(Errno::from(e), Errno::EIO);
    }

    #[test]
    fn only_positive_values_are_errnos() {
        assert_eq!(Errno::new(0), None);
        assert_eq!(Errno::new(-2), None);
        assert_eq!(Errno::new(2), Some(Errno::ENOENT));
    }
}
