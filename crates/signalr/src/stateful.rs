//! Stateful reconnect bookkeeping (Ack / Sequence), shared by the client session and the
//! simulator's service side.
//!
//! Each side numbers the sequenced messages it sends (Invocation, StreamItem, Completion,
//! StreamInvocation, CancelInvocation) from 1, keeps them until the peer acknowledges them,
//! and after a transport drop sends `Sequence{first unacknowledged}` followed by everything
//! unacknowledged. The receiver counts what it gets, drops ids it already processed, and
//! acknowledges the highest one it processed.

use std::collections::VecDeque;

use crate::protocol::Frame;

/// Default replay buffer (bytes), as in the official clients.
pub const DEFAULT_BUFFER_BYTES: usize = 100_000;

/// Something whose size counts against the replay buffer.
pub trait ByteLen {
    /// Size in bytes, as sent on the wire.
    fn byte_len(&self) -> usize;
}

impl ByteLen for Frame {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// Sent messages kept until acknowledged.
#[derive(Debug)]
pub struct ReplayBuffer<F = Frame> {
    next_id: u64,
    frames: VecDeque<(u64, F)>,
    bytes: usize,
    limit: usize,
}

impl<F: ByteLen> ReplayBuffer<F> {
    /// An empty buffer that counts as full once it holds `limit` bytes; ids start at 1.
    pub fn new(limit: usize) -> Self {
        Self { next_id: 1, frames: VecDeque::new(), bytes: 0, limit }
    }

    /// Whether the buffer is at or over its byte limit (senders should wait for an Ack).
    pub fn is_full(&self) -> bool {
        self.bytes >= self.limit
    }

    /// Records a sent sequenced message; returns its sequence id.
    pub fn push(&mut self, frame: F) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.bytes += frame.byte_len();
        self.frames.push_back((id, frame));
        id
    }

    /// The peer processed everything up to `id`.
    pub fn ack(&mut self, id: u64) {
        while let Some((first, frame)) = self.frames.front() {
            if *first > id {
                break;
            }
            self.bytes -= frame.byte_len();
            self.frames.pop_front();
        }
    }

    /// The id to announce in `Sequence` after a reconnect: the first unacknowledged message,
    /// or the next id if everything was acknowledged.
    pub fn first_unacked(&self) -> u64 {
        self.frames.front().map_or(self.next_id, |(id, _)| *id)
    }

    /// Frames to send again after `Sequence`, oldest first.
    pub fn unacked(&self) -> impl Iterator<Item = &F> {
        self.frames.iter().map(|(_, frame)| frame)
    }

    /// Bytes of the frames still unacknowledged.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }
}

/// Counts received sequenced messages and filters duplicates after a replay.
#[derive(Debug, Default)]
pub struct ReceiveCounter {
    /// Id of the last sequenced message received.
    received: u64,
    /// Highest id handed to the application.
    processed: u64,
    /// An Ack is owed for messages processed since the last one.
    ack_owed: bool,
    /// Messages processed since the last Ack.
    unacked: u32,
}

impl ReceiveCounter {
    /// A sequenced message arrived: `true` to process it, `false` for a duplicate.
    pub fn on_message(&mut self) -> bool {
        self.received += 1;
        if self.received <= self.processed {
            return false;
        }
        self.processed = self.received;
        self.ack_owed = true;
        self.unacked = self.unacked.saturating_add(1);
        true
    }

    /// Messages processed since the last Ack was taken.
    pub fn unacked(&self) -> u32 {
        self.unacked
    }

    /// The peer's `Sequence{id}`: the next message it sends has this id. Returns false if
    /// the id skips ahead of what was received (messages were lost; the connection must end).
    pub fn on_sequence(&mut self, id: u64) -> bool {
        if id > self.processed + 1 {
            return false;
        }
        self.received = id.saturating_sub(1);
        true
    }

    /// The Ack to send now, if one is owed.
    pub fn take_ack(&mut self) -> Option<u64> {
        self.unacked = 0;
        std::mem::take(&mut self.ack_owed).then_some(self.processed)
    }

    /// Highest sequence id handed on so far (what an Ack would acknowledge).
    pub fn processed(&self) -> u64 {
        self.processed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Frame {
        Frame::Text(s.to_string())
    }

    #[test]
    fn replay_buffer_keeps_until_acked() {
        let mut buffer = ReplayBuffer::new(10);
        assert_eq!(buffer.push(text("aaaa")), 1);
        assert_eq!(buffer.push(text("bbbb")), 2);
        assert!(!buffer.is_full());
        assert_eq!(buffer.push(text("cc")), 3);
        assert!(buffer.is_full());
        buffer.ack(1);
        assert_eq!(buffer.first_unacked(), 2);
        assert_eq!(buffer.unacked().cloned().collect::<Vec<_>>(), [text("bbbb"), text("cc")]);
        buffer.ack(3);
        assert_eq!(buffer.first_unacked(), 4);
        assert_eq!(buffer.buffered_bytes(), 0);
    }

    #[test]
    fn receiver_drops_replayed_duplicates() {
        let mut counter = ReceiveCounter::default();
        assert!(counter.on_message()); // 1
        assert!(counter.on_message()); // 2
        assert!(counter.on_message()); // 3
        assert_eq!(counter.take_ack(), Some(3));
        assert_eq!(counter.take_ack(), None);
        // The peer replays from 2: 2 and 3 are duplicates, 4 is new.
        assert!(counter.on_sequence(2));
        assert!(!counter.on_message());
        assert!(!counter.on_message());
        assert!(counter.on_message());
        assert_eq!(counter.processed(), 4);
        // A sequence that skips ahead means lost messages.
        assert!(!counter.on_sequence(9));
    }
}
