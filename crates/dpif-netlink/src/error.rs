//! [`Error`]: a positive errno with the kernel's extended-ack message, if any.

use std::fmt;

/// A failed netlink request: a positive errno value (Linux numbering) and,
/// when the kernel sent one, its extended-ack message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    errno: i32,
    msg: Option<String>,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// errno values (Linux numbering): the workspace's one table.
pub use nl::errno;

impl Error {
    /// An error with errno `errno` (made positive; 0 becomes `EIO`).
    pub fn new(errno: i32) -> Error {
        let errno = errno
            .checked_abs()
            .filter(|&e| e != 0)
            .unwrap_or(errno::EIO);
        Error { errno, msg: None }
    }

    /// An error with errno `errno` and a message.
    pub fn with_msg(errno: i32, msg: impl Into<String>) -> Error {
        Error {
            msg: Some(msg.into()),
            ..Error::new(errno)
        }
    }

    /// A reply the kernel should not have sent (`EPROTO`).
    pub(crate) fn proto(msg: impl Into<String>) -> Error {
        Error::with_msg(errno::EPROTO, msg)
    }

    /// The openvswitch module is missing: its generic netlink families do
    /// not exist (`EAFNOSUPPORT`, the errno dpif gives an unusable type).
    pub fn module_not_loaded(family: &str) -> Error {
        Error::with_msg(
            errno::EAFNOSUPPORT,
            format!(
                "openvswitch kernel module not loaded (generic netlink family '{family}' does not exist)"
            ),
        )
    }

    /// The positive errno value.
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The kernel's extended-ack message, or ours.
    pub fn msg(&self) -> Option<&str> {
        self.msg.as_deref()
    }

    /// Whether this is the "module not loaded" error.
    pub fn is_module_not_loaded(&self) -> bool {
        self.errno == errno::EAFNOSUPPORT
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(e.raw_os_error().unwrap_or(errno::EIO))
    }
}

impl From<odp::DecodeError> for Error {
    fn from(e: odp::DecodeError) -> Error {
        Error::with_msg(
            errno::EPROTO,
            format!("kernel reply does not decode: {e:?}"),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let os = std::io::Error::from_raw_os_error(self.errno).to_string();
        let os = match os.rfind(" (os error") {
            Some(i) => &os[..i],
            None => &os,
        };
        match &self.msg {
            Some(m) => write!(f, "{m}: {os}"),
            None => f.write_str(os),
        }
    }
}

impl std::error::Error for Error {}
