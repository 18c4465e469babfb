//! The client side: connect to an ordering service and run the sample flow over gRPC
//! ([`trigger`]: the same orders and steps as the in-process `demo`).

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use super::api::ordering_service_client::OrderingServiceClient;
use super::api::{
    CancelOrderRequest, CompleteOrderRequest, CreateOrderRequest, OrderLine, ReadyOrderRequest,
};
use crate::sample::{self, Step};

/// A client of `ordering.v1.OrderingService` on a tonic channel.
pub type Client = OrderingServiceClient<Channel>;

/// Why the client could not talk to the service.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not a valid URI.
    #[error("invalid endpoint `{endpoint}`: {source}")]
    Endpoint {
        /// What was given.
        endpoint: String,
        /// Why it is invalid.
        #[source]
        source: tonic::transport::Error,
    },
    /// No connection could be made.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        /// Where.
        endpoint: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// The connection was not made within the timeout.
    #[error("{endpoint} did not answer within {timeout:?}")]
    Timeout {
        /// Where.
        endpoint: String,
        /// How long the client waited.
        timeout: Duration,
    },
    /// A call failed.
    #[error("{rpc} {order_id}: {code:?}: {message}", code = .status.code(), message = .status.message())]
    Call {
        /// Which RPC.
        rpc: &'static str,
        /// On which order.
        order_id: String,
        /// The status the service answered with.
        status: tonic::Status,
    },
}

/// Connects to `endpoint` (`http://host:port`), waiting at most `timeout` for the connection;
/// each call of the client then times out after `timeout` as well.
///
/// # Errors
/// [`ClientError::Endpoint`], [`ClientError::Connect`] or [`ClientError::Timeout`].
pub async fn connect(endpoint: &str, timeout: Duration) -> Result<Client, ClientError> {
    let target = Endpoint::from_shared(endpoint.to_owned())
        .map_err(|source| ClientError::Endpoint {
            endpoint: endpoint.to_owned(),
            source,
        })?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = tokio::time::timeout(timeout, target.connect())
        .await
        .map_err(|_| ClientError::Timeout {
            endpoint: endpoint.to_owned(),
            timeout,
        })?
        .map_err(|source| ClientError::Connect {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    Ok(OrderingServiceClient::new(channel))
}

/// One call [`trigger`] made and what the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The RPC (`CreateOrder`, ...).
    pub rpc: &'static str,
    /// The order.
    pub order_id: String,
    /// The order's version after the call.
    pub version: u64,
}

/// The `CreateOrder` request of the `n`th (1-based) sample order of run `run`.
pub fn sample_create_request(
    run: &str,
    n: usize,
    order: &sample::SampleOrder,
) -> CreateOrderRequest {
    CreateOrderRequest {
        order_id: sample::order_id(run, n),
        customer_id: order.customer.to_owned(),
        payment_id: sample::payment_id(run, n),
        currency: sample::CURRENCY.to_owned(),
        items: order
            .lines
            .iter()
            .map(|line| OrderLine {
                product_id: line.product_id.to_owned(),
                store_id: sample::STORE.to_owned(),
                product_name: line.product_name.to_owned(),
                unit_price_cents: line.unit_price_cents,
                quantity: line.quantity,
            })
            .collect(),
    }
}

/// Runs the sample flow through `client`: creates [`sample::ORDERS`] (ids
/// `order-<run>-<n>`), then runs [`sample::STEPS`] (ready three, cancel two, complete two).
/// `log` receives one line per call; the calls are returned in order.
///
/// # Errors
/// [`ClientError::Call`] for the first call that fails (the calls before it took effect).
pub async fn trigger(
    client: &mut Client,
    run: &str,
    log: &mut dyn FnMut(String),
) -> Result<Vec<Call>, ClientError> {
    let mut calls = Vec::new();
    let mut record = |rpc: &'static str, order_id: String, version: u64, detail: String| {
        log(format!("{rpc} {order_id}{detail} -> version {version}"));
        calls.push(Call {
            rpc,
            order_id,
            version,
        });
    };
    for (n, order) in sample::ORDERS.iter().enumerate().map(|(i, o)| (i + 1, o)) {
        let request = sample_create_request(run, n, order);
        let order_id = request.order_id.clone();
        let response = client
            .create_order(request)
            .await
            .map_err(|status| failed("CreateOrder", &order_id, status))?
            .into_inner();
        record(
            "CreateOrder",
            response.order_id,
            response.version,
            format!(
                " for {} ({} cents {})",
                order.customer, response.total_cents, response.currency
            ),
        );
    }
    for step in sample::STEPS {
        match step {
            Step::Ready(n) => {
                let order_id = sample::order_id(run, n);
                let response = client
                    .ready_order(ReadyOrderRequest {
                        order_id: order_id.clone(),
                    })
                    .await
                    .map_err(|status| failed("ReadyOrder", &order_id, status))?
                    .into_inner();
                record(
                    "ReadyOrder",
                    response.order_id,
                    response.version,
                    String::new(),
                );
            }
            Step::Cancel(n, reason) => {
                let order_id = sample::order_id(run, n);
                let response = client
                    .cancel_order(CancelOrderRequest {
                        order_id: order_id.clone(),
                        reason: reason.to_owned(),
                    })
                    .await
                    .map_err(|status| failed("CancelOrder", &order_id, status))?
                    .into_inner();
                record(
                    "CancelOrder",
                    response.order_id,
                    response.version,
                    format!(" ({reason})"),
                );
            }
            Step::Complete(n, invoice) => {
                let order_id = sample::order_id(run, n);
                let invoice_id = sample::invoice_id(invoice, run);
                let response = client
                    .complete_order(CompleteOrderRequest {
                        order_id: order_id.clone(),
                        invoice_id: invoice_id.clone(),
                    })
                    .await
                    .map_err(|status| failed("CompleteOrder", &order_id, status))?
                    .into_inner();
                record(
                    "CompleteOrder",
                    response.order_id,
                    response.version,
                    format!(" (invoice {invoice_id})"),
                );
            }
        }
    }
    Ok(calls)
}

fn failed(rpc: &'static str, order_id: &str, status: tonic::Status) -> ClientError {
    ClientError::Call {
        rpc,
        order_id: order_id.to_owned(),
        status,
    }
}
