//! The dispatcher's routing tables: the handlers registered per name and per payload type,
//! and the iterator over the handlers of one event.

use std::hash::Hasher;
use std::sync::Arc;

use super::EventHandler;

/// A handler with its registration sequence number and, for a handler subscribed by type and
/// name, the domain event name it runs for.
pub(super) struct Registered {
    pub(super) sequence: u64,
    pub(super) only: Only,
    pub(super) handler: Arc<dyn EventHandler>,
}

/// Which events of its type a handler runs for.
#[derive(Clone, Copy)]
pub(super) enum Only {
    /// Every one (subscribed by name, or by type alone).
    Any,
    /// Those with this name.
    Name(&'static str),
    /// Those whose name is the type's declared name at this index ([`TypeEntry::names`]):
    /// the name was compared once, by the check of the declared names, so the handler is
    /// chosen by an integer comparison.
    Declared(usize),
}

impl Only {
    /// `Only::Declared` when `name` is one of `names`, else `Only::Name`.
    pub(super) fn of(name: &'static str, names: Option<&[&'static str]>) -> Self {
        names
            .and_then(|names| names.iter().position(|n| *n == name))
            .map_or(Only::Name(name), Only::Declared)
    }
}

/// What is registered for one payload type.
#[derive(Default)]
pub(super) struct TypeEntry {
    /// The names the mapping table gives the type ([`EventDispatcher::map_type`]); `None`
    /// when the type is not declared as mapped (any name is dispatched).
    pub(super) names: Option<Vec<&'static str>>,
    /// The registrations applied to the type ([`EventDispatcher::map_type`]'s keys).
    pub(super) registrations: Vec<&'static str>,
    /// Its handlers, in registration order.
    pub(super) handlers: Vec<Registered>,
}

/// Hashes a [`TypeId`](std::any::TypeId), which already is a hash, by taking its bits (what it
/// writes as a `u64`), instead of running SipHash over them; anything else it is given is mixed in
/// with FNV-1a.
#[derive(Default)]
pub(super) struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(PRIME);
        }
        self.0 = hash;
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }
}

/// The handlers of one event: two lists, each in registration order, merged by sequence;
/// handlers by type restricted to another name are skipped.
pub(super) struct Handlers<'a> {
    pub(super) by_name: &'a [Registered],
    pub(super) by_type: &'a [Registered],
    /// The event's name, for handlers restricted to one name.
    pub(super) name: &'a str,
    /// The index of the event's name among its type's declared names.
    pub(super) declared: Option<usize>,
}

impl<'a> Iterator for Handlers<'a> {
    type Item = &'a Arc<dyn EventHandler>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let take_name = match (self.by_name.first(), self.by_type.first()) {
                (Some(a), Some(b)) => a.sequence < b.sequence,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return None,
            };
            let list = if take_name {
                &mut self.by_name
            } else {
                &mut self.by_type
            };
            let (first, rest) = list.split_first()?;
            *list = rest;
            let runs = match first.only {
                Only::Any => true,
                Only::Declared(index) => self.declared == Some(index),
                Only::Name(name) => name == self.name,
            };
            if runs {
                return Some(&first.handler);
            }
        }
    }
}
