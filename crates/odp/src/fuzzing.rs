//! Entry points shared by the fuzz targets (`fuzz/`) and the seed-corpus
//! tests that run them under plain `cargo test`.
//!
//! Each function takes arbitrary bytes, must never panic on its own account,
//! and asserts (panics) only when a codec property is violated:
//!
//! - [`nl_key`]: a key list that decodes strictly with a perfect fit
//!   re-encodes to bytes that decode to the same model, and re-encoding is a
//!   fixed point. (Byte identity with the input is not required: padding
//!   bytes and flag bits are not part of the model. The conformance tests
//!   check byte identity on OVS's own encodings.)
//! - [`nl_actions`]: the same for action lists.
//! - [`text_key`]: text that parses formats to text that parses to the same
//!   key and mask, and formatting is then stable, except where OVS's own
//!   parser does not read what its printer writes (`nsh(...)`, which it
//!   reads only right before `encap(`, and `erspan(ver=0)`): such text must
//!   then fail to parse.
//! - [`text_actions`]: the same for action lists.
//! - [`flow_extract`]: extraction never panics and keeps the metadata.

use crate::nl::Mode;
use crate::Fitness;

/// Fuzz target: netlink flow key decoding.
pub fn nl_key(data: &[u8]) {
    let Ok((attrs, fitness)) = crate::nl::key::decode_keys(data, Mode::Strict) else {
        return;
    };
    if fitness != Fitness::Perfect {
        return;
    }
    let mut w = nl::Writer::new();
    crate::nl::key::emit_keys(&attrs, &mut w);
    if w.overflowed() {
        return;
    }
    let (again, fit2) = crate::nl::key::decode_keys(w.as_bytes(), Mode::Strict)
        .expect("re-encoded key must decode");
    assert_eq!(fit2, Fitness::Perfect);
    assert_eq!(again, attrs, "decode(encode(key)) differs");
    let mut w2 = nl::Writer::new();
    crate::nl::key::emit_keys(&again, &mut w2);
    assert_eq!(w.as_bytes(), w2.as_bytes(), "encoding is not a fixed point");

    // The same bytes as a mask of the decoded key.
    if let Ok(mask) = crate::nl::key::decode_mask(data, &attrs, Mode::Strict) {
        let mut mw = nl::Writer::new();
        crate::nl::key::emit_keys(&mask, &mut mw);
        let mask2 = crate::nl::key::decode_mask(mw.as_bytes(), &attrs, Mode::Strict)
            .expect("re-encoded mask must decode");
        assert_eq!(mask2, mask);
    }
}

/// Fuzz target: netlink action list decoding.
pub fn nl_actions(data: &[u8]) {
    let Ok(actions) = crate::nl::action::decode_actions(data, Mode::Strict) else {
        return;
    };
    let mut w = nl::Writer::new();
    crate::nl::action::emit_actions(&actions, &mut w);
    if w.overflowed() {
        return;
    }
    let again = crate::nl::action::decode_actions(w.as_bytes(), Mode::Strict)
        .expect("re-encoded actions must decode");
    assert_eq!(again, actions, "decode(encode(actions)) differs");
    let mut w2 = nl::Writer::new();
    crate::nl::action::emit_actions(&again, &mut w2);
    assert_eq!(w.as_bytes(), w2.as_bytes(), "encoding is not a fixed point");
}

/// Fuzz target: flow key text parsing.
pub fn text_key(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((key, mask)) = crate::text::key::parse_match(s) else {
        return;
    };
    if key.is_empty() {
        // Printed as `<empty>`, which is not a key: OVS's format too.
        return;
    }
    let mut text = String::new();
    crate::text::key::format_match(&key, Some(&mask), true, &mut text);
    let (key2, mask2) = match crate::text::key::parse_match(&text) {
        Ok(km) => km,
        // OVS prints these, and does not read them back.
        Err(_) if text.contains("nsh(") || text.contains("erspan(ver=0") => return,
        Err(e) => panic!("formatted key {text:?} does not parse: {e}"),
    };
    let mut text2 = String::new();
    crate::text::key::format_match(&key2, Some(&mask2), true, &mut text2);
    assert_eq!(text, text2, "format(parse(format(x))) is not stable");
}

/// Fuzz target: action text parsing.
pub fn text_actions(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(actions) = crate::text::action::parse_actions(s) else {
        return;
    };
    let mut text = String::new();
    crate::text::action::format_actions(&actions, &mut text);
    let again = crate::text::action::parse_actions(&text)
        .unwrap_or_else(|e| panic!("formatted actions {text:?} do not parse: {e}"));
    let mut text2 = String::new();
    crate::text::action::format_actions(&again, &mut text2);
    assert_eq!(text, text2, "format(parse(format(x))) is not stable");
}

/// Fuzz target: packet → flow extraction.
pub fn flow_extract(data: &[u8]) {
    let md = crate::flow::Flow {
        in_port: 1,
        ..Default::default()
    };
    let flow = crate::extract::extract(data, &md);
    assert_eq!(flow.in_port, 1, "metadata not carried over");
}
