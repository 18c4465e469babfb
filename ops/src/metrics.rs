//! `eventmap-ops metrics` and `relay --metrics-listen`: a Prometheus endpoint (`GET
//! /metrics`, text format) with the runtime's OpenTelemetry instruments
//! (`eventmap::metrics`: publish latency, relay throughput, ...) and the figures of
//! `status`, read again on every scrape.
//!
//! An OpenTelemetry meter provider with the Prometheus exporter is installed as the global
//! provider ([`Exporter::install`]), so the runtime's instruments recorded in this process
//! (the relay's) land in the same registry. The status figures are OpenTelemetry gauges
//! recorded right before each scrape is encoded.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Gauge, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;

use crate::OpsError;
use crate::status::{StatusArgs, StatusReport};

/// Arguments of `metrics`.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsArgs {
    /// Address to serve GET /metrics on (Prometheus text format)
    #[arg(
        long,
        env = "EVENTMAP_METRICS_LISTEN",
        default_value = "127.0.0.1:9464"
    )]
    pub listen: SocketAddr,
    /// What `status` reads.
    #[command(flatten)]
    pub status: StatusArgs,
}

/// The Prometheus registry behind the global meter provider, and the status gauges.
pub struct Exporter {
    registry: Registry,
    provider: SdkMeterProvider,
    gauges: StatusGauges,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

/// The gauges of the `status` figures.
struct StatusGauges {
    unpublished: Gauge<u64>,
    oldest_age: Gauge<f64>,
    retrying: Gauge<u64>,
    parked: Gauge<u64>,
    pending: Gauge<u64>,
    ack_pending: Gauge<u64>,
    redelivered: Gauge<u64>,
    dead_letters: Gauge<u64>,
}

impl Exporter {
    /// Builds the registry and the meter provider, and installs the provider as the global
    /// one (the runtime's instruments are created from it on first use).
    ///
    /// # Errors
    ///
    /// [`OpsError::Metrics`] when the exporter cannot be built.
    pub fn install() -> Result<Self, OpsError> {
        let registry = Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_target_info()
            .build()
            .map_err(|err| OpsError::Metrics(err.to_string()))?;
        let provider = SdkMeterProvider::builder().with_reader(exporter).build();
        opentelemetry::global::set_meter_provider(provider.clone());
        let meter = provider.meter("eventmap-ops");
        let rows = |name: &'static str, description: &'static str| {
            meter.u64_gauge(name).with_description(description).build()
        };
        let gauges = StatusGauges {
            unpublished: rows(
                "eventmap.outbox.unpublished",
                "Unpublished outbox rows (status: outbox.backlog)",
            ),
            oldest_age: meter
                .f64_gauge("eventmap.outbox.oldest_unpublished_age")
                .with_unit("s")
                .with_description("Age of the oldest unpublished outbox row")
                .build(),
            retrying: rows(
                "eventmap.outbox.retrying",
                "Unpublished outbox rows with a failed publish",
            ),
            parked: rows(
                "eventmap.outbox.parked",
                "Outbox rows parked by the relay (refused by the broker)",
            ),
            pending: rows(
                "eventmap.consumer.pending",
                "Messages of a durable consumer's subjects not yet delivered",
            ),
            ack_pending: rows(
                "eventmap.consumer.ack_pending",
                "Messages delivered to a durable consumer and not yet acknowledged",
            ),
            redelivered: rows(
                "eventmap.consumer.redelivered",
                "Messages redelivered to a durable consumer and not yet acknowledged",
            ),
            dead_letters: rows(
                "eventmap.dead_letters.waiting",
                "Dead letters of a subscription waiting for a replay or a purge",
            ),
        };
        Ok(Self {
            registry,
            provider,
            gauges,
        })
    }

    /// Records the figures of `report`.
    pub fn record(&self, report: &StatusReport) {
        let g = &self.gauges;
        if let Some(outbox) = &report.outbox {
            let schema = [KeyValue::new("schema", outbox.schema.clone())];
            g.unpublished.record(outbox.backlog, &schema);
            g.oldest_age.record(outbox.oldest_age_secs, &schema);
            g.retrying.record(outbox.retrying, &schema);
            g.parked.record(outbox.parked, &schema);
        }
        for s in &report.subscriptions {
            let labels = [
                KeyValue::new("subscription", s.name.clone()),
                KeyValue::new("durable", s.durable.clone()),
                KeyValue::new("stream", s.stream.clone()),
            ];
            if let Some(consumer) = &s.consumer {
                g.pending.record(consumer.pending, &labels);
                g.ack_pending.record(consumer.ack_pending, &labels);
                g.redelivered.record(consumer.redelivered, &labels);
            }
            if let (Some(count), Some(stream)) = (s.dead_letters, &s.dead_letter_stream) {
                g.dead_letters.record(
                    count,
                    &[
                        KeyValue::new("subscription", s.name.clone()),
                        KeyValue::new("durable", s.durable.clone()),
                        KeyValue::new("dead_letter_stream", stream.clone()),
                    ],
                );
            }
        }
    }

    /// Everything recorded so far, in the Prometheus text format.
    ///
    /// # Errors
    ///
    /// [`OpsError::Metrics`] when encoding fails.
    pub fn encode(&self) -> Result<Vec<u8>, OpsError> {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .map_err(|err| OpsError::Metrics(err.to_string()))?;
        Ok(buffer)
    }

    /// Flushes and shuts the provider down.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::debug!(error = %eventmap::error::ErrorChain(&err), "meter provider shutdown");
        }
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes: each scrape awaits
/// `scrape` (the status figures, `None` for none), records them, and answers with every
/// metric of `exporter`; a failed scrape answers 503 with the error. Other paths are 404.
/// Connections are served one request at a time each, in this task.
///
/// # Errors
///
/// [`OpsError::Output`] when accepting connections fails.
pub async fn serve<S, F>(
    listener: TcpListener,
    exporter: &Exporter,
    scrape: S,
    shutdown: impl Future<Output = ()>,
) -> Result<(), OpsError>
where
    S: Fn() -> F,
    F: Future<Output = Result<Option<StatusReport>, OpsError>>,
{
    let handle = |request: Request<Incoming>| {
        let scraped =
            (request.method() == Method::GET && request.uri().path() == "/metrics").then(&scrape);
        async move {
            let response = match scraped {
                None => respond(StatusCode::NOT_FOUND, "text/plain", "GET /metrics\n".into()),
                Some(scraped) => match scraped.await {
                    Ok(report) => {
                        if let Some(report) = &report {
                            exporter.record(report);
                        }
                        match exporter.encode() {
                            Ok(body) => respond(
                                StatusCode::OK,
                                "text/plain; version=0.0.4; charset=utf-8",
                                body,
                            ),
                            Err(err) => scrape_failed(&err),
                        }
                    }
                    Err(err) => scrape_failed(&err),
                },
            };
            Ok::<_, std::convert::Infallible>(response)
        }
    };
    let mut connections = FuturesUnordered::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                connections.push(
                    http1::Builder::new()
                        .keep_alive(false)
                        .serve_connection(TokioIo::new(stream), service_fn(&handle)),
                );
            }
            Some(served) = connections.next(), if !connections.is_empty() => {
                if let Err(err) = served {
                    tracing::debug!(error = %eventmap::error::ErrorChain(&err), "metrics connection");
                }
            }
        }
    }
}

fn scrape_failed(err: &OpsError) -> Response<Full<Bytes>> {
    tracing::warn!(error = %crate::error_chain(err), "metrics scrape failed");
    respond(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain",
        format!("scrape failed: {}\n", crate::error_chain(err)).into_bytes(),
    )
}

fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
