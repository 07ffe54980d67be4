/// Parses `"90s"`, `"15m"`, `"2h"`, `"1h30m"` or a bare number of seconds into seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("an empty duration".into());
    }
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    let (mut total, mut num) = (0u64, String::new());
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(format!("`{s}` is not a duration (use e.g. 30s, 15m, 1h)")),
        };
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a duration (use e.g. 30s, 15m, 1h)"))?;
        total = total.saturating_add(n.saturating_mul(unit));
        num.clear();
    }
    if !num.is_empty() {
        return Err(format!("`{s}`: a number without a unit at the end"));
    }
    Ok(total)
}
