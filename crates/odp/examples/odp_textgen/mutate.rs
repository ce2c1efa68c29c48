//! Malformed variants of well-formed lines: the parsers must reject them
//! (or accept them) in the same way, with the same message.

use crate::rng::Rng;
use crate::values;

/// Characters that matter to the grammar.
const PUNCT: &[u8] = b"(),=/:.{}[]|+- x0123456789abcdef";

/// One random malformation of `s`.
pub fn mutate(r: &Rng, s: &str) -> String {
    if s.is_empty() {
        return s.to_string();
    }
    let b = s.as_bytes();
    let at = |r: &Rng| r.below(b.len() + 1);
    let mut out: Vec<u8> = b.to_vec();
    match r.below(9) {
        // Cut short.
        0 => out.truncate(at(r)),
        // A character dropped.
        1 => {
            let i = r.below(b.len());
            out.remove(i);
        }
        // A character inserted.
        2 => {
            let c = PUNCT[r.below(PUNCT.len())];
            out.insert(at(r), c);
        }
        // A character replaced.
        3 => {
            let i = r.below(b.len());
            out[i] = PUNCT[r.below(PUNCT.len())];
        }
        // A piece repeated.
        4 => {
            let i = r.below(b.len());
            let j = (i + 1 + r.below(20)).min(b.len());
            let piece = b[i..j].to_vec();
            let k = at(r);
            out.splice(k..k, piece);
        }
        // A number replaced by another of any size.
        5 => return replace_number(r, s),
        // Spaces around separators.
        6 => {
            return s.replacen(',', if r.chance(50) { ", " } else { " , " }, 1 + r.below(3));
        }
        // A closing parenthesis dropped or added.
        7 => {
            return if r.chance(50) {
                s.replacen(')', "", 1)
            } else {
                format!("{s})")
            }
        }
        // Upper case.
        _ => return s.to_uppercase(),
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `s` with one of its numbers replaced by a random one.
pub fn replace_number(r: &Rng, s: &str) -> String {
    let b = s.as_bytes();
    let starts: Vec<usize> = (0..b.len())
        .filter(|&i| b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()))
        .collect();
    if starts.is_empty() {
        return s.to_string();
    }
    let i = starts[r.below(starts.len())];
    let mut j = i;
    if b[i..].starts_with(b"0x") {
        j += 2;
    }
    while j < b.len() && b[j].is_ascii_hexdigit() {
        j += 1;
    }
    let bits = r.pick(&[8u32, 16, 32, 64, 12, 20, 1, 3]);
    format!("{}{}{}", &s[..i], values::int(r, bits), &s[j..])
}
