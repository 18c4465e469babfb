//! Client events as `tracing` events: what a person needs to see when the connection drops
//! or the server refuses an operation.

use async_nats::Event;

/// Logs one client event (target `eventmap::nats::connect`):
///
/// * disconnected, lame duck mode: `warn`; connected, draining, closed: `info`;
/// * slow consumer (messages dropped for a subscription): `warn`;
/// * server errors, such as `Permissions Violation for Publish to "<subject>"` or an
///   authorization error: `error`, with the server's words (which name the subject);
/// * client errors (an I/O error on the connection, while async-nats reconnects): `warn`.
pub(crate) fn log_event(event: &Event) {
    match event {
        Event::Connected => tracing::info!("connected to NATS"),
        Event::Disconnected => tracing::warn!("disconnected from NATS; reconnecting"),
        Event::LameDuckMode => {
            tracing::warn!("NATS server entered lame duck mode; it will close the connection")
        }
        Event::Draining => tracing::info!("NATS connection draining"),
        Event::Closed => tracing::info!("NATS connection closed"),
        Event::SlowConsumer(sid) => tracing::warn!(
            subscription = sid,
            "slow consumer: messages dropped for a NATS subscription"
        ),
        Event::ServerError(error) => tracing::error!(error = %error, "NATS server error"),
        Event::ClientError(error) => {
            tracing::warn!(error = %error, "NATS connection error; reconnecting")
        }
    }
}
