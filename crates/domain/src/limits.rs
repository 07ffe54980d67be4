//! Limits of log record fields, in characters (JSON Schema's `maxLength` and PostgreSQL's
//! `length()` count the same way). They keep every value inside what the database and its
//! indexes accept, so a record is either stored or rejected with its field named. Every door
//! checks them before it answers — the orchestrator's ingest and bus consumer, and the
//! listener's webhooks, NDJSON ingest and Elasticsearch tailing — so a 2xx means the record
//! will be stored; the JSON Schemas state the same limits.

pub const SOURCE_ID: usize = 256;
pub const MESSAGE: usize = 65_536;
/// Bytes of serialized JSON.
pub const DETAILS: usize = 65_536;
pub const JOB_NAME: usize = 512;
pub const HTTP_METHOD: usize = 16;
pub const PATH: usize = 2048;
pub const SERVICE: usize = 256;

/// A message cut to [`MESSAGE`] characters by a door that keeps long lines rather than
/// refusing them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clipped {
    /// The beginning of the message, then the marker `… [truncated: N characters]`, at most
    /// [`MESSAGE`] characters in all.
    pub text: String,
    /// How many characters the message had.
    pub original_chars: usize,
}

/// `message` cut to fit [`MESSAGE`] with a marker saying how long it was; `None` when it
/// fits as it is.
pub fn clip_message(message: &str) -> Option<Clipped> {
    let n = message.chars().count();
    if n <= MESSAGE {
        return None;
    }
    let marker = format!("… [truncated: {n} characters]");
    let keep = MESSAGE - marker.chars().count();
    let mut text: String = message.chars().take(keep).collect();
    text.push_str(&marker);
    Some(Clipped {
        text,
        original_chars: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_to_the_limit_with_a_marker() {
        assert_eq!(clip_message(&"a".repeat(MESSAGE)), None);
        let long = "é".repeat(MESSAGE + 10);
        let c = clip_message(&long).unwrap();
        assert_eq!(c.text.chars().count(), MESSAGE);
        assert_eq!(c.original_chars, MESSAGE + 10);
        assert!(
            c.text
                .ends_with(&format!("… [truncated: {} characters]", MESSAGE + 10)),
            "{}",
            &c.text[c.text.len() - 60..]
        );
        assert!(c.text.starts_with("éé"));
    }
}
