//! Flow keys and masks in OVS's text format, both directions.
//!
//! This is the format of `ovs-dpctl dump-flows`, e.g.
//! `in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),eth_type(0x0800),ipv4(src=10.0.0.1/255.255.255.0,...)`,
//! byte-exact with OVS 3.7.1 `lib/odp-util.c` (`ovstest test-odp`; its
//! conformance corpus, from 4.0.90, reads the same):
//!
//! - [`parse_match`] reads a key and builds its mask the way OVS does: a
//!   field given as `value/mask` gets that mask, a field given without mask
//!   is exact, a field left out is wildcarded; every key attribute gets a
//!   mask attribute.
//! - [`format_match`] prints a key with its mask (fields with an all-zero
//!   mask are left out, exact ones are printed without mask), and
//!   [`format_key`] prints a key alone, every field shown.
//!
//! ```
//! use odp::text::key::{format_match, parse_match};
//! let text = "in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),eth_type(0x1234/0xfff0)";
//! let (key, mask) = parse_match(text).unwrap();
//! let mut out = String::new();
//! format_match(&key, Some(&mask), false, &mut out);
//! assert_eq!(out, text);
//! ```
//!
//! Parsing never panics and nests `encap(...)` at most 31 deep, as OVS
//! does; errors carry OVS's message (`syntax error at <rest of input>`).

pub(in crate::text) mod flags;
pub(in crate::text) mod format;
pub(in crate::text) mod parse;
pub(in crate::text) mod scan;
mod wire;

use crate::error::ParseError;
use crate::key::KeyAttr;
pub use format::attr_name;
use parse::{is_uuid, parse_step};
use scan::{at, tail};

/// OVS's `MAX_ODP_NESTED`: attribute nesting depth at which parsing fails.
const MAX_NESTED: usize = 32;
/// Characters that may separate attributes.
const DELIMITERS: &[u8] = b", \t\r\n";
/// Largest key OVS's parser accepts, in encoded bytes.
const MAX_KEY_BYTES: usize = 65535;
/// Largest payload of one netlink attribute.
const MAX_NLA_PAYLOAD: usize = 65535 - 4;

/// Parses a flow key with its mask (OVS's `odp_flow_from_string`).
///
/// Returns the key attributes and the mask attributes, one mask attribute
/// for each key attribute. A leading `ufid:<uuid>` is skipped.
///
/// # Errors
/// `syntax error at <text>` where `<text>` is the input from the attribute
/// that could not be parsed on.
pub fn parse_match(s: &str) -> Result<(Vec<KeyAttr>, Vec<KeyAttr>), ParseError> {
    let s = s.split('\0').next().unwrap_or("");
    let b = s.as_bytes();
    let (mut key, mut mask) = (Vec::new(), Vec::new());
    let mut size = 0usize;
    let mut i = 0usize;
    loop {
        while i < b.len() && DELIMITERS.contains(&b[i]) {
            i += 1;
        }
        if i >= b.len() {
            return Ok((key, mask));
        }
        let error = |i: usize| {
            ParseError::new(format!(
                "syntax error at {}",
                String::from_utf8_lossy(&b[i..])
            ))
        };
        if b[i..].starts_with(b"ufid:") {
            if !is_uuid(tail(b, i + 5)) {
                return Err(error(i));
            }
            i += 5 + 36;
            if at(b, i) == b' ' {
                i += 1;
            }
        }
        let (attrs, n) = parse_step(&b[i..], 1).ok_or_else(|| error(i))?;
        for (k, m) in attrs {
            size += wire::encoded_size(&k);
            if size > MAX_KEY_BYTES {
                return Err(error(i));
            }
            key.push(k);
            mask.push(m);
        }
        i += n;
    }
}

/// Parses one attribute (`name(...)`) at the start of `s`: its key and
/// mask attributes and the number of bytes read.
///
/// # Errors
/// `syntax error at <s>` if `s` does not start with a valid attribute.
///
/// `nsh(...)encap(...)`, which OVS's parser reads as two attributes (see
/// [`parse_match`]), is an error here.
pub fn parse_attr(s: &str) -> Result<(KeyAttr, KeyAttr, usize), ParseError> {
    let t = s.split('\0').next().unwrap_or("");
    match parse_step(t.as_bytes(), 1) {
        Some((mut attrs, n)) if attrs.len() == 1 => {
            let (k, m) = attrs.remove(0);
            Ok((k, m, n))
        }
        _ => Err(ParseError::new(format!("syntax error at {s}"))),
    }
}

/// Formats a key with an optional mask (OVS's `odp_flow_format`).
///
/// `verbose` prints wildcarded fields too (`ovs-dpctl -m`). A mask of
/// `None` or `Some(&[])` means every field is exact.
pub fn format_match(key: &[KeyAttr], mask: Option<&[KeyAttr]>, verbose: bool, out: &mut String) {
    format::format_list(key, mask, verbose, out);
}

/// Formats a key alone, every field shown (OVS's `odp_flow_key_format`).
pub fn format_key(key: &[KeyAttr], out: &mut String) {
    format::format_list(key, None, true, out);
}

/// Formats one attribute with an optional mask attribute of the same type.
pub fn format_attr(key: &KeyAttr, mask: Option<&KeyAttr>, verbose: bool, out: &mut String) {
    format::format_attr_checked(key, mask, verbose, out);
}

#[cfg(test)]
mod tests;
