//! The history API of the functions side: what a device measured, where a vehicle drove, what
//! happened to alerts, and the whole fleet frame by frame, over a range of time.
//!
//! Every answer is columnar (parallel arrays of equal length, index `i` across them is one
//! sample) so a long range stays compact on the wire and cheap to decode. Times are Unix epoch
//! milliseconds; `from` and `to` are inclusive. A backend without these routes answers 404 and
//! the dashboard's charts start at page load.
//!
//! | route | answer |
//! |---|---|
//! | `GET {apiBase}/history?device=D&from=&to=&points=[&metric=M]` | [`SeriesHistory`] |
//! | `GET {apiBase}/history/track?vehicle=V&from=&to=&points=` | [`TrackHistory`] |
//! | `GET {apiBase}/history/alerts?from=&to=[&limit=]` | [`AlertLog`] |
//! | `GET {apiBase}/history/alerts?id=A[&from=&to=&limit=]` | [`AlertLog`]: one alert's timeline |
//! | `GET {apiBase}/history/fleet?from=&to=[&step=][&vehicles=V1,V2,…]` | [`FleetHistory`] |
//! | `GET {apiBase}/history/coverage?from=&to=` | [`Coverage`] |

use serde::{Deserialize, Serialize};

use crate::{Alert, Millis, Suppression, SuppressionEndReason, VehicleState};

/// The path of [`SeriesHistory`] under `apiBase`.
pub const SERIES_PATH: &str = "history";
/// The path of [`TrackHistory`] under `apiBase`.
pub const TRACK_PATH: &str = "history/track";
/// The path of [`AlertLog`] under `apiBase`.
pub const ALERTS_PATH: &str = "history/alerts";
/// The path of [`FleetHistory`] under `apiBase`.
pub const FLEET_PATH: &str = "history/fleet";
/// The path of [`Coverage`] under `apiBase`.
pub const COVERAGE_PATH: &str = "history/coverage";

/// The storage resolution: one sample per device metric (or vehicle) per second is kept, the
/// last one of that second. No bucket or frame step is finer.
pub const RESOLUTION_MS: i64 = 1_000;
/// `points` when the query names none.
pub const DEFAULT_POINTS: u32 = 1_000;
/// The most `points` a query may ask for.
pub const MAX_POINTS: u32 = 10_000;
/// `limit` of [`AlertLog`] when the query names none.
pub const DEFAULT_ALERT_LIMIT: u32 = 1_000;
/// The most `limit` an [`AlertLog`] query may ask for.
pub const MAX_ALERT_LIMIT: u32 = 10_000;
/// The most frames one [`FleetHistory`] holds: an hour every second, both ends included.
pub const MAX_FRAMES: usize = 3_601;
/// The most cells (vehicles × frames) one [`FleetHistory`] holds; a range that needs more must
/// ask for a larger `step`. A cell is about 38 bytes of JSON and as much again in frames while
/// the answer is made: 2,000,000 cells are about 75 MB of JSON and 200 MB held by one request
/// (at 10,000,000, an hour of a large fleet held about 1 GB). An hour of 10,000 vehicles is a
/// frame every 19 s within it.
pub const MAX_FLEET_CELLS: usize = 2_000_000;
/// The most vehicles a [`FleetHistory`] query may name in `vehicles` (each id 1 to 128
/// characters, none a control character).
pub const MAX_FLEET_VEHICLES: usize = 2_000;
/// The fewest consecutive empty seconds that make a [`Gap`]: a single second without data is
/// a tick published late, not the store missing a stretch.
pub const MIN_GAP_SECONDS: i64 = 2;

/// The width of the buckets that reduce `from..=to` to at most `points` buckets: the range
/// divided by `points`, rounded up, and never finer than [`RESOLUTION_MS`].
pub fn bucket_ms(from: Millis, to: Millis, points: u32) -> i64 {
    let span = (to - from).max(0);
    let points = i64::from(points.max(1));
    ((span + points - 1) / points).max(RESOLUTION_MS)
}

/// The bucket of `ts` among the buckets of `bucket_ms` from `from` with at most `points` of them:
/// `to` itself falls in the last one rather than one past it.
pub fn bucket_index(ts: Millis, from: Millis, bucket_ms: i64, points: u32) -> usize {
    let index = ((ts - from).max(0) / bucket_ms.max(1)) as usize;
    index.min(points.max(1) as usize - 1)
}

/// `GET {apiBase}/history?device=D&from=&to=&points=[&metric=M]`: a device's metrics over a
/// range, reduced to at most `points` buckets each (the per-pixel reduction a chart does: min,
/// max and last of each bucket). Without `metric`, every metric of the device; an unknown
/// device has no series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesHistory {
    /// The device asked for ([`crate::Reading::device`]).
    pub device: String,
    /// Start of the range answered (inclusive).
    pub from: Millis,
    /// End of the range answered (inclusive), at most the backend's now.
    pub to: Millis,
    /// Width of each bucket: [`bucket_ms`] of the range and `points`.
    pub bucket_ms: i64,
    /// One entry per metric with samples in the range, by metric id.
    pub series: Vec<MetricHistory>,
}

/// One metric's buckets, in time order, empty buckets left out. The four arrays have equal
/// lengths; index `i` is bucket `i`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricHistory {
    /// The metric id, as in [`crate::Reading::values`].
    pub metric: String,
    /// The device time of the last sample in each bucket. A dashboard joining history to its
    /// live points keeps the buckets strictly older than its oldest live point: no gap, no
    /// repeat at the seam.
    pub ts: Vec<Millis>,
    /// The smallest value in each bucket.
    pub min: Vec<f64>,
    /// The largest value in each bucket.
    pub max: Vec<f64>,
    /// The last value in each bucket (the one at `ts`).
    pub last: Vec<f64>,
}

impl MetricHistory {
    /// How many buckets it holds.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether it holds no bucket.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

/// `GET {apiBase}/history/track?vehicle=V&from=&to=&points=`: where a vehicle drove over a
/// range (a trail), in time order, at most `points` fixes evenly thinned, the last fix in the
/// range always among them. The five arrays have equal lengths.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackHistory {
    /// The vehicle asked for ([`crate::Position::id`]).
    pub vehicle: String,
    /// Device time of each fix.
    pub ts: Vec<Millis>,
    /// Latitude of each fix, WGS 84 decimal degrees.
    pub lat: Vec<f64>,
    /// Longitude of each fix, WGS 84 decimal degrees.
    pub lon: Vec<f64>,
    /// Speed at each fix, km/h.
    pub speed: Vec<f64>,
    /// Heading at each fix, degrees clockwise from north.
    pub heading: Vec<f64>,
}

/// `GET {apiBase}/history/alerts?from=&to=[&limit=]`: what happened to alerts over a range,
/// oldest first; when more than `limit` happened, the newest `limit`. Suppressions made and
/// ended ([`AlertChange::Shelved`] …) are among them, in time order.
///
/// `GET {apiBase}/history/alerts?id=A[&from=&to=&limit=]`: the timeline of alert `A`, oldest
/// first: every event of that alert (raised, with the alert and so its value and threshold;
/// acknowledged, with who; re-alarmed; cleared), and the suppression events of its point that
/// overlap its life: the shelves of its device and metric, the out-of-service of that metric
/// or of the whole device, each with both its start and its end (even when one of them lies
/// outside the alert's life). The alert's life runs from its first event to its last once it
/// is over (cleared and acknowledged), to `to` while it is not; a suppression without an end
/// event lasts to its `until`. `from` and `to` default to the window kept, `limit` (1 to
/// [`MAX_ALERT_LIMIT`]) to [`MAX_ALERT_LIMIT`], and the oldest `limit` are kept. An unknown id
/// has no events (an empty answer, not an error); one raised before the window kept shows
/// what is left of it, without its suppressions (its point is unknown).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertLog {
    /// The events, oldest first.
    pub events: Vec<AlertEvent>,
}

/// What happened to an alert, or to the suppression of an alarm point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AlertChange {
    /// A rule (or a publisher) raised it ([`crate::targets::ALERTS`]).
    Raised,
    /// Someone acknowledged it ([`crate::targets::ALERT_ACKNOWLEDGED`]).
    Acknowledged,
    /// Its condition returned to normal ([`crate::targets::ALERT_CLEARED`]).
    Cleared,
    /// Its acknowledgement ran out while it was still active: unacknowledged again
    /// ([`crate::targets::ALERT_REALARMED`]).
    ReAlarmed,
    /// An alarm point was shelved ([`crate::targets::SUPPRESSED`], kind `shelved`); the event's
    /// `id` is the suppression's, `suppression` says which point and until when.
    Shelved,
    /// A shelf ended: ended by someone, expired or replaced (`reason`)
    /// ([`crate::targets::SUPPRESSION_ENDED`]).
    Unshelved,
    /// An alarm point, or a whole device, was taken out of service
    /// ([`crate::targets::SUPPRESSED`], kind `outOfService`).
    OutOfService,
    /// An out of service ended: ended, expired or replaced (`reason`).
    ReturnedToService,
    /// A change this version of the contract does not know (a newer backend's): the rest of
    /// the log still reads. Never sent by a backend of this version.
    #[serde(other)]
    Unknown,
}

impl AlertChange {
    /// Whether the event is about a suppression (its `id` is the suppression's, not an
    /// alert's).
    pub fn is_suppression(self) -> bool {
        matches!(
            self,
            AlertChange::Shelved | AlertChange::Unshelved | AlertChange::OutOfService | AlertChange::ReturnedToService
        )
    }
}

/// One event of the [`AlertLog`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertEvent {
    /// When: the alert's own `ts` when raised (device time), the acknowledgement's (server
    /// time), the clearing reading's (device time), the re-alarm's (server time: when it fell
    /// due); for a suppression made, its `ts`, and for one ended, the end's (server time; its
    /// `until` when it expired).
    pub ts: Millis,
    /// The alert's id ([`Alert::id`]); for a suppression event
    /// ([`AlertChange::is_suppression`]), the suppression's ([`Suppression::id`]).
    pub id: String,
    /// What happened.
    pub change: AlertChange,
    /// The alert itself, for [`AlertChange::Raised`]; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
    /// Who acknowledged it, for [`AlertChange::Acknowledged`]; who made the suppression, for
    /// [`AlertChange::Shelved`] and [`AlertChange::OutOfService`]; who ended it, for
    /// [`AlertChange::Unshelved`] and [`AlertChange::ReturnedToService`] (absent when it
    /// expired); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The suppression, as made, for the four suppression events: which point
    /// (`device`, `metric`), its kind, who, why, from `ts` until `until`. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppression: Option<Suppression>,
    /// Why the suppression ended, for [`AlertChange::Unshelved`] and
    /// [`AlertChange::ReturnedToService`]; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<SuppressionEndReason>,
}

/// `GET {apiBase}/history/fleet?from=&to=[&step=][&vehicles=V1,V2,…]`: the fleet frame by
/// frame, shaped for replay. Frame `k` is at `from + k × step_ms`; in every frame, index `j` of
/// each array is vehicle `ids[j]`.
///
/// Without `vehicles`, the whole fleet, in the store's order (the order vehicles first
/// reported). With `vehicles` (ids separated by commas; the parameter may be repeated; at most
/// [`MAX_FLEET_VEHICLES`] in all), only those, in the order asked (an id asked twice counts
/// once, where it first appears); an id the store does not know is simply absent. The caps
/// ([`MAX_FRAMES`], [`MAX_FLEET_CELLS`]) and the default step count the vehicles asked for
/// that the store knows, not the whole fleet: a few vehicles replay every second over an hour
/// when the whole fleet would need a frame every 19 s. Each vehicle shows its last fix at or before the frame's time (before its
/// first fix in the range, that first fix), so no cell is ever empty; a vehicle with no fix in
/// the range is not in `ids`. The look-back is bounded: a frame looks for fixes since the frame
/// before, but no further back than the server's look-back (the simulator's `LOOKBACK_MS`,
/// 10 s), so with steps over 10 s a vehicle silent for the last 10 s before a frame shows its
/// fix of the frame before, not a later one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetHistory {
    /// Time of the first frame.
    pub from: Millis,
    /// Time between frames, a whole number of seconds.
    pub step_ms: i64,
    /// The vehicles, in the order of every frame's arrays.
    pub ids: Vec<String>,
    /// The frames, in time order.
    pub frames: Vec<FleetFrame>,
}

/// `GET {apiBase}/history/coverage?from=&to=`: where the store holds data over a range, so a
/// replay timeline can show the stretches it has nothing for (a simulator that was down between
/// two runs on the same store) rather than a fleet frozen across them.
///
/// A [`Gap`] is a run of at least [`MIN_GAP_SECONDS`] consecutive seconds in which the store
/// holds neither a position nor a sample, between the first and the last second of the range
/// that it holds something for: the seconds before the first and after the last (at `to`, the
/// current second, not written yet) are never a gap. No data at all in the range is no gap
/// either.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    /// Start of the range answered (inclusive), clamped like every history range.
    pub from: Millis,
    /// End of the range answered (inclusive), at most the backend's now.
    pub to: Millis,
    /// The gaps, in time order, none overlapping.
    pub gaps: Vec<Gap>,
}

/// A stretch of whole seconds with no data: the seconds starting at `from`, `from + 1000`, …,
/// `to` (both whole seconds, both empty, so a gap of `n` seconds has `to − from = (n − 1) × 1000`).
/// The store holds something for the second before `from` and the second after `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gap {
    /// The first empty second (its start, a multiple of [`RESOLUTION_MS`]).
    pub from: Millis,
    /// The last empty second (its start, a multiple of [`RESOLUTION_MS`]).
    pub to: Millis,
}

impl Gap {
    /// How many seconds it spans.
    pub fn seconds(&self) -> i64 {
        (self.to - self.from) / RESOLUTION_MS + 1
    }
}

/// The fleet at one moment: each array has one entry per [`FleetHistory::ids`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetFrame {
    /// The frame's time.
    pub ts: Millis,
    /// Latitudes, WGS 84 decimal degrees.
    pub lat: Vec<f64>,
    /// Longitudes, WGS 84 decimal degrees.
    pub lon: Vec<f64>,
    /// Headings, degrees clockwise from north.
    pub heading: Vec<f64>,
    /// Speeds, km/h.
    pub speed: Vec<f64>,
    /// What each vehicle was doing.
    pub state: Vec<VehicleState>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn round_trip<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) -> String {
        let text = serde_json::to_string(value).unwrap();
        assert_eq!(&serde_json::from_str::<T>(&text).unwrap(), value, "{text}");
        text
    }

    #[test]
    fn series_history_is_columnar_and_camel_case() {
        let history = SeriesHistory {
            device: "press-01".into(),
            from: 1_000,
            to: 61_000,
            bucket_ms: 6_000,
            series: vec![MetricHistory {
                metric: "temperature".into(),
                ts: vec![6_900, 12_900],
                min: vec![70.0, 71.5],
                max: vec![71.0, 73.25],
                last: vec![70.5, 73.25],
            }],
        };
        let text = round_trip(&history);
        assert!(text.contains(r#""bucketMs":6000"#), "{text}");
        assert!(text.contains(r#""ts":[6900,12900],"min":[70.0,71.5]"#), "{text}");
        assert_eq!(history.series[0].len(), 2);
        assert!(!history.series[0].is_empty());
    }

    #[test]
    fn a_track_and_a_fleet_round_trip() {
        let track = TrackHistory {
            vehicle: "veh-00001".into(),
            ts: vec![1, 2],
            lat: vec![47.1, 47.2],
            lon: vec![8.1, 8.2],
            speed: vec![30.5, 0.0],
            heading: vec![90.0, 180.0],
        };
        assert!(round_trip(&track).starts_with(r#"{"vehicle":"veh-00001","ts":[1,2]"#));
        let fleet = FleetHistory {
            from: 10_000,
            step_ms: 5_000,
            ids: vec!["veh-00001".into(), "veh-00002".into()],
            frames: vec![FleetFrame {
                ts: 10_000,
                lat: vec![47.0, 47.5],
                lon: vec![8.0, 8.5],
                heading: vec![0.0, 270.0],
                speed: vec![12.0, 0.0],
                state: vec![VehicleState::Moving, VehicleState::Stopped],
            }],
        };
        let text = round_trip(&fleet);
        assert!(text.contains(r#""stepMs":5000"#) && text.contains(r#""state":["moving","stopped"]"#), "{text}");
    }

    #[test]
    fn alert_events_carry_the_alert_when_raised_and_who_when_acknowledged() {
        let log = AlertLog {
            events: vec![
                AlertEvent {
                    ts: 1,
                    id: "a1".into(),
                    change: AlertChange::Raised,
                    alert: Some(fixtures::alert("a1", 1)),
                    by: None,
                    suppression: None,
                    reason: None,
                },
                AlertEvent {
                    ts: 2,
                    id: "a1".into(),
                    change: AlertChange::Acknowledged,
                    alert: None,
                    by: Some("ann".into()),
                    suppression: None,
                    reason: None,
                },
                AlertEvent {
                    ts: 3,
                    id: "a1".into(),
                    change: AlertChange::Cleared,
                    alert: None,
                    by: None,
                    suppression: None,
                    reason: None,
                },
            ],
        };
        let text = round_trip(&log);
        assert!(text.contains(r#""change":"raised","alert":{"id":"a1""#), "{text}");
        assert!(text.contains(r#"{"ts":2,"id":"a1","change":"acknowledged","by":"ann"}"#), "{text}");
        assert!(text.contains(r#"{"ts":3,"id":"a1","change":"cleared"}"#), "{text}");
        // A backend may send the absent fields as null.
        let event: AlertEvent =
            serde_json::from_str(r#"{"ts":3,"id":"a1","change":"cleared","alert":null,"by":null}"#).unwrap();
        assert_eq!(event, log.events[2]);
    }

    #[test]
    fn suppression_events_carry_the_suppression_and_why_it_ended_and_unknown_changes_still_read() {
        let shelf = Suppression {
            id: "sup-1".into(),
            kind: crate::SuppressionKind::Shelved,
            device: "press-01".into(),
            metric: Some("temperature".into()),
            by: "ann".into(),
            reason: "chattering".into(),
            ts: 10,
            until: 910,
        };
        let ended = AlertEvent {
            ts: 500,
            id: "sup-1".into(),
            change: AlertChange::Unshelved,
            alert: None,
            by: Some("bob".into()),
            suppression: Some(shelf),
            reason: Some(SuppressionEndReason::Ended),
        };
        let text = round_trip(&ended);
        assert!(
            text.starts_with(
                r#"{"ts":500,"id":"sup-1","change":"unshelved","by":"bob","suppression":{"id":"sup-1","kind":"shelved""#
            ),
            "{text}"
        );
        assert!(text.ends_with(r#""until":910},"reason":"ended"}"#), "{text}");
        assert!(ended.change.is_suppression() && !AlertChange::ReAlarmed.is_suppression());
        for (change, name) in [
            (AlertChange::ReAlarmed, "reAlarmed"),
            (AlertChange::Shelved, "shelved"),
            (AlertChange::OutOfService, "outOfService"),
            (AlertChange::ReturnedToService, "returnedToService"),
        ] {
            assert_eq!(serde_json::to_value(change).unwrap(), name);
        }
        let log: AlertLog = serde_json::from_str(
            r#"{"events":[{"ts":1,"id":"x","change":"escalated"},{"ts":2,"id":"x","change":"cleared"}]}"#,
        )
        .unwrap();
        assert_eq!(log.events[0].change, AlertChange::Unknown);
        assert_eq!(log.events[1].change, AlertChange::Cleared);
    }

    #[test]
    fn coverage_is_camel_case_and_its_gaps_whole_seconds_inclusive() {
        let coverage = Coverage { from: 0, to: 30_000, gaps: vec![Gap { from: 11_000, to: 19_000 }] };
        assert_eq!(round_trip(&coverage), r#"{"from":0,"to":30000,"gaps":[{"from":11000,"to":19000}]}"#);
        assert_eq!(coverage.gaps[0].seconds(), 9);
        assert_eq!(Gap { from: 5_000, to: 5_000 }.seconds(), 1);
    }

    #[test]
    fn buckets_cover_the_range_in_at_most_points_and_never_below_a_second() {
        assert_eq!(bucket_ms(0, 3_600_000, 1_000), 3_600);
        assert_eq!(bucket_ms(0, 3_600_001, 1_000), 3_601, "rounded up");
        assert_eq!(bucket_ms(0, 60_000, 1_000), RESOLUTION_MS, "never finer than the storage");
        assert_eq!(bucket_ms(5, 5, 10), RESOLUTION_MS);
        assert_eq!(bucket_ms(0, 10_000, 0), 10_000, "points below one count as one");
        let (from, to, points) = (1_000, 3_601_000, 1_000);
        let bucket = bucket_ms(from, to, points);
        assert_eq!(bucket_index(from, from, bucket, points), 0);
        assert_eq!(bucket_index(to, from, bucket, points), 999, "`to` is in the last bucket");
        assert_eq!(bucket_index(from + bucket, from, bucket, points), 1);
        assert_eq!(bucket_index(from + bucket - 1, from, bucket, points), 0);
    }
}
