//! The phone's clock: from an IANA time-zone name (`[site] timezone =
//! "Europe/Berlin"`) and a year, the SIP firmware's `time_zone`, `dst_offset`,
//! `dst_start_*`, `dst_stop_*` and `dst_auto_adjust` parameters.
//!
//! # What the phone wants
//!
//! A 7940/7960 running SIP firmware keeps its clock in UTC (from SNTP) and
//! needs three things to show local time:
//!
//! - `time_zone`: an abbreviation naming the zone's **standard** offset
//!   (`CET` for Berlin, also in summer). The phone adds daylight saving time
//!   itself.
//! - `dst_offset`: how many hours the clock goes forward in summer.
//! - one rule for the start and one for the stop of daylight saving time:
//!   the month, then either the n-th weekday of the month
//!   (`dst_start_week_of_month` 1–4, or 8 for "the last one", with
//!   `dst_start_day_of_week`, and `dst_start_day` 0, which Cisco's guide
//!   defines as "ignore the day, use the weekday") or a fixed day of the
//!   month (`dst_start_day` 1–31), and the hour (`dst_start_time`).
//!
//! The hour is the local wall-clock time just before the change, as in
//! Cisco's own sample, which writes 2 for both ends of the US rule: Europe/Berlin
//! starts at 2 (02:00 CET becomes 03:00 CEST) and stops at 3 (03:00 CEST
//! becomes 02:00 CET); America/New_York starts and stops at 2.
//!
//! phoneprov reads the rule off the real clock changes of the year in the
//! embedded time-zone database, so it follows whatever a country decided
//! (the 2007 US rule, the southern hemisphere's October-to-April summer, the
//! end of daylight saving time in Brazil in 2019). Zones without daylight
//! saving time get `dst_offset` 0 and `dst_auto_adjust` 0. A rule that
//! repeats on the same weekday is written as a weekday rule, so that it stays
//! right in the following years; one that falls on the same day of the month
//! every year is written as that day. A year the phone cannot describe (a
//! single change because a country stopped or started daylight saving time,
//! a change at 02:45, half an hour of daylight saving) is refused with an
//! error that names the zone and says to set the parameters by hand.
//!
//! # What is uncertain
//!
//! Cisco's table of the `time_zone` abbreviations the firmware knows has not
//! been found. phoneprov picks one abbreviation per standard offset (see
//! [`ABBREVIATIONS`]); `EST`, `CST`, `PST`, `GMT` and `CET` have been seen in
//! working 79xx configurations, the others are the usual names for those
//! offsets. A zone whose standard offset is not in the table (Asia/Kathmandu,
//! UTC+05:45) is refused with an error that says so. Either way, `time_zone`
//! (and any `dst_*` parameter) set in `[defaults]` or in a phone's `params`
//! wins over the derived value: if a phone shows the wrong time, set
//! `time_zone` there by hand.
//!
//! Cisco documents the week of month as "1 through 6 and 8, 8 being the last
//! week"; phoneprov writes the n-th occurrence of the weekday (the second
//! Sunday of March is week 2), as every known template does. If a phone
//! changes its clock a week late, override `dst_start_week_of_month` /
//! `dst_stop_week_of_month`.

use chrono::{
    Datelike, Month, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Weekday,
};
use chrono_tz::Tz;

use crate::params::{edit_distance, RawValue, MONTHS, WEEKDAYS};

/// The `time_zone` abbreviation the phone is given for each standard UTC
/// offset, in minutes east of UTC. One name per offset; the phone only needs
/// the offset, the name is how it is spelled.
pub const ABBREVIATIONS: &[(i32, &str)] = &[
    (-10 * 60, "HST"),
    (-9 * 60, "AKST"),
    (-8 * 60, "PST"),
    (-7 * 60, "MST"),
    (-6 * 60, "CST"),
    (-5 * 60, "EST"),
    (-4 * 60, "AST"),
    (-3 * 60 - 30, "NST"),
    (-3 * 60, "BRT"),
    (0, "GMT"),
    (60, "CET"),
    (2 * 60, "EET"),
    (3 * 60, "MSK"),
    (4 * 60, "GST"),
    (5 * 60, "PKT"),
    (5 * 60 + 30, "IST"),
    (7 * 60, "ICT"),
    (8 * 60, "AWST"),
    (9 * 60, "JST"),
    (9 * 60 + 30, "ACST"),
    (10 * 60, "AEST"),
    (12 * 60, "NZST"),
];

/// `dst_offset` and the start and stop rules of one year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaylightSaving {
    /// Hours the clock goes forward.
    pub offset_hours: i64,
    pub start: ClockChange,
    pub stop: ClockChange,
}

/// One change of the clock, as the phone is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockChange {
    /// The local date of the change in the year asked for.
    pub date: NaiveDate,
    /// The hour on the local clock just before the change.
    pub hour: u32,
    /// How the day is given to the phone.
    pub day: DayRule,
}

/// How a change's day is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRule {
    /// The n-th (or last) weekday of the month: `dst_*_day` 0.
    WeekdayOfMonth,
    /// The same day of the month every year: `dst_*_day` is that day.
    DayOfMonth,
}

/// The clock parameters of one zone in one year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockSettings {
    pub zone: Tz,
    /// The phone's abbreviation for the zone's standard offset.
    pub time_zone: &'static str,
    /// `None` when the zone keeps one offset all year.
    pub daylight_saving: Option<DaylightSaving>,
}

/// Why a zone's clock cannot be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error("\"{name}\" is not an IANA time-zone name; {}", hint(nearest))]
    UnknownZone {
        name: String,
        /// The closest valid names, best first.
        nearest: Vec<&'static str>,
    },
    #[error(
        "{zone} keeps {} as standard time, and the 7940/7960 has no known time_zone \
         abbreviation for that offset: set time_zone (and the dst_* parameters) in [defaults] \
         by hand",
        utc_offset(*offset_seconds)
    )]
    NoAbbreviation { zone: Tz, offset_seconds: i32 },
    #[error(
        "{zone} changes its clocks in {year} in a way the 7940/7960 cannot follow ({why}): \
         set time_zone and the dst_* parameters in [defaults] by hand"
    )]
    Unfollowable { zone: Tz, year: i32, why: String },
    #[error("year {0} is outside the time-zone database")]
    YearOutOfRange(i32),
}

fn hint(nearest: &[&str]) -> String {
    if nearest.is_empty() {
        "write a name such as Europe/Berlin or America/New_York".into()
    } else {
        format!("did you mean {}?", nearest.join(" or "))
    }
}

/// `UTC+05:45`, `UTC-03:30`.
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

impl ClockSettings {
    /// Derives the clock parameters of `iana` (e.g. `Europe/Berlin`) for `year`.
    pub fn for_zone(iana: &str, year: i32) -> Result<ClockSettings, ClockError> {
        let zone: Tz = iana.parse().map_err(|_| ClockError::UnknownZone {
            name: iana.to_string(),
            nearest: nearest_zones(iana),
        })?;
        let unfollowable = |why: String| ClockError::Unfollowable { zone, year, why };
        let changes = offset_changes(zone, year)?;
        let (standard, daylight_saving) = match changes.as_slice() {
            [] => (offset_at(zone, year_start(year)?), None),
            [first, second] if first.before == second.after && first.after == second.before => {
                let (start, stop) = if first.after > first.before {
                    (first, second)
                } else {
                    (second, first)
                };
                let saved = start.after - start.before;
                if saved % 3600 != 0 {
                    return Err(unfollowable(format!(
                        "the clock goes forward by {} minutes, and dst_offset takes whole hours",
                        saved / 60
                    )));
                }
                let next_year = offset_changes(zone, year + 1)?;
                let following = |change: &OffsetChange| {
                    next_year
                        .iter()
                        .find(|next| next.before == change.before && next.after == change.after)
                        .map(OffsetChange::local)
                };
                let daylight_saving = DaylightSaving {
                    offset_hours: i64::from(saved / 3600),
                    start: ClockChange::new(start.local(), following(start))
                        .map_err(unfollowable)?,
                    stop: ClockChange::new(stop.local(), following(stop)).map_err(unfollowable)?,
                };
                (start.before, Some(daylight_saving))
            }
            _ => {
                let list: Vec<String> = changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{} to {} on {}",
                            utc_offset(c.before),
                            utc_offset(c.after),
                            c.local()
                        )
                    })
                    .collect();
                return Err(unfollowable(format!(
                    "{} change{}: {}",
                    changes.len(),
                    if changes.len() == 1 { "" } else { "s" },
                    list.join(", ")
                )));
            }
        };
        let time_zone = ABBREVIATIONS
            .iter()
            .find(|(minutes, _)| minutes * 60 == standard)
            .map(|(_, name)| *name)
            .ok_or(ClockError::NoAbbreviation {
                zone,
                offset_seconds: standard,
            })?;
        Ok(ClockSettings {
            zone,
            time_zone,
            daylight_saving,
        })
    }

    /// The parameters to render, in SIPDefault.cnf order; each passes the
    /// parameter table's check.
    pub fn params(&self) -> Vec<(&'static str, RawValue)> {
        let mut params = vec![("time_zone", RawValue::Text(self.time_zone.to_string()))];
        match &self.daylight_saving {
            None => {
                params.push(("dst_offset", RawValue::Integer(0)));
                params.push(("dst_auto_adjust", RawValue::Integer(0)));
            }
            Some(dst) => {
                params.push(("dst_offset", RawValue::Integer(dst.offset_hours)));
                params.extend(dst.start.params([
                    "dst_start_month",
                    "dst_start_day",
                    "dst_start_day_of_week",
                    "dst_start_week_of_month",
                    "dst_start_time",
                ]));
                params.extend(dst.stop.params([
                    "dst_stop_month",
                    "dst_stop_day",
                    "dst_stop_day_of_week",
                    "dst_stop_week_of_month",
                    "dst_stop_time",
                ]));
                params.push(("dst_auto_adjust", RawValue::Integer(1)));
            }
        }
        params
    }
}

impl ClockChange {
    /// The change at `local` (wall clock just before it), written as a
    /// weekday rule unless the following year's change (`next`) shows that
    /// it keeps its day of the month instead.
    fn new(local: NaiveDateTime, next: Option<NaiveDateTime>) -> Result<ClockChange, String> {
        if local.minute() != 0 || local.second() != 0 {
            return Err(format!(
                "the clock changes at {}, and dst_*_time takes whole hours",
                local.time()
            ));
        }
        let mut change = ClockChange {
            date: local.date(),
            hour: local.hour(),
            day: DayRule::WeekdayOfMonth,
        };
        if let Some(next) = next.map(|n| n.date()) {
            let same_day = next.month() == change.date.month() && next.day() == change.date.day();
            if same_day && change.weekday_rule_date(next.year()) != Some(next) {
                change.day = DayRule::DayOfMonth;
            }
        }
        Ok(change)
    }

    /// 1–4 for the n-th weekday of the month, 8 when it is the last one.
    pub fn week_of_month(&self) -> u32 {
        let day = self.date.day();
        if day + 7 > days_in_month(self.date.year(), self.date.month()) {
            8
        } else {
            (day - 1) / 7 + 1
        }
    }

    /// The date the weekday rule of this change gives in `year`.
    fn weekday_rule_date(&self, year: i32) -> Option<NaiveDate> {
        let (month, weekday) = (self.date.month(), self.date.weekday());
        match self.week_of_month() {
            8 => {
                let last = NaiveDate::from_ymd_opt(year, month, days_in_month(year, month))?;
                let back = (7 + last.weekday().num_days_from_monday()
                    - weekday.num_days_from_monday())
                    % 7;
                last.checked_sub_days(chrono::Days::new(u64::from(back)))
            }
            week => NaiveDate::from_weekday_of_month_opt(year, month, weekday, week as u8),
        }
    }

    fn params(&self, names: [&'static str; 5]) -> [(&'static str, RawValue); 5] {
        let [month, day, day_of_week, week_of_month, time] = names;
        let day_of_month = match self.day {
            DayRule::WeekdayOfMonth => 0,
            DayRule::DayOfMonth => self.date.day(),
        };
        [
            (month, RawValue::Text(month_name(self.date.month()).into())),
            (day, RawValue::Integer(day_of_month.into())),
            (
                day_of_week,
                RawValue::Text(weekday_name(self.date.weekday()).into()),
            ),
            (
                week_of_month,
                RawValue::Integer(self.week_of_month().into()),
            ),
            (time, RawValue::Integer(self.hour.into())),
        ]
    }
}

/// The month's full name, as the parameter table spells it (its first twelve).
fn month_name(month: u32) -> &'static str {
    MONTHS[month as usize - 1]
}

/// The weekday's full name (the table's first seven, Sunday first). Cisco:
/// "case-sensitive and should be typed as cited".
fn weekday_name(weekday: Weekday) -> &'static str {
    WEEKDAYS[weekday.num_days_from_sunday() as usize]
}

fn days_in_month(year: i32, month: u32) -> u32 {
    Month::try_from(month as u8)
        .ok()
        .and_then(|m| m.num_days(year))
        .map_or(31, u32::from)
}

/// A change of the zone's UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OffsetChange {
    /// The first minute (UTC) of the new offset.
    at: NaiveDateTime,
    /// Seconds east of UTC before and after.
    before: i32,
    after: i32,
}

impl OffsetChange {
    /// The local wall-clock time just before the change.
    fn local(&self) -> NaiveDateTime {
        self.at + TimeDelta::seconds(self.before.into())
    }
}

fn year_start(year: i32) -> Result<NaiveDateTime, ClockError> {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .ok_or(ClockError::YearOutOfRange(year))
}

fn offset_at(zone: Tz, utc: NaiveDateTime) -> i32 {
    zone.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

/// Every offset change of `zone` in `year` (UTC), found by sampling every
/// six hours and bisecting to the minute.
fn offset_changes(zone: Tz, year: i32) -> Result<Vec<OffsetChange>, ClockError> {
    const STEP_MINUTES: i64 = 6 * 60;
    let start = year_start(year)?;
    let end = year_start(
        year.checked_add(1)
            .ok_or(ClockError::YearOutOfRange(year))?,
    )?;
    let minutes = (end - start).num_minutes();
    let at = |minute: i64| start + TimeDelta::minutes(minute);
    let mut changes = Vec::new();
    let mut before = offset_at(zone, start);
    let mut sampled = 0;
    while sampled < minutes {
        let next = (sampled + STEP_MINUTES).min(minutes);
        let after = offset_at(zone, at(next));
        if after != before {
            let (mut old, mut new) = (sampled, next);
            while new - old > 1 {
                let middle = old + (new - old) / 2;
                if offset_at(zone, at(middle)) == before {
                    old = middle;
                } else {
                    new = middle;
                }
            }
            changes.push(OffsetChange {
                at: at(new),
                before,
                after,
            });
        }
        before = after;
        sampled = next;
    }
    Ok(changes)
}

/// The valid zone names closest to `name` (case and spaces forgiven; a bare
/// city such as `berlin` matches `Europe/Berlin`).
fn nearest_zones(name: &str) -> Vec<&'static str> {
    let wanted = name.trim().to_lowercase().replace(' ', "_");
    let mut scored: Vec<(usize, &'static str)> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|zone| {
            let full = zone.name().to_lowercase();
            let city = full.rsplit('/').next().unwrap_or(&full);
            let distance = edit_distance(&wanted, &full).min(edit_distance(&wanted, city));
            (distance, zone.name())
        })
        .filter(|(distance, _)| *distance <= 2.max(wanted.len() / 4))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, name)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::lookup;

    fn settings(zone: &str, year: i32) -> ClockSettings {
        ClockSettings::for_zone(zone, year).unwrap_or_else(|e| panic!("{zone}: {e}"))
    }

    fn rendered(settings: &ClockSettings) -> Vec<(&'static str, String)> {
        settings
            .params()
            .into_iter()
            .map(|(name, value)| {
                let (checked, warning) = lookup(name)
                    .unwrap_or_else(|| panic!("{name} is not in the parameter table"))
                    .check(name, &value)
                    .unwrap_or_else(|e| panic!("{}: {e}", settings.zone));
                assert_eq!(warning, None, "{}", settings.zone);
                (name, checked.rendered())
            })
            .collect()
    }

    fn expect(zone: &str, year: i32, lines: &[(&str, &str)]) {
        let got = rendered(&settings(zone, year));
        let want: Vec<(&str, String)> = lines.iter().map(|(n, v)| (*n, v.to_string())).collect();
        assert_eq!(got, want, "{zone} {year}");
    }

    #[test]
    fn berlin_last_sunday_of_march_to_last_sunday_of_october() {
        expect(
            "Europe/Berlin",
            2026,
            &[
                ("time_zone", "\"CET\""),
                ("dst_offset", "1"),
                ("dst_start_month", "\"March\""),
                ("dst_start_day", "0"),
                ("dst_start_day_of_week", "\"Sunday\""),
                ("dst_start_week_of_month", "8"),
                ("dst_start_time", "2"),
                ("dst_stop_month", "\"October\""),
                ("dst_stop_day", "0"),
                ("dst_stop_day_of_week", "\"Sunday\""),
                ("dst_stop_week_of_month", "8"),
                ("dst_stop_time", "3"),
                ("dst_auto_adjust", "1"),
            ],
        );
        let berlin = settings("Europe/Berlin", 2026);
        let dst = berlin.daylight_saving.unwrap();
        assert_eq!(
            dst.start.date,
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        );
        assert_eq!(
            dst.stop.date,
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap()
        );
    }

    #[test]
    fn new_york_follows_the_2007_rule_not_april_to_october() {
        expect(
            "America/New_York",
            2026,
            &[
                ("time_zone", "\"EST\""),
                ("dst_offset", "1"),
                ("dst_start_month", "\"March\""),
                ("dst_start_day", "0"),
                ("dst_start_day_of_week", "\"Sunday\""),
                ("dst_start_week_of_month", "2"),
                ("dst_start_time", "2"),
                ("dst_stop_month", "\"November\""),
                ("dst_stop_day", "0"),
                ("dst_stop_day_of_week", "\"Sunday\""),
                ("dst_stop_week_of_month", "1"),
                ("dst_stop_time", "2"),
                ("dst_auto_adjust", "1"),
            ],
        );
        // A year whose March starts on a Monday: the second Sunday is the 14th.
        let dst = settings("America/New_York", 2027).daylight_saving.unwrap();
        assert_eq!(
            dst.start.date,
            NaiveDate::from_ymd_opt(2027, 3, 14).unwrap()
        );
        assert_eq!(dst.start.week_of_month(), 2);
    }

    #[test]
    fn sydney_summer_spans_the_new_year() {
        expect(
            "Australia/Sydney",
            2026,
            &[
                ("time_zone", "\"AEST\""),
                ("dst_offset", "1"),
                ("dst_start_month", "\"October\""),
                ("dst_start_day", "0"),
                ("dst_start_day_of_week", "\"Sunday\""),
                ("dst_start_week_of_month", "1"),
                ("dst_start_time", "2"),
                ("dst_stop_month", "\"April\""),
                ("dst_stop_day", "0"),
                ("dst_stop_day_of_week", "\"Sunday\""),
                ("dst_stop_week_of_month", "1"),
                ("dst_stop_time", "3"),
                ("dst_auto_adjust", "1"),
            ],
        );
    }

    #[test]
    fn dublin_winter_time_is_the_standard_for_the_phone() {
        // The tz database calls Irish summer time standard and winter time
        // negative daylight saving; the phone only knows a positive offset.
        let dublin = settings("Europe/Dublin", 2026);
        assert_eq!(dublin.time_zone, "GMT");
        let dst = dublin.daylight_saving.unwrap();
        assert_eq!((dst.offset_hours, dst.start.hour, dst.stop.hour), (1, 1, 2));
        assert_eq!(dst.start.date.month(), 3);
    }

    #[test]
    fn zones_without_daylight_saving_time() {
        let none = |zone: &str, abbreviation: &str| {
            expect(
                zone,
                2026,
                &[
                    ("time_zone", &format!("\"{abbreviation}\"")),
                    ("dst_offset", "0"),
                    ("dst_auto_adjust", "0"),
                ],
            )
        };
        none("Asia/Tokyo", "JST");
        none("UTC", "GMT");
        // Brazil ended daylight saving time in 2019.
        none("America/Sao_Paulo", "BRT");
        // Half-hour offset.
        none("Asia/Kolkata", "IST");
    }

    #[test]
    fn a_year_with_a_single_change_is_refused() {
        // Sao Paulo's last summer ended on 2019-02-17 and none began.
        let e = ClockSettings::for_zone("America/Sao_Paulo", 2019).unwrap_err();
        let message = e.to_string();
        assert!(
            matches!(e, ClockError::Unfollowable { year: 2019, .. }),
            "{message}"
        );
        assert!(message.contains("2019-02-17"), "{message}");
        assert!(message.contains("[defaults]"), "{message}");
    }

    #[test]
    fn an_offset_without_abbreviation_says_to_set_time_zone_by_hand() {
        let e = ClockSettings::for_zone("Asia/Kathmandu", 2026).unwrap_err();
        assert_eq!(
            e,
            ClockError::NoAbbreviation {
                zone: Tz::Asia__Kathmandu,
                offset_seconds: 5 * 3600 + 45 * 60
            }
        );
        let message = e.to_string();
        assert!(
            message.starts_with("Asia/Kathmandu keeps UTC+05:45"),
            "{message}"
        );
        assert!(message.contains("set time_zone"), "{message}");
        assert!(message.contains("[defaults]"), "{message}");
    }

    #[test]
    fn unknown_names_get_the_nearest_valid_ones() {
        let e = ClockSettings::for_zone("Europe/Berln", 2026).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"Europe/Berln\" is not an IANA time-zone name; did you mean Europe/Berlin?"
        );
        for (typed, meant) in [
            ("europe/berlin", "Europe/Berlin"),
            ("Berlin", "Europe/Berlin"),
            ("new york", "America/New_York"),
        ] {
            let Err(ClockError::UnknownZone { nearest, .. }) = ClockSettings::for_zone(typed, 2026)
            else {
                panic!("{typed} was accepted");
            };
            assert_eq!(nearest.first(), Some(&meant), "{typed}");
        }
        let e = ClockSettings::for_zone("Mars/Olympus_Mons", 2026).unwrap_err();
        assert!(e.to_string().contains("such as Europe/Berlin"), "{e}");
    }

    #[test]
    fn a_fixed_date_is_written_as_the_day_of_the_month() {
        // 2021-03-22 is a Monday; the next year's change falls on 22 March again.
        let local = |y, m, d| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        };
        let fixed = ClockChange::new(local(2021, 3, 22), Some(local(2022, 3, 22))).unwrap();
        assert_eq!(fixed.day, DayRule::DayOfMonth);
        let params = fixed.params(["m", "d", "w", "n", "t"]);
        assert_eq!(params[1], ("d", RawValue::Integer(22)));
        // A weekday rule that happens to repeat the date stays a weekday rule.
        let weekday = ClockChange::new(local(2021, 3, 28), Some(local(2022, 3, 27))).unwrap();
        assert_eq!(weekday.day, DayRule::WeekdayOfMonth);
        assert!(ClockChange::new(local(2021, 3, 28) + TimeDelta::minutes(30), None).is_err());
    }

    #[test]
    fn years_outside_the_database_are_refused() {
        for year in [i32::MAX, i32::MIN, 300_000] {
            assert_eq!(
                ClockSettings::for_zone("UTC", year),
                Err(ClockError::YearOutOfRange(year))
            );
        }
    }

    #[test]
    fn week_of_month_is_the_occurrence_or_8_for_the_last() {
        let change = |d| ClockChange {
            date: NaiveDate::from_ymd_opt(2026, 3, d).unwrap(),
            hour: 2,
            day: DayRule::WeekdayOfMonth,
        };
        let weeks: Vec<u32> = [1, 7, 8, 14, 15, 21, 22, 24, 25, 31]
            .map(|d| change(d).week_of_month())
            .to_vec();
        assert_eq!(weeks, [1, 1, 2, 2, 3, 3, 4, 4, 8, 8]);
        for d in [1, 8, 15, 22, 29] {
            assert_eq!(
                change(d).weekday_rule_date(2026),
                Some(change(d).date),
                "{d}"
            );
        }
    }

    #[test]
    fn every_value_for_every_zone_passes_the_parameter_table() {
        let mut derived = 0;
        for year in [2026, 2027] {
            for zone in chrono_tz::TZ_VARIANTS {
                match ClockSettings::for_zone(zone.name(), year) {
                    Ok(settings) => {
                        rendered(&settings);
                        derived += 1;
                    }
                    Err(e) => assert!(e.to_string().contains("[defaults]"), "{zone}: {e}"),
                }
            }
        }
        assert!(derived > 2 * 400, "only {derived} zones derived");
    }
}
