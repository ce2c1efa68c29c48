//! The errno values (Linux numbering) that netlink carries, in one table.
//!
//! Netlink errors travel as negative `int`s in `NLMSG_ERROR`; everywhere
//! else in oxvs an errno is positive. Every crate names errnos through this
//! table (`dpif::Errno`'s constants are built from it).

macro_rules! table {
    ($($name:ident = $v:expr;)*) => {
        $(
            #[doc = concat!("`", stringify!($name), "`.")]
            pub const $name: i32 = $v;
        )*

        /// The symbolic name of errno `e` (`"ENOENT"`), if it is in the table.
        pub fn name(e: i32) -> Option<&'static str> {
            match e {
                $($v => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
}

table! {
    EPERM = 1;
    ENOENT = 2;
    ESRCH = 3;
    EINTR = 4;
    EIO = 5;
    E2BIG = 7;
    EBADF = 9;
    EAGAIN = 11;
    ENOMEM = 12;
    EACCES = 13;
    EFAULT = 14;
    EBUSY = 16;
    EEXIST = 17;
    ENODEV = 19;
    EINVAL = 22;
    EMFILE = 24;
    EFBIG = 27;
    ENOSPC = 28;
    EPIPE = 32;
    ERANGE = 34;
    ENAMETOOLONG = 36;
    ENOSYS = 38;
    ENODATA = 61;
    ENOPROTOOPT = 92;
    EPROTO = 71;
    EOVERFLOW = 75;
    EMSGSIZE = 90;
    EPROTONOSUPPORT = 93;
    EOPNOTSUPP = 95;
    EAFNOSUPPORT = 97;
    EADDRINUSE = 98;
    ECONNRESET = 104;
    ENOBUFS = 105;
    ENOTCONN = 107;
    ETIMEDOUT = 110;
    ECONNREFUSED = 111;
}

/// The errno of an I/O error (`EIO` when it carries none).
pub fn from_io(e: &std::io::Error) -> i32 {
    e.raw_os_error().filter(|&v| v > 0).unwrap_or(EIO)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_match_the_c_library() {
        // The C library's message for each value is the independent check
        // that the numbers are Linux's.
        for (e, text) in [
            (super::ENOENT, "No such file or directory"),
            (super::EADDRINUSE, "Address already in use"),
            (super::ENOBUFS, "No buffer space available"),
            (super::EOPNOTSUPP, "Operation not supported"),
        ] {
            assert!(std::io::Error::from_raw_os_error(e)
                .to_string()
                .starts_with(text));
        }
        assert_eq!(super::name(super::EMSGSIZE), Some("EMSGSIZE"));
        assert_eq!(super::name(4095), None);
    }
}
