//! The ordering domain: the Order aggregate, its value types and its domain events.
//! Nothing here knows about protobuf or NATS.

pub mod events;
pub mod ids;
pub mod money;
pub mod order;
