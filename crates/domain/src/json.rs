//! JSON values that are stored as PostgreSQL `jsonb` and read back: every number must survive
//! the round trip. PostgreSQL keeps a number as `numeric` and prints it in plain decimal
//! (`1.7976931348623157e308` comes back as 309 digits), which serde reads back as a float
//! that can overflow to infinity and fail, turning every later read of the row into an error.

use serde_json::Value;

/// The first number in `v` that could not be read back once stored, as a JSON path below
/// `field` (`params.limits[2]`) and a reason; `None` when every number is fine.
pub fn unstorable_number(field: &str, v: &Value) -> Option<(String, String)> {
    match v {
        Value::Number(n) => {
            // Integers (i64/u64) are printed and read back as they are.
            if n.is_i64() || n.is_u64() {
                return None;
            }
            let f = n.as_f64()?;
            let plain = plain_decimal(&serde_json::to_string(&f).ok()?);
            // Read back as a `Value`, the way a jsonb column is decoded.
            match serde_json::from_str::<Value>(&plain) {
                Ok(back) if back.as_f64().is_some_and(f64::is_finite) => None,
                _ => Some((
                    field.to_string(),
                    format!(
                        "{field}: the number {f:e} is too large to store and read back \
                         (at most about 1e308 in magnitude)"
                    ),
                )),
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| unstorable_number(&format!("{field}[{i}]"), x)),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, x)| unstorable_number(&format!("{field}.{k}"), x)),
        _ => None,
    }
}

/// `1.5e3` as `1500`, `2.5e-3` as `0.0025`: how PostgreSQL's `numeric` prints a number.
fn plain_decimal(s: &str) -> String {
    let Some((mantissa, exp)) = s.split_once(['e', 'E']) else {
        return s.to_string();
    };
    let Ok(exp) = exp.parse::<i64>() else {
        return s.to_string();
    };
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    // Position of the decimal point within `digits` after shifting by `exp`.
    let point = int.len() as i64 + exp;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_decimal_expands_exponents_like_postgres() {
        assert_eq!(plain_decimal("1.5e3"), "1500");
        assert_eq!(plain_decimal("-2.5e-3"), "-0.0025");
        assert_eq!(plain_decimal("1.25e1"), "12.5");
        assert_eq!(plain_decimal("0.5"), "0.5");
    }

    #[test]
    fn the_largest_doubles_are_refused_with_their_path() {
        let v: Value =
            serde_json::from_str(r#"{"a": [1, {"b": 1.7976931348623157e+308}]}"#).unwrap();
        let (path, reason) = unstorable_number("params", &v).unwrap();
        assert_eq!(path, "params.a[1].b");
        assert!(reason.contains("too large"), "{reason}");
        let neg: Value = serde_json::from_str("-1.7976931348623157e308").unwrap();
        assert!(unstorable_number("x", &neg).is_some());
    }

    #[test]
    fn ordinary_numbers_pass() {
        let v = json!({"n": 41, "big": u64::MAX, "neg": i64::MIN, "f": 0.1, "e": 1e300,
            "tiny": 5e-324, "s": "1e999", "list": [1.5, -2.25e10]});
        assert_eq!(unstorable_number("params", &v), None);
    }
}
