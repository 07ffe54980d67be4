//! Business hours: the days and the daily window, in an IANA time zone, during which actions
//! may run.

use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// A daily window `[start, end)` on some weekdays, read in `tz`. Minutes since midnight, so
/// that `24:00` can close a window at the end of the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    pub days: Vec<Weekday>,
    pub start_min: u16,
    pub end_min: u16,
    pub tz: Tz,
}

/// Why a business-hours value is invalid (the caller names the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("`{0}` is not a time of day (expected HH:MM, 00:00 to 24:00)")]
    Time(String),
    #[error("`{0}` is not a day (expected mon, tue, wed, thu, fri, sat or sun)")]
    Day(String),
    #[error("`{0}` is not an IANA time zone (e.g. Europe/Madrid, UTC)")]
    Zone(String),
}

impl BusinessHours {
    /// Whether `now` falls inside the window.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.tz);
        let minute = (local.hour() * 60 + local.minute()) as u16;
        self.days.contains(&local.weekday()) && minute >= self.start_min && minute < self.end_min
    }

    /// `Sat 19:05 Europe/Madrid`, for rejection reasons.
    pub fn local_time(&self, now: DateTime<Utc>) -> String {
        let local = now.with_timezone(&self.tz);
        format!(
            "{} {:02}:{:02} {}",
            local.weekday(),
            local.hour(),
            local.minute(),
            self.tz.name()
        )
    }
}

impl fmt::Display for BusinessHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<String> = self
            .days
            .iter()
            .map(|d| d.to_string().to_lowercase())
            .collect();
        write!(
            f,
            "{} {}-{} {}",
            days.join(","),
            show_minutes(self.start_min),
            show_minutes(self.end_min),
            self.tz.name()
        )
    }
}

fn show_minutes(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// `HH:MM` → minutes since midnight; `24:00` is the end of the day.
pub fn parse_time(s: &str) -> Result<u16, HoursError> {
    let bad = || HoursError::Time(s.to_string());
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    match (h, m) {
        (24, 0) => Ok(24 * 60),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

/// `mon`, `Monday`, `MON`... → the weekday.
pub fn parse_day(s: &str) -> Result<Weekday, HoursError> {
    let lower = s.trim().to_ascii_lowercase();
    let day = match lower.get(..3) {
        Some("mon") => Weekday::Mon,
        Some("tue") => Weekday::Tue,
        Some("wed") => Weekday::Wed,
        Some("thu") => Weekday::Thu,
        Some("fri") => Weekday::Fri,
        Some("sat") => Weekday::Sat,
        Some("sun") => Weekday::Sun,
        _ => return Err(HoursError::Day(s.to_string())),
    };
    // Only the abbreviation or the full English name, not `monkey`.
    let full = match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    };
    if lower.len() == 3 || lower == full {
        Ok(day)
    } else {
        Err(HoursError::Day(s.to_string()))
    }
}

pub fn parse_zone(s: &str) -> Result<Tz, HoursError> {
    s.trim()
        .parse::<Tz>()
        .map_err(|_| HoursError::Zone(s.to_string()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn madrid_office() -> BusinessHours {
        BusinessHours {
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            start_min: parse_time("09:00").unwrap(),
            end_min: parse_time("18:00").unwrap(),
            tz: parse_zone("Europe/Madrid").unwrap(),
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn the_window_is_read_in_the_configured_zone() {
        let hours = madrid_office();
        // Wednesday 2025-01-15: Madrid is UTC+1 in winter.
        assert!(!hours.contains(utc(2025, 1, 15, 7, 59)), "08:59 local");
        assert!(hours.contains(utc(2025, 1, 15, 8, 0)), "09:00 local");
        assert!(hours.contains(utc(2025, 1, 15, 16, 59)), "17:59 local");
        assert!(
            !hours.contains(utc(2025, 1, 15, 17, 0)),
            "18:00 local is out"
        );
        // Summer time: UTC+2.
        assert!(
            hours.contains(utc(2025, 7, 16, 7, 0)),
            "09:00 local in July"
        );
        assert!(
            !hours.contains(utc(2025, 7, 16, 16, 0)),
            "18:00 local in July"
        );
    }

    #[test]
    fn days_are_local_days() {
        let hours = madrid_office();
        // Saturday 2025-01-18 10:00 local.
        assert!(!hours.contains(utc(2025, 1, 18, 9, 0)));
        assert_eq!(
            hours.local_time(utc(2025, 1, 18, 9, 0)),
            "Sat 10:00 Europe/Madrid"
        );
        // Friday 23:30 UTC is already Saturday in Madrid.
        let late = BusinessHours {
            start_min: 0,
            end_min: 24 * 60,
            ..madrid_office()
        };
        assert!(!late.contains(utc(2025, 1, 17, 23, 30)));
        assert!(late.contains(utc(2025, 1, 17, 22, 30)));
    }

    #[test]
    fn values_are_parsed_strictly() {
        assert_eq!(parse_time("00:00"), Ok(0));
        assert_eq!(parse_time("24:00"), Ok(1440));
        assert_eq!(parse_time(" 09:30 "), Ok(570));
        for bad in ["9:00", "24:01", "12:60", "noon", "12-00", ""] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_day("MON"), Ok(Weekday::Mon));
        assert_eq!(parse_day("Sunday"), Ok(Weekday::Sun));
        assert!(parse_day("monkey").is_err());
        assert!(parse_day("lun").is_err());
        assert!(parse_zone("Europe/Madrid").is_ok());
        assert!(parse_zone("Mars/Olympus").is_err());
        assert_eq!(
            madrid_office().to_string(),
            "mon,tue,wed,thu,fri 09:00-18:00 Europe/Madrid"
        );
    }
}
