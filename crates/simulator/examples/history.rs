//! History store benchmark (not a test): prints figures, each timed section run 3 times as
//! min / median / max.
//!
//! * live ingest: a fleet reporting at 1 Hz in ten slots a second, as the pipeline publishes it,
//!   through the same non-blocking path; the writer thread's CPU time over wall time is its
//!   share of one core, and nothing may be dropped;
//! * ingest as fast as the writer goes (rows per second);
//! * the backfill of an empty store (the default world and a 10,000-vehicle one);
//! * an hour's queries on a store holding an hour of 10,000 vehicles at 1 s: per device, per
//!   vehicle, the alert log, the coverage (the gaps), the fleet for replay (with the JSON the
//!   route would send), and a few of its vehicles named (`vehicles=`).
//!
//! ```sh
//! cargo run --release -p simulator --example history -- --vehicles 10000 --seconds 20
//! ```
//!
//! `--json FILE` also writes every figure there (what, unit, min, median, max, and the counts
//! that go with it), which is how the benchmark suite (`tests/bench/suite.mjs`, section
//! `store`) reads them into BENCHMARKS.md.

// Native only: std's clock works here (clippy.toml forbids it for code built for wasm32).
#![allow(clippy::disallowed_methods)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use simulator::devices::equipment::Equipment;
use simulator::devices::fleet::{Fleet, SITES};
use simulator::functions::world::World;
use simulator::history::{backfill, History, HistorySettings, PositionRow};

struct Args {
    vehicles: usize,
    seconds: u64,
    minutes: u64,
    json: Option<std::path::PathBuf>,
}

fn args() -> Args {
    let mut args = Args { vehicles: 10_000, seconds: 20, minutes: 60, json: None };
    let mut it = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (it.next(), it.next()) {
        if flag == "--json" {
            args.json = Some(value.into());
            continue;
        }
        let n: u64 = value.parse().unwrap_or_else(|_| panic!("{flag} needs a number"));
        match flag.as_str() {
            "--vehicles" => args.vehicles = n as usize,
            "--seconds" => args.seconds = n,
            "--minutes" => args.minutes = n,
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// Every figure printed, for `--json`.
static FIGURES: Mutex<Vec<serde_json::Value>> = Mutex::new(Vec::new());

/// min / median / max of three or more runs.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[0], values[values.len() / 2], values[values.len() - 1])
}

fn print(what: &str, unit: &str, values: Vec<f64>) {
    print_with(what, unit, values, serde_json::json!({}));
}

/// `print`, with counts that go with the figure (kept in the `--json` file as they are).
fn print_with(what: &str, unit: &str, values: Vec<f64>, counts: serde_json::Value) {
    let runs = values.len();
    let (min, median, max) = spread(values);
    println!("{what:<58} {min:>10.2} {median:>10.2} {max:>10.2}  {unit}");
    let figure = serde_json::json!({
        "what": what.trim(), "unit": unit, "min": min, "median": median, "max": max, "runs": runs, "counts": counts,
    });
    FIGURES.lock().expect("figures").push(figure);
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Vec<f64>, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        last = Some(f());
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    (times, last.expect("at least one run"))
}

/// CPU seconds of the threads named `name` (Linux; 0 elsewhere).
fn thread_cpu(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 a second).
        ticks += fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        ticks += fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    ticks as f64 / 100.0
}

fn resident_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn open(minutes: u64, dir: Option<&std::path::Path>) -> History {
    let settings = HistorySettings { minutes, data_dir: dir.map(|d| d.to_path_buf()) };
    History::open(&settings).expect("the store opens").expect("history is on")
}

/// A fleet reporting in real time for `seconds`, as the pipeline does; (writer CPU share of one
/// core in %, rows dropped, rows written).
fn live_ingest(vehicles: usize, seconds: u64, dir: Option<&std::path::Path>) -> (f64, u64, u64) {
    let history = open(60, dir);
    let mut fleet = Fleet::new(42, vehicles, 47.3769, 8.5417);
    let slots = simulator::devices::pipeline::reporting_slots(1.0);
    let tick = Duration::from_secs(1) / slots as u32;
    let cpu_before = thread_cpu("history-writer");
    let started = Instant::now();
    let mut next = started;
    for n in 0..seconds as usize * slots {
        let batch = fleet.report_slot(n % slots, slots, 1.0, simulator::unix_millis());
        history.positions(&batch);
        next += tick;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    history.flush();
    let wall = started.elapsed().as_secs_f64();
    let cpu = thread_cpu("history-writer") - cpu_before;
    let counters = history.counters();
    let dropped = counters.dropped.load(std::sync::atomic::Ordering::Relaxed);
    let written = counters.written.load(std::sync::atomic::Ordering::Relaxed);
    (cpu / wall * 100.0, dropped, written)
}

/// Rows of `vehicles` over `seconds` seconds ending now, 1 s apart.
fn fleet_rows(vehicles: usize, seconds: i64, mut each: impl FnMut(Vec<PositionRow>)) {
    let mut fleet = Fleet::new(42, vehicles, 47.3769, 8.5417);
    let now = simulator::unix_millis() / 1000;
    let ids: Vec<Arc<str>> = fleet.positions(0).iter().map(|p| Arc::from(p.id.as_str())).collect();
    for sec in now - seconds + 1..=now {
        fleet.step(1.0);
        let positions = fleet.positions(sec * 1000);
        each(positions.iter().zip(&ids).map(|(p, id)| PositionRow::new(id.clone(), p)).collect());
    }
}

fn main() {
    let args = args();
    let runs = 3;
    let temp = std::env::temp_dir().join(format!("simulator-history-bench-{}", std::process::id()));
    println!("{:<58} {:>10} {:>10} {:>10}", "", "min", "median", "max");

    // Live ingest.
    for (label, dir) in [("in memory", None), ("on disk (WAL)", Some(temp.join("live")))] {
        let mut shares = Vec::new();
        let (mut dropped, mut written) = (0, 0);
        for run in 0..runs {
            if let Some(dir) = &dir {
                let _ = std::fs::remove_dir_all(dir.join(run.to_string()));
            }
            let dir = dir.as_ref().map(|d| d.join(run.to_string()));
            let (share, d, w) = live_ingest(args.vehicles, args.seconds, dir.as_deref());
            shares.push(share);
            dropped += d;
            written += w;
        }
        print_with(
            &format!("live ingest {} vehicles × 1 Hz, {label}: writer CPU", args.vehicles),
            &format!("% of a core ({written} rows, {dropped} dropped, {} s runs)", args.seconds),
            shares,
            serde_json::json!({ "rows": written, "dropped": dropped }),
        );
    }

    // Reading while it writes: a vehicle's hour and a device's, over and over, on the store the
    // live fleet is writing to (in memory: shared-cache readers that never lock the writer out).
    {
        let history = Arc::new(open(60, None));
        fleet_rows(args.vehicles, 600, |rows| history.store_positions(rows));
        history.flush();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (history, stop) = (history.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut times, mut errors) = (Vec::new(), 0);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let now = simulator::unix_millis();
                    let started = Instant::now();
                    let track = history.track("veh-00001", now - 600_000, now, 1_000);
                    let series = history.series("press-01", None, now - 600_000, now, 1_000);
                    errors += usize::from(track.is_err()) + usize::from(series.is_err());
                    times.push(started.elapsed().as_secs_f64() * 1e3);
                }
                (times, errors)
            })
        };
        let mut fleet = Fleet::new(42, args.vehicles, 47.3769, 8.5417);
        let slots = simulator::devices::pipeline::reporting_slots(1.0);
        let tick = Duration::from_secs(1) / slots as u32;
        let started = Instant::now();
        let mut next = started;
        for n in 0..args.seconds as usize * slots {
            history.positions(&fleet.report_slot(n % slots, slots, 1.0, simulator::unix_millis()));
            next += tick;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (times, errors) = reader.join().expect("the reader");
        let dropped = history.counters().dropped.load(std::sync::atomic::Ordering::Relaxed);
        print(
            "  a track + a series (10 min) read meanwhile, in a loop",
            &format!("ms ({} reads, {errors} errors; {dropped} rows dropped)", times.len()),
            times,
        );
    }

    // As fast as it goes.
    for (label, dir) in [("in memory", None), ("on disk (WAL)", Some(temp.join("fast")))] {
        let mut rates = Vec::new();
        for run in 0..runs {
            let history = open(60, dir.as_ref().map(|d| d.join(run.to_string())).as_deref());
            let mut batches = Vec::new();
            fleet_rows(args.vehicles, 60, |rows| batches.push(rows));
            let rows: usize = batches.iter().map(Vec::len).sum();
            let started = Instant::now();
            for batch in batches {
                history.store_positions(batch);
            }
            history.flush();
            rates.push(rows as f64 / started.elapsed().as_secs_f64() / 1e3);
        }
        print(&format!("ingest as fast as it goes, {label}"), "thousand rows/s", rates);
    }

    // Backfill.
    for (vehicles, machines, rigs) in [(50, 6, 4), (1_000, 6, 4), (args.vehicles, 6, 4)] {
        let mut report = backfill::Report::default();
        let (times, _) = time(runs, || {
            let history = open(args.minutes, None);
            let world = Mutex::new(World::default());
            let mut fleet = Fleet::new(42, vehicles, 47.3769, 8.5417);
            let mut equipment = Equipment::new(42, machines, rigs, &SITES);
            report = backfill::fill(&history, &world, &mut fleet, &mut equipment, 10);
        });
        print(
            &format!("backfill {} min, {vehicles} vehicles, {} machines+rigs", args.minutes, machines + rigs),
            &format!(
                "ms ({} positions every {} s, {} samples, {} alert events)",
                report.positions, report.stride, report.samples, report.alert_events
            ),
            times,
        );
    }

    // Queries over an hour of 10,000 vehicles at 1 s, and the equipment's hour.
    let rss = resident_mb();
    let history = open(args.minutes, None);
    let started = Instant::now();
    let seconds = args.minutes as i64 * 60;
    let mut second = 0;
    fleet_rows(args.vehicles, seconds, |rows| {
        history.store_positions(rows);
        second += 1;
        if second % 60 == 0 {
            history.flush(); // a minute queued at most: the memory measured is the store's
        }
    });
    {
        let world = Mutex::new(World::default());
        let mut equipment = Equipment::new(42, 6, 4, &SITES);
        backfill::fill(&history, &world, &mut Fleet::new(1, 0, 0.0, 0.0), &mut equipment, 10);
    }
    history.flush();
    let (positions, samples, events) = history.counts().expect("counts");
    let (filled, resident) = (started.elapsed().as_secs_f64(), resident_mb() - rss);
    println!(
        "query store: {positions} positions, {samples} samples, {events} alert events; filled in {filled:.1} s, \
         resident memory +{resident:.0} MB"
    );
    let store = serde_json::json!({
        "store": { "positions": positions, "samples": samples, "events": events, "filledSeconds": filled, "residentMb": resident },
    });
    FIGURES.lock().expect("figures").push(store);
    let now = simulator::unix_millis();
    let (from, to) = history.range(None, None, now);
    let (times, answer) = time(runs, || history.series("press-01", None, from, to, 1_000).expect("series"));
    let points: usize = answer.series.iter().map(|s| s.len()).sum();
    print("an hour of a device, every metric, 1,000 points", &format!("ms ({points} buckets)"), times);
    let (times, answer) = time(runs, || history.series("rig-01", Some("rpm"), from, to, 10_000).expect("series"));
    print("an hour of one metric, every sample", &format!("ms ({} samples)", answer.series[0].len()), times);
    let vehicle = format!("veh-{:05}", args.vehicles / 2);
    let (times, answer) = time(runs, || history.track(&vehicle, from, to, 1_000).expect("track"));
    print("an hour of a vehicle's track, 1,000 points", &format!("ms ({} fixes)", answer.ts.len()), times);
    let (times, answer) = time(runs, || history.track(&vehicle, from, to, 10_000).expect("track"));
    print("an hour of a vehicle's track, every fix", &format!("ms ({} fixes)", answer.ts.len()), times);
    let (times, answer) = time(runs, || history.alerts(from, to, 1_000).expect("alerts"));
    print("an hour of the alert log", &format!("ms ({} events)", answer.events.len()), times);
    let (times, answer) = time(runs, || history.coverage(from, to).expect("coverage"));
    print("an hour's coverage (the gaps in what is stored)", &format!("ms ({} gaps)", answer.gaps.len()), times);
    // A few vehicles are looked up (one point lookup each per second read); one in 8 of the
    // fleet still is (`LOOKUP_SHARE`), on the same range and step as the whole fleet's first
    // line, so the two compare frame for frame.
    let named =
        |n: usize| -> Vec<String> { (0..n).map(|k| format!("veh-{:05}", k * args.vehicles / n.max(1) + 1)).collect() };
    let (hundred, eighth) = (named(100), named(args.vehicles / 8));
    for (label, names, from, step) in [
        ("ten minutes of the fleet, every 10 s", None, to - 600_000, Some(10_000)),
        ("an hour of the fleet, default step", None, from, None),
        ("ten minutes of 1 in 8 vehicles (looked up), every 10 s", Some(&eighth), to - 600_000, Some(10_000)),
        ("an hour of 100 vehicles (vehicles=), every second", Some(&hundred), from, Some(1_000)),
    ] {
        let names = names.map(Vec::as_slice);
        let (times, answer) = time(runs, || history.fleet_of(names, from, to, step).expect("fleet"));
        let cells = answer.ids.len() * answer.frames.len();
        print(
            label,
            &format!(
                "ms ({} frames of {} vehicles, step {} ms)",
                answer.frames.len(),
                answer.ids.len(),
                answer.step_ms
            ),
            times,
        );
        let (times, bytes) = time(runs, || serde_json::to_vec(&answer).expect("json").len());
        print(&format!("  … its JSON ({cells} cells)"), &format!("ms ({:.1} MB)", bytes as f64 / 1e6), times);
    }
    let _ = std::fs::remove_dir_all(&temp);
    if let Some(path) = &args.json {
        let figures = serde_json::json!({ "vehicles": args.vehicles, "seconds": args.seconds, "minutes": args.minutes,
            "figures": *FIGURES.lock().expect("figures") });
        std::fs::write(path, serde_json::to_vec_pretty(&figures).expect("json")).expect("the --json file is written");
    }
}
