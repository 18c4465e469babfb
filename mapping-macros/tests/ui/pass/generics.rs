// Generics, a lifetime, a where-clause, a raw identifier, a #[cfg]-gated field, and a module
// that shadows Result, Option and From: the generated code names everything by full path.
mod proto {
    include!("../common/proto.rs");
}

#[allow(dead_code)]
mod shadowing {
    pub type Result<T> = std::result::Result<T, ()>;
    pub struct Option;
    pub trait From {}
    pub struct Some;
    pub struct Ok;

    #[derive(Debug, Clone, eventmap::IntegrationEvent)]
    #[integration(mappings = "ui/mappings.yaml", event = "Placed")]
    pub struct Placement<'a, T>
    where
        T: std::fmt::Debug + Clone + Send + Sync + 'static,
    {
        pub customer_id: &'a str,
        pub total: i64,
        pub r#type: String,
        pub extra: T,
        #[cfg(any())]
        pub hidden: u8,
    }
}

fn main() {
    let payload = shadowing::Placement { customer_id: "c-2", total: 7, r#type: "web".into(), extra: 1u8 };
    let event = eventmap::AggregateEvent { event: eventmap::Event { id: Default::default(), name: "Placed".into(), payload: std::sync::Arc::new(payload), metadata: Default::default(), occurred_at: std::time::SystemTime::UNIX_EPOCH }, aggregate_name: "Order".into(), aggregate_id: "o-2".into(), aggregate_version: 2 };
    let message = proto::ui::v1::Placed::try_from(&event).expect("converts");
    assert_eq!(message.customer_id, "c-2");
    let mut dispatcher = eventmap::EventDispatcher::new();
    let publisher: std::sync::Arc<dyn eventmap::Publisher> = std::sync::Arc::new(eventmap::InMemoryPublisher::new());
    dispatcher.register_mapped::<shadowing::Placement<'static, u8>>(&publisher);
}
