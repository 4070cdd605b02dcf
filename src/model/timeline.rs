//! The timeline every screen follows: live (following the present), paused at a moment, or
//! playing from a moment at N×. One state for the whole page, written in the URL fragment's
//! query (`at=<epoch ms>` pauses there, `at=…&speed=N` plays from there, neither is live), so a
//! link reopens the same moment while the backend still holds it.

/// The speeds a replay plays at.
pub const SPEEDS: [u32; 6] = [1, 2, 5, 10, 30, 60];

/// Where the page is in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Following the present: what arrives is what is shown.
    #[default]
    Live,
    /// Holding one moment (Unix ms).
    Paused { at: i64 },
    /// Moving from `from` (Unix ms) at `speed`×, counted from the wall-clock time `since`.
    Playing { from: i64, speed: u32, since: i64 },
}

/// The page's timeline: its mode and the range it may move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeline {
    pub mode: Mode,
}

impl Timeline {
    /// The moment shown at wall-clock time `now`, or `None` when live. A replay that reaches
    /// the present holds there (the caller turns it live: [`Timeline::caught_up`]).
    pub fn moment(&self, now: i64) -> Option<i64> {
        match self.mode {
            Mode::Live => None,
            Mode::Paused { at } => Some(at.min(now)),
            Mode::Playing { from, speed, since } => {
                Some(from.saturating_add((now - since).max(0).saturating_mul(i64::from(speed))).min(now))
            }
        }
    }

    pub fn is_live(&self) -> bool {
        self.mode == Mode::Live
    }

    /// The speed played at, if playing.
    pub fn speed(&self) -> Option<u32> {
        match self.mode {
            Mode::Playing { speed, .. } => Some(speed),
            _ => None,
        }
    }

    /// Whether a replay has reached the present (within a second), so the page goes live.
    pub fn caught_up(&self, now: i64) -> bool {
        matches!(self.mode, Mode::Playing { .. }) && self.moment(now).is_some_and(|at| at >= now - 1_000)
    }

    /// Holds the moment shown at `now` (live pauses at the present).
    pub fn pause(&mut self, now: i64) {
        self.mode = Mode::Paused { at: self.moment(now).unwrap_or(now) };
    }

    /// Plays from the moment shown at `now` at `speed`× (from a minute back when live).
    pub fn play(&mut self, speed: u32, now: i64) {
        let from = self.moment(now).unwrap_or(now - 60_000);
        self.mode = Mode::Playing { from, speed: speed.max(1), since: now };
    }

    /// Moves to `at`, keeping whether it plays and at what speed.
    pub fn seek(&mut self, at: i64, now: i64) {
        let at = at.min(now);
        self.mode = match self.mode {
            Mode::Playing { speed, .. } => Mode::Playing { from: at, speed, since: now },
            _ => Mode::Paused { at },
        };
    }

    pub fn go_live(&mut self) {
        self.mode = Mode::Live;
    }

    /// The timeline a URL fragment names: `at` (epoch ms) with an optional `speed` (one of
    /// [`SPEEDS`]; another number is the nearest below it). Anything else is live. `now` starts
    /// the clock of a replay.
    pub fn from_fragment(fragment: &str, now: i64) -> Self {
        let query = fragment.split_once('?').map_or("", |(_, q)| q);
        let value = |name: &str| {
            query.split('&').find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
        };
        let at = value("at").and_then(|v| v.parse::<i64>().ok()).filter(|at| *at > 0);
        let speed = value("speed").and_then(|v| v.parse::<u32>().ok()).filter(|s| *s > 0);
        let mode = match (at, speed) {
            (None, _) => Mode::Live,
            (Some(at), None) => Mode::Paused { at: at.min(now) },
            (Some(at), Some(speed)) => {
                let speed = SPEEDS.iter().rev().find(|s| **s <= speed).copied().unwrap_or(1);
                Mode::Playing { from: at.min(now), speed, since: now }
            }
        };
        Self { mode }
    }

    /// The query pairs that name this timeline at wall-clock time `now` (empty when live).
    pub fn query(&self, now: i64) -> String {
        match (self.moment(now), self.speed()) {
            (None, _) => String::new(),
            (Some(at), None) => format!("at={at}"),
            (Some(at), Some(speed)) => format!("at={at}&speed={speed}"),
        }
    }
}

/// `fragment` with its `at` and `speed` pairs replaced by `query` (which may be empty); the
/// other pairs (`window`, `vehicle`) kept in their order.
pub fn with_time(fragment: &str, query: &str) -> String {
    let (path, rest) = fragment.split_once('?').unwrap_or((fragment, ""));
    let mut pairs: Vec<&str> =
        rest.split('&').filter(|p| !p.is_empty() && !p.starts_with("at=") && !p.starts_with("speed=")).collect();
    if !query.is_empty() {
        pairs.push(query);
    }
    if pairs.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", pairs.join("&"))
    }
}

/// A moment as the timeline writes it: `HH:MM:SS` in the browser's time zone offset given
/// (minutes east of UTC), with the date (`YYYY-MM-DD HH:MM:SS`) when it is not on the day of `today`.
pub fn clock_text(at: i64, today: i64, offset_minutes: i64) -> String {
    let local = |t: i64| t + offset_minutes * 60_000;
    let (day, ms) = (local(at).div_euclid(86_400_000), local(at).rem_euclid(86_400_000));
    let seconds = ms / 1000;
    let time = format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    if day == local(today).div_euclid(86_400_000) {
        time
    } else {
        let (y, m, d) = civil_from_days(day);
        format!("{y:04}-{m:02}-{d:02} {time}")
    }
}

/// Year, month, day of a count of days since 1970-01-01 (the proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn live_paused_and_playing_moments() {
        let mut t = Timeline::default();
        assert_eq!(t.moment(NOW), None);
        t.pause(NOW);
        assert_eq!(t.moment(NOW + 5_000), Some(NOW), "paused holds");
        t.seek(NOW - 600_000, NOW);
        assert_eq!(t.mode, Mode::Paused { at: NOW - 600_000 });
        t.play(10, NOW);
        assert_eq!(t.moment(NOW + 3_000), Some(NOW - 600_000 + 30_000), "ten seconds a second");
        assert!(!t.caught_up(NOW + 3_000));
        // Seeking while playing keeps playing, at the same speed, from there.
        t.seek(NOW - 120_000, NOW + 3_000);
        assert_eq!(t.speed(), Some(10));
        assert_eq!(t.moment(NOW + 4_000), Some(NOW - 120_000 + 10_000));
        // It never shows the future, and says when it has caught up.
        assert_eq!(t.moment(NOW + 100_000), Some(NOW + 100_000));
        assert!(t.caught_up(NOW + 100_000));
        t.go_live();
        assert!(t.is_live());
        // Play from live starts a minute back.
        t.play(60, NOW);
        assert_eq!(t.moment(NOW), Some(NOW - 60_000));
    }

    #[test]
    fn the_url_names_the_moment_both_ways() {
        let t = Timeline::from_fragment("#/fleet?vehicle=veh-1&at=1799999000000", NOW);
        assert_eq!(t.mode, Mode::Paused { at: 1_799_999_000_000 });
        assert_eq!(t.query(NOW), "at=1799999000000");
        let t = Timeline::from_fragment("#/device/press-01?window=15m&at=1799999000000&speed=10", NOW);
        assert_eq!(t.mode, Mode::Playing { from: 1_799_999_000_000, speed: 10, since: NOW });
        assert_eq!(t.query(NOW + 1_000), "at=1799999010000&speed=10");
        // An odd speed is the nearest below; nonsense is live; the future is now.
        assert_eq!(Timeline::from_fragment("#/?at=5&speed=7", NOW).speed(), Some(5));
        assert_eq!(Timeline::from_fragment("#/?at=5&speed=0", NOW).mode, Mode::Paused { at: 5 });
        assert!(Timeline::from_fragment("#/?at=soon", NOW).is_live());
        assert!(Timeline::from_fragment("#/?speed=10", NOW).is_live());
        assert!(Timeline::from_fragment("#/alerts", NOW).is_live());
        assert_eq!(Timeline::from_fragment("#/?at=9999999999999", NOW).mode, Mode::Paused { at: NOW });
        // `atx=` is not `at=`.
        assert!(Timeline::from_fragment("#/?atx=5", NOW).is_live());
    }

    #[test]
    fn with_time_replaces_only_the_time_pairs() {
        assert_eq!(with_time("#/fleet?vehicle=a&at=1&speed=2", "at=5"), "#/fleet?vehicle=a&at=5");
        assert_eq!(with_time("#/fleet?at=1", ""), "#/fleet");
        assert_eq!(with_time("#/device/x?window=1h", "at=5&speed=10"), "#/device/x?window=1h&at=5&speed=10");
        assert_eq!(with_time("#/", "at=5"), "#/?at=5");
    }

    #[test]
    fn clock_text_is_time_today_and_date_otherwise() {
        // 2027-01-15 08:00:05 UTC
        let at = 1_800_000_005_000 - 1_800_000_005_000 % 86_400_000 + 8 * 3_600_000 + 5_000;
        assert_eq!(clock_text(at, at + 60_000, 0), "08:00:05");
        assert_eq!(clock_text(at, at, 90), "09:30:05", "the browser's offset");
        let yesterday = clock_text(at, at + 86_400_000, 0);
        assert!(yesterday.ends_with(" 08:00:05") && yesterday.len() == 19, "{yesterday}");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_819), (2027, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
