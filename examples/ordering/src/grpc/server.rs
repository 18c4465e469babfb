//! [`OrderingApi`]: the gRPC service, a thin front door onto the command handler. Each call
//! checks its request, runs one command and answers with the order's id and new version.

use eventmap::{AggregateEvent, AggregateStore};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use super::api::{self, ordering_service_server::OrderingServiceServer};
use super::status::{InvalidRequest, command_status};
use crate::application::{CreateOrder, OrderingService};
use crate::domain::events::{OrderCreated, OrderItem};
use crate::domain::ids::{CustomerId, InvoiceId, PaymentId, ProductId, StoreId};
use crate::domain::money::Money;
use crate::domain::order::Order;

/// The gRPC `ordering.v1.OrderingService`, running its commands on an [`OrderingService`].
#[derive(Debug)]
pub struct OrderingApi<S> {
    commands: OrderingService<S>,
}

impl<S: AggregateStore<Order> + 'static> OrderingApi<S> {
    /// The API of `commands`.
    pub fn new(commands: OrderingService<S>) -> Self {
        OrderingApi { commands }
    }

    /// The tonic service to serve (`tonic::transport::Server::serve_with_incoming...`).
    pub fn into_server(self) -> OrderingServiceServer<Self> {
        OrderingServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl<S: AggregateStore<Order> + 'static> api::ordering_service_server::OrderingService
    for OrderingApi<S>
{
    async fn create_order(
        &self,
        request: Request<api::CreateOrderRequest>,
    ) -> Result<Response<api::CreateOrderResponse>, Status> {
        let command = create_command(request.into_inner())?;
        let order_id = command.order_id.clone();
        let span = tracing::info_span!("CreateOrder", order_id = %order_id);
        let events = self
            .commands
            .create_order(command)
            .instrument(span)
            .await
            .map_err(|e| command_status(&e))?;
        let created = events
            .first()
            .and_then(|event| event.downcast::<OrderCreated>())
            .ok_or_else(|| Status::internal("CreateOrder saved no OrderCreated event"))?;
        let total = &created.payload().total;
        Ok(Response::new(api::CreateOrderResponse {
            order_id,
            version: version(&events)?,
            total_cents: total.cents,
            currency: total.currency.clone(),
        }))
    }

    async fn ready_order(
        &self,
        request: Request<api::ReadyOrderRequest>,
    ) -> Result<Response<api::ReadyOrderResponse>, Status> {
        let request = request.into_inner();
        let order_id = required("order_id", request.order_id)?;
        let span = tracing::info_span!("ReadyOrder", order_id = %order_id);
        let events = self
            .commands
            .ready_order(&order_id)
            .instrument(span)
            .await
            .map_err(|e| command_status(&e))?;
        Ok(Response::new(api::ReadyOrderResponse {
            version: version(&events)?,
            order_id,
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<api::CancelOrderRequest>,
    ) -> Result<Response<api::CancelOrderResponse>, Status> {
        let request = request.into_inner();
        let order_id = required("order_id", request.order_id)?;
        let span = tracing::info_span!("CancelOrder", order_id = %order_id);
        let events = self
            .commands
            .cancel_order(&order_id, &request.reason)
            .instrument(span)
            .await
            .map_err(|e| command_status(&e))?;
        Ok(Response::new(api::CancelOrderResponse {
            version: version(&events)?,
            order_id,
        }))
    }

    async fn complete_order(
        &self,
        request: Request<api::CompleteOrderRequest>,
    ) -> Result<Response<api::CompleteOrderResponse>, Status> {
        let request = request.into_inner();
        let order_id = required("order_id", request.order_id)?;
        let invoice_id = InvoiceId::new(required("invoice_id", request.invoice_id)?);
        let span = tracing::info_span!("CompleteOrder", order_id = %order_id);
        let events = self
            .commands
            .complete_order(&order_id, invoice_id)
            .instrument(span)
            .await
            .map_err(|e| command_status(&e))?;
        Ok(Response::new(api::CompleteOrderResponse {
            version: version(&events)?,
            order_id,
        }))
    }
}

/// The `CreateOrder` command of a request; an empty `order_id` gets a new UUID. The domain
/// checks the rest (at least one item, quantities of at least 1, the total).
fn create_command(request: api::CreateOrderRequest) -> Result<CreateOrder, InvalidRequest> {
    let currency = required("currency", request.currency)?;
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(InvalidRequest::Malformed {
            field: "currency".into(),
            problem: "is not an ISO 4217 code (three capital letters)",
        });
    }
    let items = request
        .items
        .into_iter()
        .enumerate()
        .map(|(n, line)| {
            if line.product_id.is_empty() {
                return Err(InvalidRequest::Malformed {
                    field: format!("items[{n}].product_id"),
                    problem: "is empty",
                });
            }
            Ok(OrderItem {
                product_id: ProductId::new(line.product_id),
                store_id: StoreId::new(line.store_id),
                product_name: line.product_name,
                unit_price: Money::new(line.unit_price_cents, &currency),
                quantity: line.quantity,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let order_id = if request.order_id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        request.order_id
    };
    Ok(CreateOrder {
        order_id,
        customer_id: CustomerId::new(required("customer_id", request.customer_id)?),
        payment_id: PaymentId::new(required("payment_id", request.payment_id)?),
        items,
    })
}

fn required(field: &'static str, value: String) -> Result<String, InvalidRequest> {
    if value.is_empty() {
        Err(InvalidRequest::Missing(field))
    } else {
        Ok(value)
    }
}

/// The aggregate version after a command: that of the last event it saved.
fn version(events: &[AggregateEvent]) -> Result<u64, Status> {
    events
        .last()
        .map(AggregateEvent::aggregate_version)
        .ok_or_else(|| Status::internal("the command saved no event"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> api::CreateOrderRequest {
        api::CreateOrderRequest {
            order_id: String::new(),
            customer_id: "alice".into(),
            payment_id: "pay-1".into(),
            currency: "EUR".into(),
            items: vec![api::OrderLine {
                product_id: "tea".into(),
                store_id: "store-1".into(),
                product_name: "Green tea".into(),
                unit_price_cents: 350,
                quantity: 2,
            }],
        }
    }

    #[test]
    fn a_create_request_becomes_the_command() {
        let command = create_command(request()).expect("valid");
        assert_eq!(command.customer_id, CustomerId::new("alice"));
        assert_eq!(command.items[0].unit_price, Money::new(350, "EUR"));
        assert_eq!(command.items[0].quantity, 2);
        assert!(
            uuid::Uuid::parse_str(&command.order_id).is_ok(),
            "{}",
            command.order_id
        );
        let named = create_command(api::CreateOrderRequest {
            order_id: "o-7".into(),
            ..request()
        })
        .expect("valid");
        assert_eq!(named.order_id, "o-7");
    }

    #[test]
    fn malformed_create_requests_are_refused() {
        let refused = |request| create_command(request).err();
        assert_eq!(
            refused(api::CreateOrderRequest {
                customer_id: String::new(),
                ..request()
            }),
            Some(InvalidRequest::Missing("customer_id"))
        );
        assert_eq!(
            refused(api::CreateOrderRequest {
                currency: "euro".into(),
                ..request()
            })
            .map(|e| e.to_string()),
            Some("`currency` is not an ISO 4217 code (three capital letters)".into())
        );
        let mut no_product = request();
        no_product.items[0].product_id.clear();
        assert_eq!(
            refused(no_product).map(|e| e.to_string()),
            Some("`items[0].product_id` is empty".into())
        );
    }
}
