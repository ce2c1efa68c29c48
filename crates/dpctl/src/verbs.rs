//! The flow-checking verbs: one case line in, one output line out.
//!
//! Each function appends its output line (without newline) to `out` and
//! returns whether the line is to be printed. The pipelines go through the
//! netlink encoding, as OVS's do, so the verbs exercise both codecs.

use odp::convert::{self, KeyParms};
use odp::nl::Mode;
use odp::text::filter::Filter;
use odp::Fitness;

/// Size above which `parse-keys` reports a re-encoded key as too long, as
/// OVS's `test-odp` does.
const MAX_PRINTED_KEY_LEN: usize = 640;

/// `parse-keys`: text → key attributes → netlink → flow → canonical key.
pub fn parse_keys(line: &str, out: &mut String) -> bool {
    let (key, _mask) = match odp::text::key::parse_match(line) {
        Ok(km) => km,
        Err(e) => {
            out.push_str(&format!("odp_flow_from_string: error ({e})"));
            return true;
        }
    };
    let mut w = nl::Writer::new();
    odp::nl::key::emit_keys(&key, &mut w);
    let key = match odp::nl::key::decode_keys(w.as_bytes(), Mode::Tolerant) {
        Ok((key, _)) => key,
        Err(e) => {
            out.push_str(&format!("odp_flow_key_to_flow: error ({e})"));
            return true;
        }
    };
    let (flow, fitness) = match convert::key_to_flow(&key) {
        Ok(ff) => ff,
        Err(e) => {
            out.push_str(&format!("odp_flow_key_to_flow: error ({e})"));
            return true;
        }
    };
    match fitness {
        Fitness::TooLittle | Fitness::TooMuch => {
            out.push_str(fitness.ovs_name());
            out.push_str(": ");
        }
        Fitness::Perfect | Fitness::Error => {}
    }
    let canonical = convert::flow_to_key(&flow, &KeyParms::test_odp());
    odp::text::key::format_key(&canonical, out);
    let mut w = nl::Writer::new();
    odp::nl::key::emit_keys(&canonical, &mut w);
    if w.len() > MAX_PRINTED_KEY_LEN {
        out.push_str(&format!("\ntoo long: {} > {MAX_PRINTED_KEY_LEN}", w.len()));
    }
    true
}

/// `parse-wc-keys`: text → key and mask → netlink → text.
pub fn parse_wc_keys(line: &str, out: &mut String) -> bool {
    match wc_key_roundtrip(line) {
        Ok((key, mask)) => odp::text::key::format_match(&key, Some(&mask), false, out),
        Err(msg) => out.push_str(&msg),
    }
    true
}

/// Parses a masked key and passes it through its netlink encoding.
fn wc_key_roundtrip(
    line: &str,
) -> Result<(Vec<odp::key::KeyAttr>, Vec<odp::key::KeyAttr>), String> {
    let (key, mask) = odp::text::key::parse_match(line)
        .map_err(|e| format!("odp_flow_from_string: error ({e})"))?;
    let mut kw = nl::Writer::new();
    odp::nl::key::emit_keys(&key, &mut kw);
    let mut mw = nl::Writer::new();
    odp::nl::key::emit_keys(&mask, &mut mw);
    let (key, _) = odp::nl::key::decode_keys(kw.as_bytes(), Mode::Tolerant)
        .map_err(|e| format!("odp_flow_from_string: error ({e})"))?;
    let mask = odp::nl::key::decode_mask(mw.as_bytes(), &key, Mode::Tolerant)
        .map_err(|e| format!("odp_flow_from_string: error ({e})"))?;
    Ok((key, mask))
}

/// `parse-actions`: text → actions → netlink → text. Reads exactly what
/// OVS reads ([`odp::text::action::Syntax::Ovs`]).
pub fn parse_actions(line: &str, out: &mut String) -> bool {
    let actions = match odp::text::action::parse_actions_with(line, odp::text::action::Syntax::Ovs)
    {
        Ok(a) => a,
        Err(_) => {
            // OVS prints no detail for this error.
            out.push_str("odp_actions_from_string: error");
            return true;
        }
    };
    let mut w = nl::Writer::new();
    odp::nl::action::emit_actions(&actions, &mut w);
    match odp::nl::action::decode_actions(w.as_bytes(), Mode::Tolerant) {
        Ok(actions) => odp::text::action::format_actions(&actions, out),
        Err(_) => out.push_str("odp_actions_from_string: error"),
    }
    true
}

/// `parse-filter`: as `parse-wc-keys`, but prints only lines matching `filter`.
pub fn parse_filter(filter: &Filter, line: &str, out: &mut String) -> bool {
    match wc_key_roundtrip(line) {
        Ok((key, mask)) => {
            if !filter.matches(&key, &mask) {
                return false;
            }
            odp::text::key::format_match(&key, Some(&mask), false, out);
        }
        Err(msg) => out.push_str(&msg),
    }
    true
}
