//! A workflow engine's history (`fixtures/history/`): a oneof chosen by a domain enum, maps of
//! messages, a recursive message, values computed from the whole event, named mappings.

/// The prost types of `fixtures/history/proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/history_protos.rs"));
}

/// The code generated from `fixtures/history/mappings.yaml`.
pub mod integration {
    include!(concat!(env!("OUT_DIR"), "/history_integration.rs"));
}

/// The domain side of the history.
pub mod domain {
    use std::collections::{BTreeMap, HashMap};

    /// Encoded data with its encoding.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Payload {
        /// The bytes.
        pub data: Vec<u8>,
        /// How they are encoded (`json/plain`, ...); empty when unknown.
        pub encoding: String,
    }

    /// The proto metadata of a payload: `encoding` when known (a value computed from the
    /// whole domain value, for `with:` without `from:`).
    pub fn payload_metadata(payload: &Payload) -> HashMap<String, Vec<u8>> {
        let mut metadata = HashMap::new();
        if !payload.encoding.is_empty() {
            metadata.insert("encoding".to_owned(), payload.encoding.clone().into_bytes());
        }
        metadata
    }

    /// Why something failed, wrapping its cause to any depth.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Failure {
        /// What happened.
        pub message: String,
        /// Where, when known.
        pub source: Option<String>,
        /// The failure this one wraps.
        pub cause: Option<Box<Failure>>,
        /// Details by name.
        pub details: BTreeMap<String, Payload>,
    }

    /// The kind of a history event.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Kind {
        /// A workflow started.
        Started,
        /// An activity failed.
        Failed,
        /// A timer fired.
        Timer,
        /// The workflow was canceled.
        Canceled,
        /// A signal arrived.
        Signaled,
        /// Not known to this version.
        Unknown,
    }

    /// A workflow's start.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Started {
        /// The workflow's id.
        pub workflow_id: String,
        /// The workflow's type (proto field `type`).
        pub workflow_type: String,
        /// Named inputs.
        pub input: BTreeMap<String, Payload>,
        /// Positional arguments.
        pub args: Vec<Payload>,
    }

    /// An activity's failure.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ActivityFailure {
        /// The activity's id.
        pub activity_id: String,
        /// Why it failed.
        pub failure: Failure,
        /// The attempt that failed (range-checked into `int32`).
        pub attempt: u64,
    }

    /// A signal.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Signal {
        /// The signal's name.
        pub name: String,
        /// Its input.
        pub input: Vec<Payload>,
    }

    /// What happened, with the data of each kind: onto the proto oneof `attributes`.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Attributes {
        /// Onto `workflow_started`.
        Started(Started),
        /// Onto `activity_failed`.
        Failed(ActivityFailure),
        /// Onto `timer_fired` (the timer's id).
        Timer(String),
        /// Onto `workflow_canceled` (`google.protobuf.Empty`).
        Canceled,
        /// Onto `signaled`.
        Signaled(Signal),
        /// Leaves the oneof unset.
        Unknown,
    }

    /// Who started it: onto the proto oneof `origin`.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Origin {
        /// A user, by name.
        User(String),
        /// A schedule, by id (range-checked into `int64`).
        Schedule(u64),
        /// The system: the oneof stays unset.
        System,
    }

    /// A memo entry.
    #[derive(Debug, Clone, PartialEq)]
    pub struct MemoEntry {
        /// Its bytes.
        pub bytes: Vec<u8>,
    }

    /// A history event was recorded.
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct HistoryRecorded {
        /// The event's number in the history.
        pub event_id: i64,
        /// Its kind.
        pub kind: Kind,
        /// What happened; `None` when not known.
        pub attributes: Option<Attributes>,
        /// Memo entries by key.
        pub memo: HashMap<String, MemoEntry>,
        /// The workflow's namespace.
        pub namespace: String,
        /// The workflow's id.
        pub workflow_id: String,
        /// Who started it.
        pub origin: Origin,
    }

    /// `<namespace>/<workflow id>#<event id>`: a display name computed from the whole event.
    pub fn display_name(event: &HistoryRecorded) -> String {
        format!(
            "{}/{}#{}",
            event.namespace, event.workflow_id, event.event_id
        )
    }

    /// A workflow's history was archived.
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct HistoryArchived {
        /// The last event's number.
        pub event_id: i64,
        /// Events archived per shard.
        pub shards: Vec<u32>,
    }

    /// The number of events archived, over all shards (from the whole event).
    pub fn total_events(event: &HistoryArchived) -> u64 {
        event.shards.iter().map(|n| u64::from(*n)).sum()
    }
}
