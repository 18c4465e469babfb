//! Trace context on integration messages: the W3C Trace Context of the span that builds a
//! message travels in its headers, and the consumer's span continues that trace.
//!
//! With the feature `otel` (OpenTelemetry 0.33 through tracing-opentelemetry 0.34):
//!
//! * [`IntegrationMessage::from_aggregate_event`](crate::IntegrationMessage::from_aggregate_event)
//!   calls [`inject`]: the current span's OpenTelemetry context becomes a
//!   [`traceparent`](crate::message::headers::TRACEPARENT) header (and
//!   [`tracestate`](crate::message::headers::TRACESTATE) when the trace has one). Messages are
//!   built inside the command's span (the generated handlers run in the save), so the header
//!   names the command's trace; the outbox stores the headers, so the relay publishes it too.
//! * [`continue_trace`] makes a consumer's span a child of the span named by a message's
//!   `traceparent`; [`Consumer::run`](crate::nats::Consumer::run) does it for its
//!   per-message span (a loop over [`Consumer::deliveries`](crate::nats::Consumer::deliveries)
//!   calls it itself).
//!
//! The format is W3C Trace Context (`TraceContextPropagator`), whatever global propagator the
//! application installed. Spans carry OpenTelemetry contexts only when the application's
//! `tracing` subscriber has the `tracing_opentelemetry` layer; without it (or with the span
//! disabled by a filter) nothing is written or read.
//!
//! Without the feature both functions do nothing and messages carry no `traceparent`.

/// Writes the current span's trace context into `headers` as `traceparent` (and
/// `tracestate`), replacing earlier values of those headers. Nothing is written when the
/// current span has no valid OpenTelemetry context, or without the feature `otel`.
pub fn inject(headers: &mut Vec<(String, String)>) {
    #[cfg(feature = "otel")]
    otel::inject(headers);
    #[cfg(not(feature = "otel"))]
    let _ = headers;
}

/// Headers a trace context is read from: a message's `(name, value)` list (an
/// [`IntegrationMessage`](crate::IntegrationMessage)'s, an outbox row's) or a received
/// `nats::Delivery` (feature `nats`), read in place.
pub trait TraceHeaders {
    /// The first value of the header `name`, names compared ASCII case-insensitively.
    fn trace_header(&self, name: &str) -> Option<&str>;
}

impl TraceHeaders for [(String, String)] {
    fn trace_header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl TraceHeaders for Vec<(String, String)> {
    fn trace_header(&self, name: &str) -> Option<&str> {
        self.as_slice().trace_header(name)
    }
}

/// Sets the OpenTelemetry parent of `span` to the trace context in `headers` (`traceparent`,
/// `tracestate`; names compared ASCII case-insensitively), so the span continues the
/// producer's trace. Call it before the span is first entered. `headers` is a message's
/// header list or a `nats::Delivery` ([`TraceHeaders`]).
///
/// Does nothing when `headers` has no valid `traceparent`, when `span` is disabled or has no
/// OpenTelemetry layer, or without the feature `otel`. Calling it on a span already entered
/// (its OpenTelemetry span started) has no effect either; that is logged as a warning.
pub fn continue_trace<H: TraceHeaders + ?Sized>(span: &tracing::Span, headers: &H) {
    #[cfg(feature = "otel")]
    otel::continue_trace(span, headers);
    #[cfg(not(feature = "otel"))]
    let _ = (span, headers);
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing_opentelemetry::{OpenTelemetrySpanExt, SetParentError};

    /// Writes into an ordered header list, replacing a header of the same name. An empty
    /// value (the propagator's `tracestate` of a trace without vendor state) is not written.
    struct HeaderInjector<'a>(&'a mut Vec<(String, String)>);

    impl Injector for HeaderInjector<'_> {
        fn set(&mut self, key: &str, value: String) {
            self.0.retain(|(name, _)| !name.eq_ignore_ascii_case(key));
            if !value.is_empty() {
                self.0.push((key.to_owned(), value));
            }
        }
    }

    /// Reads headers by name; the first header of a name wins. The W3C propagator asks for
    /// its two headers by name, never for the list of names (`keys`, empty here).
    struct HeaderExtractor<'a, H: ?Sized>(&'a H);

    impl<H: super::TraceHeaders + ?Sized> Extractor for HeaderExtractor<'_, H> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.trace_header(key)
        }

        fn keys(&self) -> Vec<&str> {
            Vec::new()
        }
    }

    pub(super) fn inject(headers: &mut Vec<(String, String)>) {
        let span = tracing::Span::current();
        if span.is_disabled() {
            return;
        }
        let context = span.context();
        if !context.span().span_context().is_valid() {
            return;
        }
        TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
    }

    pub(super) fn continue_trace<H: super::TraceHeaders + ?Sized>(
        span: &tracing::Span,
        headers: &H,
    ) {
        if span.is_disabled() {
            return;
        }
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        if !parent.span().span_context().is_valid() {
            return;
        }
        match span.set_parent(parent) {
            Ok(()) | Err(SetParentError::LayerNotFound | SetParentError::SpanDisabled) => {}
            Err(err) => {
                tracing::warn!(error = %crate::error::ErrorChain(&err), "cannot continue the message's trace");
            }
        }
    }
}
