//! Unit tests of the event registry.

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Renamed {
    total_cents: i64,
    currency: String,
}
impl DomainEvent for Renamed {
    fn event_name(&self) -> &'static str {
        "Priced"
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Other;
impl DomainEvent for Other {
    fn event_name(&self) -> &'static str {
        "Other"
    }
}

fn registry() -> EventRegistry {
    let mut registry = EventRegistry::new();
    registry
        .register_version::<Renamed>("Priced", 3)
        .unwrap()
        .upcaster("Priced", 1, |mut json| {
            // v1 -> v2: `total` became `total_cents`.
            let total = json["total"].take();
            json["total_cents"] = total;
            Ok(json)
        })
        .unwrap()
        .upcaster("Priced", 2, |mut json| {
            json["currency"] = "EUR".into();
            Ok(json)
        })
        .unwrap();
    registry
}

fn typed(event: &Arc<dyn DomainEvent>) -> &Renamed {
    let any: &dyn Any = &**event;
    any.downcast_ref().expect("a Renamed")
}

#[test]
fn encodes_current_version_and_upcasts_old_ones() {
    let registry = registry();
    let stored = registry
        .encode(
            "Priced",
            &Renamed {
                total_cents: 5,
                currency: "USD".into(),
            },
        )
        .unwrap();
    assert_eq!(stored.schema_version, 3);
    assert_eq!(
        stored.json,
        serde_json::json!({"total_cents": 5, "currency": "USD"})
    );
    let current = registry.decode("Priced", 3, stored.json).unwrap();
    assert_eq!(typed(&current).currency, "USD");

    let v1 = registry
        .decode("Priced", 1, serde_json::json!({"total": 7}))
        .unwrap();
    assert_eq!(
        typed(&v1),
        &Renamed {
            total_cents: 7,
            currency: "EUR".into()
        }
    );
}

#[test]
fn errors() {
    let mut registry = registry();
    assert!(matches!(
        registry.encode("Other", &Other),
        Err(RegistryError::Unregistered { .. })
    ));
    assert!(matches!(
        registry.encode(
            "Wrong",
            &Renamed {
                total_cents: 1,
                currency: String::new()
            }
        ),
        Err(RegistryError::NameMismatch {
            registered: "Priced",
            ..
        })
    ));
    assert!(matches!(
        registry.decode("Priced", 4, serde_json::json!({})),
        Err(RegistryError::Unknown {
            schema_version: 4,
            ..
        })
    ));
    assert!(matches!(
        registry.decode("Nope", 1, serde_json::json!({})),
        Err(RegistryError::Unknown { .. })
    ));
    assert!(matches!(
        registry.decode("Priced", 3, serde_json::json!({"total_cents": "x"})),
        Err(RegistryError::Deserialize { .. })
    ));
    assert!(matches!(
        registry.register::<Renamed>("Again"),
        Err(RegistryError::Registration(_))
    ));
    assert!(matches!(
        registry.register::<Other>("Priced"),
        Err(RegistryError::Registration(_))
    ));
    assert!(matches!(
        registry.upcaster("Priced", 1, Ok),
        Err(RegistryError::Registration(_))
    ));
    registry
        .upcaster("Other", 0, |_| Err("broken".into()))
        .unwrap();
    assert!(matches!(
        registry.decode("Other", 0, serde_json::json!(null)),
        Err(RegistryError::Upcast {
            from_version: 0,
            ..
        })
    ));
}
