//! Integers written as JSON numbers with a zero fraction (`41.0`): JSON Schema counts them
//! as integers and some producers (JavaScript, log shippers) write them so; serde alone
//! would refuse them.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("integer {v} is too large")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
            Ok(v as i64)
        } else {
            Err(E::custom(format!("{v} is not an integer")))
        }
    }
}

fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(IntVisitor)
}

/// `Option<i64>` accepting `41` and `41.0`.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct Opt;
    impl<'de> Visitor<'de> for Opt {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            int(d).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

/// `u16` accepting `503` and `503.0`.
pub fn u16_int<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let v = int(d)?;
    u16::try_from(v).map_err(|_| de::Error::custom(format!("{v} is out of range")))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::opt_i64")]
        a: Option<i64>,
        #[serde(deserialize_with = "super::u16_int")]
        b: u16,
    }

    #[test]
    fn whole_floats_are_integers() {
        let t: T = serde_json::from_str(r#"{"a": 41.0, "b": 503.0}"#).unwrap();
        assert_eq!((t.a, t.b), (Some(41), 503));
        let t: T = serde_json::from_str(r#"{"a": null, "b": 200}"#).unwrap();
        assert_eq!(t.a, None);
        let t: T = serde_json::from_str(r#"{"b": 200}"#).unwrap();
        assert_eq!(t.a, None);
        assert!(serde_json::from_str::<T>(r#"{"a": 41.5, "b": 1}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"b": 70000}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"b": "200"}"#).is_err());
    }
}
