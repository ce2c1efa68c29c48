//! What a datagram from the daemon is: data for the program, or one of the
//! two control datagrams of the contract the program never sees as such.

use nl::daemon;

/// Bytes of a datagram's head needed to classify it.
pub const CLASSIFY_LEN: usize = daemon::BARRIER_ANSWER_LEN;

/// A received datagram, by what the library does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Netlink messages for the program.
    Data,
    /// The overrun notice: reported as `ENOBUFS`.
    Overrun,
    /// A barrier's answer: consumed silently.
    BarrierAnswer,
}

/// Classifies a datagram from its first bytes `head` (at most
/// [`CLASSIFY_LEN`] needed) and its length: `full` if known, else `received`
/// bytes were read of a longer datagram.
pub fn classify(head: &[u8], received: usize, full: Option<usize>) -> Class {
    if full == Some(daemon::OVERRUN.len()) && daemon::is_overrun(head) {
        return Class::Overrun;
    }
    let len = match full {
        Some(n) => n,
        // Truncated: the first message's own length is the best guess of
        // the datagram's, and is what an answer alone in it would have.
        None => head
            .get(..4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .unwrap_or(0)
            .max(received),
    };
    if daemon::is_barrier_answer(head, len) {
        Class::BarrierAnswer
    } else {
        Class::Data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(err: i32, echoed: &[u8; 16]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&36u32.to_ne_bytes());
        a.extend_from_slice(&2u16.to_ne_bytes());
        a.extend_from_slice(&[0; 10]);
        a.extend_from_slice(&err.to_ne_bytes());
        a.extend_from_slice(echoed);
        a
    }

    #[test]
    fn overrun_only_alone() {
        assert_eq!(classify(&daemon::OVERRUN, 16, Some(16)), Class::Overrun);
        // The same header at the start of a longer datagram is data.
        assert_eq!(classify(&daemon::OVERRUN, 16, Some(32)), Class::Data);
        assert_eq!(classify(&daemon::OVERRUN, 16, None), Class::Data);
    }

    #[test]
    fn barrier_answers_ack_or_error() {
        let b = daemon::barrier(3, 4);
        assert_eq!(classify(&answer(0, &b), 36, Some(36)), Class::BarrierAnswer);
        assert_eq!(
            classify(&answer(-2, &b), 36, Some(36)),
            Class::BarrierAnswer
        );
        assert_eq!(classify(&answer(0, &b), 36, None), Class::BarrierAnswer);
        assert_eq!(classify(&answer(0, &b), 36, Some(52)), Class::Data);
        // The ack of a program's own request.
        let mut req = b;
        req[4] = 0x10;
        assert_eq!(classify(&answer(0, &req), 36, Some(36)), Class::Data);
    }

    #[test]
    fn short_and_empty_heads_are_data() {
        assert_eq!(classify(&[], 0, Some(0)), Class::Data);
        assert_eq!(classify(&[1, 2, 3], 3, Some(3)), Class::Data);
        assert_eq!(classify(&[0xff; 36], 36, None), Class::Data);
    }
}
