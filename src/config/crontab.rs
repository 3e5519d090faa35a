//! Cron expressions as crontab means them, on top of the `cron` crate. The crate numbers
//! weekdays from 1 = Sunday and ANDs a restricted day of month with a restricted weekday;
//! crontab numbers them 0–7 (0 and 7 = Sunday, 1 = Monday) and runs when either matches.
//! Both the 5-field and the 6/7-field (seconds first) form get crontab's meaning, so a
//! weekday number means one thing everywhere.

use std::str::FromStr;

use chrono::{DateTime, TimeZone};

use super::error::Invalid;

/// A parsed cron expression: one crate schedule, or two whose ticks are merged when
/// crontab's day-of-month OR weekday rule applies.
#[derive(Debug, Clone)]
pub struct Cron {
    parts: Vec<cron::Schedule>,
}

impl Cron {
    /// Parses 5 fields (minute hour day-of-month month weekday), 6/7 fields (seconds
    /// first, optional year last) or one of crontab's shorthands (`@hourly`); the message says what is wrong and how to write it.
    pub fn parse(text: &str) -> Result<Cron, Invalid> {
        let expanded = expand_macro(text)?;
        let mut fields: Vec<&str> = expanded.split_whitespace().collect();
        match fields.len() {
            5 => fields.insert(0, "0"),
            6 | 7 => {}
            n => {
                return Err(format!(
                    "`{text}` has {n} fields; write 5 (minute hour day-of-month month weekday, as in crontab) or 6/7 (seconds first, optional year last)"
                ).into())
            }
        }
        let (dom, dow) = (fields[3], fields[5]);
        let weekdays = weekdays(dow).map_err(|why| {
            format!("`{text}`: weekday `{dow}`: {why}; use 0-7 (0 and 7 are Sunday, 1 is Monday) or mon..sun, with ranges (1-5), lists (1,3) and steps (*/2)")
        })?;
        let with = |dom: &str, dow: &str| {
            let mut f: Vec<&str> = fields.clone();
            f[3] = dom;
            f[5] = dow;
            f.join(" ")
        };
        let expressions = if unrestricted(dom) || unrestricted(dow) {
            vec![with(dom, &weekdays)]
        } else {
            // crontab: with both restricted, a day matches when either field does.
            vec![with(dom, "*"), with("*", &weekdays)]
        };
        let parts = expressions
            .iter()
            .map(|e| cron::Schedule::from_str(e).map_err(|e| crate_error(text, &e)))
            .collect::<Result<_, _>>()?;
        Ok(Cron { parts })
    }

    /// The first tick strictly after `t`, in `t`'s timezone; `None` when there is none.
    pub fn next_after<Z: TimeZone>(&self, t: &DateTime<Z>) -> Option<DateTime<Z>> {
        self.parts.iter().filter_map(|s| s.after(t).next()).min()
    }
}

/// crontab's `@hourly`-style shorthands as the 5 fields they stand for; any other
/// text as it is.
fn expand_macro(text: &str) -> Result<String, Invalid> {
    let t = text.trim();
    if !t.starts_with('@') {
        return Ok(text.to_string());
    }
    let fields = match t.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        "@reboot" => return Err(format!("`{t}` is not supported: the agent runs a pass at start when its state dir records none; write a schedule such as \"@daily\" or \"*/5 * * * *\"").into()),
        _ => return Err(format!("`{t}` is not a shorthand; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly, or write 5 fields").into()),
    };
    Ok(fields.to_string())
}

/// As in crontab, a field that starts with `*` does not restrict the day (so `*/2` in
/// one day field leaves the other alone).
fn unrestricted(field: &str) -> bool {
    field.starts_with('*') || field == "?"
}

fn crate_error(text: &str, e: &cron::error::Error) -> Invalid {
    // The parser's message repeats the expression and a caret; its last line says why.
    let full = e.to_string();
    let why = full
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(&full)
        .trim()
        .to_string();
    format!("`{text}` is not a cron expression: {why}; e.g. \"*/5 * * * *\"").into()
}

/// crontab's weekday field in the crate's notation (1 = Sunday … 7 = Saturday).
fn weekdays(field: &str) -> Result<String, Invalid> {
    if unrestricted(field) && !field.contains('/') {
        return Ok("*".to_string());
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("step `{s}` is not a number above 0"))?;
                (r, Some(step))
            }
            None => (item, None),
        };
        let (first, last) = match range.split_once('-') {
            _ if range == "*" => (0, 7),
            Some((a, b)) => {
                let a = day(a)?;
                // `fri-sun`: the name ends the week.
                let b = match day(b)? {
                    0 if a > 0 && !b.chars().all(|c| c.is_ascii_digit()) => 7,
                    b => b,
                };
                if a > b {
                    return Err(format!("range `{range}` runs backwards; write e.g. 5-7").into());
                }
                (a, b)
            }
            None if step.is_some() => {
                return Err(format!(
                    "`{item}` has a step but no range; write e.g. {range}-7/{}",
                    step.unwrap_or(1)
                )
                .into())
            }
            None => {
                let d = day(range)?;
                (d, d)
            }
        };
        for d in (first..=last).step_by(step.unwrap_or(1) as usize) {
            days[(d % 7) as usize] = true;
        }
    }
    Ok(days
        .iter()
        .enumerate()
        .filter(|(_, on)| **on)
        .map(|(d, _)| (d + 1).to_string())
        .collect::<Vec<_>>()
        .join(","))
}

/// One crontab weekday: 0–7 or a name, as 0–7.
fn day(text: &str) -> Result<u32, Invalid> {
    if let Ok(n) = text.parse::<u32>() {
        return if n <= 7 {
            Ok(n)
        } else {
            Err(format!("`{n}` is out of range").into())
        };
    }
    let n = match text.to_ascii_lowercase().as_str() {
        "sun" | "sunday" => 0,
        "mon" | "monday" => 1,
        "tue" | "tues" | "tuesday" => 2,
        "wed" | "wednesday" => 3,
        "thu" | "thurs" | "thursday" => 4,
        "fri" | "friday" => 5,
        "sat" | "saturday" => 6,
        _ => return Err(format!("`{text}` is not a day").into()),
    };
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Utc, Weekday};

    /// Weekdays of the next 14 daily ticks from a Monday, in order of first appearance.
    fn days_of(text: &str) -> Vec<Weekday> {
        let cron = Cron::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut t = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap(); // a Sunday noon
        let mut seen = Vec::new();
        for _ in 0..14 {
            t = cron.next_after(&t).unwrap();
            if !seen.contains(&t.weekday()) {
                seen.push(t.weekday());
            }
        }
        seen
    }

    #[test]
    fn weekday_numbers_and_names_mean_what_crontab_means() {
        use Weekday::*;
        // (weekday field, the days it runs on, from Monday 2026-11-23)
        let table: &[(&str, &[Weekday])] = &[
            ("1", &[Mon]),
            ("2", &[Tue]),
            ("3", &[Wed]),
            ("4", &[Thu]),
            ("5", &[Fri]),
            ("6", &[Sat]),
            ("0", &[Sun]),
            ("7", &[Sun]),
            ("mon", &[Mon]),
            ("SUN", &[Sun]),
            ("1-5", &[Mon, Tue, Wed, Thu, Fri]),
            ("mon-fri", &[Mon, Tue, Wed, Thu, Fri]),
            ("5-7", &[Fri, Sat, Sun]),
            ("fri-sun", &[Fri, Sat, Sun]),
            ("0,6", &[Sat, Sun]),
            ("sat,sun", &[Sat, Sun]),
            ("1-5/2", &[Mon, Wed, Fri]),
            ("*/2", &[Tue, Thu, Sat, Sun]),
            ("0-7", &[Mon, Tue, Wed, Thu, Fri, Sat, Sun]),
            ("*", &[Mon, Tue, Wed, Thu, Fri, Sat, Sun]),
        ];
        for (field, want) in table {
            for text in [
                format!("0 3 * * {field}"),
                format!("0 0 3 * * {field}"),
                format!("0 0 3 * * {field} *"),
            ] {
                let mut got = days_of(&text);
                let mut want = want.to_vec();
                got.sort_by_key(|d| d.num_days_from_monday());
                want.sort_by_key(|d| d.num_days_from_monday());
                assert_eq!(got, want, "{text}");
            }
        }
    }

    #[test]
    fn shorthands_mean_what_crontab_means() {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 10, 30, 0).unwrap(); // a Wednesday
        for (text, next) in [
            ("@hourly", "2026-11-25 11:00:00"),
            ("@daily", "2026-11-26 00:00:00"),
            ("@midnight", "2026-11-26 00:00:00"),
            ("@weekly", "2026-11-29 00:00:00"),
            ("@monthly", "2026-12-01 00:00:00"),
            ("@yearly", "2027-01-01 00:00:00"),
            ("@annually", "2027-01-01 00:00:00"),
        ] {
            let cron = Cron::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let got = cron.next_after(&t).unwrap();
            assert_eq!(got.format("%Y-%m-%d %H:%M:%S").to_string(), next, "{text}");
        }
        let e = Cron::parse("@fortnightly").unwrap_err().to_string();
        assert!(
            e.contains("`@fortnightly` is not a shorthand; use @yearly"),
            "{e}"
        );
        let e = Cron::parse("@reboot").unwrap_err().to_string();
        assert!(e.contains("`@reboot` is not supported"), "{e}");
    }

    #[test]
    fn bad_weekdays_say_what_to_write() {
        for (field, why) in [
            ("8", "`8` is out of range"),
            ("mon-funday", "`funday` is not a day"),
            ("5-1", "runs backwards"),
            ("*/0", "step `0`"),
            ("3/2", "no range"),
            ("5L", "`5L` is not a day"),
        ] {
            let e = Cron::parse(&format!("0 3 * * {field}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{field}: {e}");
            assert!(e.contains("0 and 7 are Sunday"), "{field}: {e}");
        }
    }

    #[test]
    fn day_of_month_or_weekday_as_in_crontab() {
        // Both restricted: the 1st of the month, and every Monday.
        let cron = Cron::parse("0 3 1 * mon").unwrap();
        let mut t = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap(); // a Wednesday
        let mut ticks = Vec::new();
        for _ in 0..4 {
            t = cron.next_after(&t).unwrap();
            ticks.push(t.format("%Y-%m-%d %a").to_string());
        }
        assert_eq!(
            ticks,
            [
                "2026-11-30 Mon",
                "2026-12-01 Tue",
                "2026-12-07 Mon",
                "2026-12-14 Mon"
            ]
        );
        // A field starting with `*` restricts nothing: the other field alone decides.
        let only_mondays = Cron::parse("0 3 * * mon").unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
        assert_eq!(only_mondays.next_after(&t).unwrap().weekday(), Weekday::Mon);
        let first_on_a_sunday_or_saturday = Cron::parse("0 3 1 * */6").unwrap();
        let t = first_on_a_sunday_or_saturday
            .next_after(&Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap())
            .unwrap();
        assert_eq!(
            t.format("%Y-%m-%d").to_string(),
            "2026-02-01",
            "a Sunday, the 1st"
        );
    }
}
