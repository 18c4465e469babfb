// A domain event struct whose fields match its row: converters, DomainEvent and MappedEvent.
mod proto {
    include!("../common/proto.rs");
}

#[derive(Debug, Clone, eventmap::IntegrationEvent)]
#[integration(mappings = "ui/mappings.yaml")]
pub struct Placed {
    customer_id: String,
    total: i64,
    r#type: String,
}

fn main() {
    use eventmap::{DomainEvent, MappedEvent};
    let payload = Placed { customer_id: "c-1".into(), total: 42, r#type: "retail".into() };
    assert_eq!(payload.event_name(), "Placed");
    assert_eq!(<Placed as MappedEvent>::INTEGRATION_EVENTS, ["PlacedEvent"]);
    let event = eventmap::AggregateEvent::new("Order", "o-1", 1, payload);
    let message = proto::ui::v1::Placed::try_from(&event).expect("converts");
    assert_eq!((message.customer_id.as_str(), message.total, message.r#type.as_str()), ("c-1", 42, "retail"));
    let mut dispatcher = eventmap::EventDispatcher::new();
    let publisher: std::sync::Arc<dyn eventmap::Publisher> = std::sync::Arc::new(eventmap::InMemoryPublisher::new());
    dispatcher.register_mapped::<Placed>(&publisher);
    assert_eq!(dispatcher.handler_count_of::<Placed>(), 1);
}
