//! The hand-written `positions` path against `serde_json`: when it answers, it answers what
//! `serde_json` does; on what senders write, it answers.

use super::*;
use proptest::prelude::*;

fn position() -> impl Strategy<Value = Position> {
    (
        "[a-z0-9\\-]{1,12}|[\u{e9}\"\\\\\u{1F680}\u{1}a]{0,6}",
        0i64..4_000_000_000_000,
        -90.0f64..90.0,
        -180.0f64..180.0,
        0.0f64..360.0,
        prop_oneof![Just(0.0), 0.0f64..250.0],
        prop::sample::select(vec![VehicleState::Moving, VehicleState::Idle, VehicleState::Stopped]),
        "[a-z\\-]{1,10}",
        any::<u64>(),
    )
        .prop_map(|(id, ts, lat, lon, heading, speed, state, site, seq)| Position {
            id,
            ts,
            lat,
            lon,
            heading,
            speed,
            state,
            site,
            seq,
        })
}

/// Edits that make a batch unusual or wrong, applied to its JSON text.
fn mutate(text: &str, edit: usize) -> String {
    match edit {
        0 => text.to_owned(),
        1 => text.replacen("\"lat\":", "\"lat\":1,\"lat\":", 1),
        2 => text.replacen(",\"seq\":", ",\"extra\":{\"a\":[1,2,{}],\"b\":null},\"seq\":", 1),
        3 => text.replacen("\"moving\"", "\"flying\"", 1),
        4 => text.replacen("\"seq\":", "\"seq\":null,\"x\":", 1),
        5 => text.replacen(",\"seq\":", ",\"ignored\":", 1),
        6 => text.replacen("\"ts\":", "\"ts\":1.5,\"t\":", 1),
        7 => text.replacen("\"heading\":", "\"heading\":1e400,\"h\":", 1),
        8 => text.replacen("{\"id\":", "{ \"i\\u0064\" :", 1),
        9 => text.replacen('}', "} ", 1).replacen('{', "\t{\n", 1),
        10 => format!("{text} x"),
        11 => text.replacen(",\"site\":", ",\"site\":\"\\ud800\",\"s\":", 1),
        _ => text.replacen("\"speed\":", "\"speed\":\"12\",\"v\":", 1),
    }
}

proptest! {
    #[test]
    fn answers_what_senders_write(batch in prop::collection::vec(position(), 0..20)) {
        // serde_json (without `float_roundtrip`) may read a float back one unit off; the
        // reader gives what serde_json gives, not what was written.
        let text = serde_json::to_string(&batch).unwrap();
        prop_assert_eq!(positions(text.as_bytes()).unwrap(), serde_json::from_str::<Vec<Position>>(&text).unwrap());
    }

    #[test]
    fn agrees_with_serde_json(batch in prop::collection::vec(position(), 1..6), edit in 0usize..13) {
        let text = mutate(&serde_json::to_string(&batch).unwrap(), edit);
        let theirs = serde_json::from_str::<Vec<Position>>(&text);
        if let Ok(ours) = positions(text.as_bytes()) {
            prop_assert_eq!(Some(&ours), theirs.as_ref().ok(), "{}", text);
        }
        prop_assert_eq!(Position::from_json(text.as_bytes()).ok(), theirs.ok(), "{}", text);
    }
}

#[test]
fn struct_written_as_an_array_goes_to_serde_json() {
    let text = r#"[["v1", 1, 47.0, 8.0, 90.0, 10.0, "moving", "harbour", 3]]"#;
    assert!(positions(text.as_bytes()).is_err());
    let batch = Position::from_json(text.as_bytes()).unwrap();
    assert_eq!((batch[0].id.as_str(), batch[0].seq), ("v1", 3));
}

#[test]
fn missing_seq_is_zero_and_errors_are_serde_jsons() {
    let text = r#"[{"id":"v","ts":1,"lat":1,"lon":2,"heading":3,"speed":4,"state":"idle","site":"s"}]"#;
    assert_eq!(positions(text.as_bytes()).unwrap()[0].seq, 0);
    let error = Position::from_json(br#"[{"id":"v"}]"#).unwrap_err().to_string();
    assert!(error.contains("missing field `ts`"), "{error}");
}

#[test]
fn reads_the_layout_senders_write_in_place() {
    let p = Position {
        id: "veh-1".into(),
        ts: 1_700_000_000_000,
        lat: 47.370999999999995,
        lon: -8.5,
        heading: 90.0,
        speed: 0.0,
        state: VehicleState::Stopped,
        site: "harbour".into(),
        seq: 7,
    };
    let text = serde_json::to_string(&p).unwrap();
    assert_eq!(as_written(&mut Reader::new(&text)), Some(p.clone()));
    let without_seq = text.replace(",\"seq\":7", "");
    assert_eq!(as_written(&mut Reader::new(&without_seq)).map(|p| p.seq), Some(0));
    // Another layout is read field by field, to the same value.
    let spaced = text.replace(',', ", ");
    assert_eq!(as_written(&mut Reader::new(&spaced)), None);
    assert_eq!(super::position(&mut Reader::new(&spaced)), Ok(p));
}

#[test]
fn numbers_out_of_range_or_not_finite_are_problems_of_their_item() {
    let good = Position {
        id: "veh-1".into(),
        ts: 1,
        lat: 47.4,
        lon: 8.5,
        heading: 90.0,
        speed: 30.0,
        state: VehicleState::Moving,
        site: "north".into(),
        seq: 1,
    };
    assert_eq!(good.problem(), None);
    let edits: [fn(&mut Position); 6] = [
        |p| p.lat = 90.5,
        |p| p.lat = f64::NAN,
        |p| p.lon = -180.01,
        |p| p.lon = f64::INFINITY,
        |p| p.heading = f64::NAN,
        |p| p.speed = f64::NEG_INFINITY,
    ];
    for edit in edits {
        let mut bad = good.clone();
        edit(&mut bad);
        assert!(bad.problem().unwrap().starts_with("veh-1: "), "{bad:?}");
    }
    let mut reading = Reading {
        device: "press-01".into(),
        kind: "process".into(),
        ts: 1,
        site: "north".into(),
        status: crate::DeviceStatus::Running,
        values: [("temperature".to_string(), 70.0)].into(),
    };
    assert_eq!(reading.problem(), None);
    reading.values.insert("pressure".into(), f64::NAN);
    assert_eq!(reading.problem().unwrap(), "press-01: pressure is NaN, not a finite number");
}
