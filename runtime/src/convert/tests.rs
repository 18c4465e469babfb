//! Unit tests of the field conversions.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use prost_types::Timestamp;
use uuid::Uuid;

use super::*;

fn conv<P, T: IntoProto<P> + ?Sized>(value: &T) -> Result<P, ConversionError> {
    value.into_proto()
}

#[test]
fn identity_values() {
    assert_eq!(conv::<bool, _>(&true), Ok(true));
    assert_eq!(conv::<i32, _>(&-7i32), Ok(-7));
    assert_eq!(conv::<i64, _>(&i64::MIN), Ok(i64::MIN));
    assert_eq!(conv::<u32, _>(&u32::MAX), Ok(u32::MAX));
    assert_eq!(conv::<u64, _>(&42u64), Ok(42));
    assert_eq!(conv::<f32, _>(&1.5f32), Ok(1.5));
    assert_eq!(conv::<f64, _>(&-2.25f64), Ok(-2.25));
    assert_eq!(conv::<String, _>(&"héllo".to_string()), Ok("héllo".into()));
    assert_eq!(conv::<Vec<u8>, _>(&vec![0u8, 255, 7]), Ok(vec![0, 255, 7]));
    let ts = Timestamp {
        seconds: 5,
        nanos: 6,
    };
    assert_eq!(conv::<Timestamp, _>(&ts), Ok(ts));
}

#[test]
fn lossless_widenings() {
    assert_eq!(conv::<i32, _>(&-128i8), Ok(-128));
    assert_eq!(conv::<i32, _>(&i16::MIN), Ok(-32768));
    assert_eq!(conv::<i64, _>(&i32::MIN), Ok(i64::from(i32::MIN)));
    assert_eq!(conv::<u32, _>(&u16::MAX), Ok(65535));
    assert_eq!(conv::<u64, _>(&u32::MAX), Ok(4_294_967_295));
    assert_eq!(conv::<i64, _>(&u32::MAX), Ok(4_294_967_295));
    assert_eq!(conv::<i32, _>(&200u8), Ok(200));
    assert_eq!(conv::<f64, _>(&0.5f32), Ok(0.5));
}

#[test]
fn checked_narrowings() {
    assert_eq!(checked::<_, u64>(&17usize, "n"), Ok(17));
    assert_eq!(checked::<_, i32>(&-5i64, "n"), Ok(-5));
    assert_eq!(checked::<_, i32>(&7u32, "quantity"), Ok(7));
    let err = checked::<_, i32>(&3_000_000_000i64, "quantity").unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `quantity`: value 3000000000 does not fit in i32"
    );
    assert_eq!(err.field(), "quantity");
    let err = checked::<_, u64>(&-1i32, "n").unwrap_err();
    assert_eq!(err.message(), "value -1 does not fit in u64");
}

#[test]
fn results_and_maps() {
    let ok: Result<u16, String> = Ok(7);
    assert_eq!(conv::<i32, _>(&ok), Ok(7));
    let err: Result<u16, String> = Err("no rate for XYZ".into());
    assert_eq!(
        conv::<i32, _>(&err).unwrap_err().message(),
        "no rate for XYZ"
    );

    let mut domain = HashMap::new();
    domain.insert("a".to_owned(), 1u16);
    domain.insert("b".to_owned(), 2u16);
    let proto: HashMap<String, u32> = conv(&domain).unwrap();
    assert_eq!(proto.get("a"), Some(&1));
    assert_eq!(proto.len(), 2);
    let tree: BTreeMap<u32, String> = [(1u32, "x".to_owned())].into_iter().collect();
    let as_hash: HashMap<u32, String> = conv(&tree).unwrap();
    assert_eq!(as_hash.get(&1).map(String::as_str), Some("x"));
    let times: BTreeMap<String, SystemTime> = [(
        "t".to_owned(),
        UNIX_EPOCH - Duration::from_secs(86_400 * 800_000),
    )]
    .into_iter()
    .collect();
    let err = conv::<HashMap<String, Timestamp>, _>(&times).unwrap_err();
    assert_eq!(err.field(), "\"t\"");
}

#[test]
fn strings_and_ids() {
    assert_eq!(conv::<String, _>("abc"), Ok("abc".into()));
    assert_eq!(conv::<String, _>(&"abc"), Ok("abc".into()));
    let boxed: Box<str> = "boxed".into();
    assert_eq!(conv::<String, _>(&boxed), Ok("boxed".into()));
    let shared: Arc<str> = "shared".into();
    assert_eq!(conv::<String, _>(&shared), Ok("shared".into()));
    assert_eq!(conv::<String, _>(&Cow::Borrowed("cow")), Ok("cow".into()));
    assert_eq!(conv::<String, _>(&'€'), Ok("€".into()));

    let id = Uuid::parse_str("67E55044-10B1-426F-9247-BB680E5FE0C8").unwrap();
    assert_eq!(
        conv::<String, _>(&id),
        Ok("67e55044-10b1-426f-9247-bb680e5fe0c8".into())
    );
    let raw: Vec<u8> = conv(&id).unwrap();
    assert_eq!(raw.len(), 16);
    assert_eq!(&raw[..4], &[0x67, 0xe5, 0x50, 0x44]);
    assert_eq!(conv::<Bytes, _>(&id), Ok(Bytes::from(raw.clone())));
    assert_eq!(conv::<Bytes, _>(&raw), Ok(Bytes::from(raw.clone())));
    assert_eq!(
        conv::<Vec<u8>, _>(&Bytes::from_static(b"xy")),
        Ok(b"xy".to_vec())
    );
}

#[test]
fn times_and_durations() {
    let time = UNIX_EPOCH + Duration::new(1_796_014_800, 123_456_789);
    assert_eq!(
        conv::<Timestamp, _>(&time),
        Ok(Timestamp {
            seconds: 1_796_014_800,
            nanos: 123_456_789
        })
    );
    assert_eq!(
        conv::<Option<Timestamp>, _>(&time)
            .unwrap()
            .unwrap()
            .to_string(),
        "2026-11-30T05:00:00.123456789Z"
    );
    // Before the epoch: normalized to a negative second and positive nanos.
    let before = UNIX_EPOCH - Duration::new(1, 250_000_000);
    assert_eq!(
        conv::<Timestamp, _>(&before),
        Ok(Timestamp {
            seconds: -2,
            nanos: 750_000_000
        })
    );
    let too_late = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
    let err = conv::<Timestamp, _>(&too_late).unwrap_err();
    assert!(err.message().contains("google.protobuf.Timestamp"), "{err}");
    let too_early = UNIX_EPOCH - Duration::from_secs(62_135_596_801);
    assert!(conv::<Timestamp, _>(&too_early).is_err());

    assert_eq!(
        conv::<prost_types::Duration, _>(&Duration::from_millis(1_500)),
        Ok(prost_types::Duration {
            seconds: 1,
            nanos: 500_000_000
        })
    );
    assert!(
        conv::<Option<prost_types::Duration>, _>(&Duration::ZERO)
            .unwrap()
            .is_some()
    );
    let err = conv::<prost_types::Duration, _>(&Duration::from_secs(u64::MAX)).unwrap_err();
    assert!(err.message().contains("google.protobuf.Duration"), "{err}");
}

#[test]
fn containers_and_paths() {
    assert_eq!(conv::<Vec<i64>, _>(&vec![1i32, -2, 3]), Ok(vec![1, -2, 3]));
    assert_eq!(conv::<Vec<u64>, _>(&[1u8, 2][..]), Ok(vec![1, 2]));
    assert_eq!(
        conv::<Vec<String>, _>(&["a", "b"]),
        Ok(vec!["a".into(), "b".into()])
    );
    assert_eq!(conv::<Option<u32>, _>(&Some(5u16)), Ok(Some(5)));
    assert_eq!(conv::<Option<u32>, _>(&None::<u16>), Ok(None));
    assert_eq!(conv::<u32, _>(&Box::new(8u8)), Ok(8));
    assert_eq!(conv::<u32, _>(&Arc::new(9u8)), Ok(9));

    let past = UNIX_EPOCH - Duration::from_secs(86_400 * 800_000);
    let err =
        conv::<Vec<Timestamp>, _>(&vec![UNIX_EPOCH, UNIX_EPOCH, UNIX_EPOCH, past]).unwrap_err();
    assert_eq!(err.field(), "3");
    let err = err.at("quantity").at("");
    assert_eq!(err.field(), "quantity.3");

    let nested = vec![vec![UNIX_EPOCH], vec![UNIX_EPOCH, past]];
    let err = conv::<Vec<Vec<Timestamp>>, _>(&nested).unwrap_err();
    let err = err.at("items");
    assert_eq!(err.field(), "items.1.1");
    assert!(err.to_string().starts_with("field `items.1.1`: "), "{err}");
}

#[test]
fn generated_code_helpers() {
    assert_eq!(field::<_, i32>(&7u8, "quantity"), Ok(7));
    let past = UNIX_EPOCH - Duration::from_secs(86_400 * 800_000);
    let err = field::<_, Timestamp>(&past, "created_at").unwrap_err();
    assert_eq!(err.field(), "created_at");

    let items = std::collections::VecDeque::from([1u64, 2, u64::MAX]);
    let ok = map_each(&items, "items", |item| field::<_, u64>(item, "n"));
    assert_eq!(ok, Ok(vec![1, 2, u64::MAX]));
    let err = map_each(&items, "items", |item| checked::<_, u32>(item, "n")).unwrap_err();
    assert_eq!(err.field(), "items.2.n");
    let empty: Vec<u8> = Vec::new();
    assert_eq!(
        map_each(&empty, "items", |b| field::<_, u32>(b, "b")),
        Ok(vec![])
    );

    let err = map_one(&"x", "address", |_| {
        Err::<(), _>(ConversionError::new("bad").at("city"))
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "field `address.city`: bad");
    assert_eq!(map_one(&5u16, "n", |n| field::<_, i64>(n, "v")), Ok(5));
}

#[test]
fn plain_values_into_optional_fields() {
    assert_eq!(conv::<Option<i64>, _>(&7i64), Ok(Some(7)));
    assert_eq!(conv::<Option<i64>, _>(&7u32), Ok(Some(7)));
    assert_eq!(conv::<Option<i64>, _>(&None::<i64>), Ok(None));
    assert_eq!(
        conv::<Option<String>, _>(&"x".to_owned()),
        Ok(Some("x".into()))
    );
    assert_eq!(conv::<Option<String>, _>(&"y"), Ok(Some("y".into())));
    assert_eq!(conv::<Option<()>, _>(&()), Ok(Some(())));
    let id = Uuid::nil();
    assert_eq!(
        conv::<Option<String>, _>(&id),
        Ok(Some("00000000-0000-0000-0000-000000000000".into()))
    );
}

#[test]
fn checked_into_optional_fields() {
    assert_eq!(checked_optional::<_, Option<i32>>(&7u64, "n"), Ok(Some(7)));
    assert_eq!(
        checked_optional::<_, Option<i32>>(&None::<u64>, "n"),
        Ok(None)
    );
    assert_eq!(
        checked_optional::<_, Option<i64>>(&Some(5usize), "n"),
        Ok(Some(5))
    );
    let err = checked_optional::<_, Option<i32>>(&u64::MAX, "n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `n`: value 18446744073709551615 does not fit in i32"
    );
}

#[test]
fn present_values_and_message_identity() {
    #[derive(Debug, Clone, PartialEq)]
    struct M(u8);
    assert_eq!(present::<M, _>(&M(1)), Some(&M(1)));
    assert_eq!(present::<M, _>(&Some(M(2))), Some(&M(2)));
    assert_eq!(present::<M, _>(&None::<M>), None);
    assert_eq!(messages::<_, M>(&vec![M(1), M(2)]), vec![M(1), M(2)]);
    let map: BTreeMap<u16, M> = [(3, M(3))].into_iter().collect();
    let proto: HashMap<u32, M> = message_map(&map, "m").unwrap();
    assert_eq!(proto.get(&3), Some(&M(3)));
}

#[test]
fn error_display_and_path_building() {
    let err = ConversionError::new("bad")
        .at("quantity")
        .at("0")
        .at("items");
    assert_eq!(err.field(), "items.0.quantity");
    assert_eq!(err.message(), "bad");
    assert_eq!(err.to_string(), "field `items.0.quantity`: bad");
    assert_eq!(ConversionError::new("plain").to_string(), "plain");
}

#[test]
fn times_into_a_field_that_must_be_present() {
    let at = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
    let stamp = Timestamp {
        seconds: 1_700_000_000,
        nanos: 5,
    };
    assert_eq!(required::<_, Timestamp>(&at, "at"), Ok(stamp));
    assert_eq!(required::<_, Timestamp>(&Some(at), "at"), Ok(stamp));
    assert_eq!(required::<_, Timestamp>(&stamp, "at"), Ok(stamp));
    let err = required::<_, Timestamp>(&None::<SystemTime>, "at").expect_err("absent");
    assert_eq!(err.field(), "at");
    assert!(err.message().contains("absent"), "{err}");
    let window = Duration::from_millis(1_500);
    assert_eq!(
        required::<_, prost_types::Duration>(&Some(window), "window"),
        Ok(prost_types::Duration {
            seconds: 1,
            nanos: 500_000_000
        })
    );
    // Out of range: the conversion's own error, at the field.
    let late = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
    let err = required::<_, Timestamp>(&Some(late), "at").expect_err("too late");
    assert_eq!(err.field(), "at");
    assert!(err.message().contains("google.protobuf.Timestamp"), "{err}");
}
