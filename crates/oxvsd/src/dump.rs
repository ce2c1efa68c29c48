//! Dumps: answers of many messages, produced as the client reads them.

/// Most bytes of one dump datagram (a single larger message goes alone).
/// A netlink dump fills datagrams up to the reader's buffer, at most
/// 32 KiB; this stays below what any reader of the kernel's dumps takes.
pub const DUMP_DATAGRAM: usize = 16 * 1024;

/// A dump in progress.
pub trait Dump: Send {
    /// The next datagram: one or more whole messages, and whether more
    /// follow. The last datagram ends with `NLMSG_DONE`.
    fn next_datagram(&mut self) -> (Vec<u8>, bool);
}

/// A dump of the messages an iterator builds, ended by `NLMSG_DONE` for
/// request `seq` of port `pid`.
pub struct MsgDump<I> {
    msgs: I,
    seq: u32,
    pid: u32,
    peeked: Option<Vec<u8>>,
}

impl<I: Iterator<Item = Vec<u8>> + Send> MsgDump<I> {
    /// A dump of `msgs` (each a whole message, 4-byte aligned).
    pub fn new(msgs: I, seq: u32, pid: u32) -> MsgDump<I> {
        MsgDump {
            msgs,
            seq,
            pid,
            peeked: None,
        }
    }
}

impl<I: Iterator<Item = Vec<u8>> + Send> Dump for MsgDump<I> {
    fn next_datagram(&mut self) -> (Vec<u8>, bool) {
        let mut d = Vec::new();
        loop {
            let Some(m) = self.peeked.take().or_else(|| self.msgs.next()) else {
                d.extend_from_slice(&nl::msg::done(self.seq, self.pid, 0));
                return (d, false);
            };
            if !d.is_empty() && d.len() + m.len() > DUMP_DATAGRAM {
                self.peeked = Some(m);
                return (d, true);
            }
            d.extend_from_slice(&m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_messages_and_ends_with_done() {
        let msg = |n: usize| {
            let mut b = nl::msg::MsgBuilder::new(0x21, nl::msg::NLM_F_MULTI);
            b.attrs().put(1, &vec![0; n]);
            b.finish().unwrap()
        };
        let mut d = MsgDump::new((0..10).map(|_| msg(5000)), 7, 3);
        let mut datagrams = Vec::new();
        loop {
            let (b, more) = d.next_datagram();
            datagrams.push(b);
            if !more {
                break;
            }
        }
        let counts: Vec<usize> = datagrams
            .iter()
            .map(|b| nl::msg::Messages::new(b).count())
            .collect();
        assert_eq!(counts.iter().sum::<usize>(), 11);
        assert!(datagrams.iter().all(|b| b.len() <= DUMP_DATAGRAM));
        let last = nl::msg::Messages::new(datagrams.last().unwrap())
            .last()
            .unwrap()
            .unwrap();
        assert_eq!((last.header.ty, last.header.seq), (nl::msg::NLMSG_DONE, 7));
    }
}
