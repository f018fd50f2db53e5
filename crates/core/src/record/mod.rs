//! Reading fields out of one record without building a tree, and [`Record`], the one input type of
//! [`crate::Decider::decide`].

pub mod access;
pub mod json;
pub mod level;
pub mod parts;
pub mod view;

use parts::Parts;

/// One record, in the shape a front-end has it. Every shape is decided, counted, trimmed and summarized
/// the same way: the shapes differ only in what the rules read and what is sent.
#[derive(Clone, Copy, Debug)]
pub enum Record<'r> {
    /// One JSON object or one text line, without its newline: what the rules read and what is sent.
    Line(&'r [u8]),
    /// A container log line given as its parts: decided, counted and sent as the JSON text
    /// [`Parts::write_json`] writes for it, without writing that text unless it is needed.
    Parts(&'r Parts<'r>),
    /// A log event whose message is sent alone (a CloudWatch Logs event): the rules read `record` (the
    /// message as a record, with what the event says about where it came from beside it); what is
    /// counted, trimmed and sent is `message`.
    Event {
        /// What the rules read.
        record: &'r [u8],
        /// What is counted and sent.
        message: &'r [u8],
    },
}

impl<'r> From<&'r [u8]> for Record<'r> {
    fn from(line: &'r [u8]) -> Record<'r> {
        Record::Line(line)
    }
}

impl<'r> From<&&'r [u8]> for Record<'r> {
    fn from(line: &&'r [u8]) -> Record<'r> {
        Record::Line(line)
    }
}

impl<'r, const N: usize> From<&'r [u8; N]> for Record<'r> {
    fn from(line: &'r [u8; N]) -> Record<'r> {
        Record::Line(line)
    }
}

impl<'r> From<&'r Vec<u8>> for Record<'r> {
    fn from(line: &'r Vec<u8>) -> Record<'r> {
        Record::Line(line)
    }
}

impl<'r> From<&'r str> for Record<'r> {
    fn from(line: &'r str) -> Record<'r> {
        Record::Line(line.as_bytes())
    }
}

impl<'r> From<&'r Parts<'r>> for Record<'r> {
    fn from(p: &'r Parts<'r>) -> Record<'r> {
        Record::Parts(p)
    }
}

impl Record<'_> {
    /// Appends the record as it came: a line or an event's message as it is, parts as their JSON text.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match *self {
            Record::Line(l) => out.extend_from_slice(l),
            Record::Parts(p) => p.write_json(out),
            Record::Event { message, .. } => out.extend_from_slice(message),
        }
    }
}
