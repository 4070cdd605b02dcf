//! What the page measures about itself, for the benchmark suite (`scripts/bench.sh`): the
//! latency from each datum's device timestamp to the moment it is applied (every sample, in a
//! histogram), counts of what was applied, when the first live datum arrived, the wasm
//! memory size and the bytes its heap holds. Read from JavaScript as
//! `window.dashboardMetrics()`, reset with `window.dashboardMetrics.reset()`. Recording is plain data outside the reactive graph, so it
//! never causes a render.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::model::histogram::Histogram;

#[derive(Default)]
struct Metrics {
    latency: Histogram,
    positions: u64,
    readings: u64,
    batches: u64,
    /// `performance.now()` when the first datum was on screen (snapshot or hub).
    first_datum_at: Option<f64>,
    /// `performance.now()` when the first datum pushed through the hub was applied.
    first_push_at: Option<f64>,
    /// How long each frame of the fleet layer took in wasm (ms), and of that the clustering.
    map_draw: Histogram,
    map_cluster: Histogram,
}

thread_local! {
    static METRICS: RefCell<Metrics> = RefCell::new(Metrics::default());
}

/// Bytes the wasm heap holds right now (allocated and not yet freed). Linear memory only ever
/// grows, so its size is a high-water mark: a large transient allocation (a snapshot of
/// thousands of vehicles) raises it once and for good. A leak shows as growth of this count.
#[cfg(target_arch = "wasm32")]
mod heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub(super) static LIVE: AtomicUsize = AtomicUsize::new(0);

    /// The default allocator, counting.
    pub(super) struct Counting;

    // SAFETY: every call is forwarded to `System` unchanged; only a counter is added.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract for `alloc` is `System.alloc`'s; passed on as is.
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as for `alloc`.
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` and `layout` come from this allocator, which is `System`'s.
            unsafe { System.dealloc(ptr, layout) };
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as for `dealloc`; `new_size` is the caller's, checked by its contract.
            let new = unsafe { System.realloc(ptr, layout, new_size) };
            if !new.is_null() {
                LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
                LIVE.fetch_add(new_size, Ordering::Relaxed);
            }
            new
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;
}

/// Bytes held by the wasm heap now (0 off the browser).
fn heap_in_use() -> usize {
    #[cfg(target_arch = "wasm32")]
    return heap::LIVE.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(target_arch = "wasm32"))]
    0
}

pub(crate) fn performance_now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
}

/// A batch from the hub was applied at `now` (Unix ms): `timestamps` are its devices' times.
pub fn applied(kind: Kind, timestamps: impl Iterator<Item = i64>, now: i64) {
    METRICS.with(|m| {
        let mut m = m.borrow_mut();
        let mut n = 0;
        for ts in timestamps {
            m.latency.record((now - ts) as f64);
            n += 1;
        }
        match kind {
            Kind::Positions => m.positions += n,
            Kind::Readings => m.readings += n,
        }
        m.batches += 1;
        if m.first_push_at.is_none() && n > 0 {
            let now = performance_now();
            m.first_push_at = Some(now);
            m.first_datum_at.get_or_insert(now);
        }
    });
}

/// The snapshot (the current state, fetched on connect) was applied with `n` data in it.
pub fn snapshot_applied(n: usize) {
    if n > 0 {
        METRICS.with(|m| {
            m.borrow_mut().first_datum_at.get_or_insert_with(performance_now);
        });
    }
}

/// A frame of the fleet layer took `draw_ms` in wasm (projection, clustering, rasterizing,
/// the pixels handed to the canvas), `cluster_ms` of it gathering clusters (0 when none did).
pub fn map_drawn(draw_ms: f64, cluster_ms: Option<f64>) {
    METRICS.with(|m| {
        let mut m = m.borrow_mut();
        // In tenths of a millisecond: the histogram's buckets are whole units.
        m.map_draw.record(draw_ms * 10.0);
        if let Some(ms) = cluster_ms {
            m.map_cluster.record(ms * 10.0);
        }
    });
}

/// What a batch carried.
pub enum Kind {
    Positions,
    Readings,
}

fn set(object: &js_sys::Object, key: &str, value: JsValue) {
    let _ = js_sys::Reflect::set(object, &key.into(), &value);
}

fn snapshot() -> JsValue {
    let object = js_sys::Object::new();
    METRICS.with(|m| {
        let m = m.borrow();
        let quantile = |q| m.latency.quantile(q).map_or(JsValue::NULL, JsValue::from);
        set(&object, "latencyP50", quantile(0.5));
        set(&object, "latencyP99", quantile(0.99));
        set(&object, "latencyMax", m.latency.max().into());
        set(&object, "samples", (m.latency.count() as f64).into());
        set(&object, "positions", (m.positions as f64).into());
        set(&object, "readings", (m.readings as f64).into());
        set(&object, "batches", (m.batches as f64).into());
        set(&object, "firstDatumAt", m.first_datum_at.map_or(JsValue::NULL, JsValue::from));
        set(&object, "firstPushAt", m.first_push_at.map_or(JsValue::NULL, JsValue::from));
        let histogram = |h: &Histogram| {
            let out = js_sys::Object::new();
            for (key, q) in [("p50", 0.5), ("p99", 0.99)] {
                set(&out, key, h.quantile(q).map_or(JsValue::NULL, |t| JsValue::from(t / 10.0)));
            }
            set(&out, "max", (h.max() / 10.0).into());
            set(&out, "count", (h.count() as f64).into());
            JsValue::from(out)
        };
        set(&object, "mapDrawMs", histogram(&m.map_draw));
        set(&object, "mapClusterMs", histogram(&m.map_cluster));
    });
    let memory = wasm_bindgen::memory().unchecked_into::<js_sys::WebAssembly::Memory>();
    let bytes = memory.buffer().unchecked_into::<js_sys::ArrayBuffer>().byte_length();
    set(&object, "wasmMemoryBytes", (bytes as f64).into());
    set(&object, "wasmHeapInUseBytes", (heap_in_use() as f64).into());
    object.into()
}

/// Installs `window.dashboardMetrics()` and `window.dashboardMetrics.reset()`.
pub fn install() {
    let Some(window) = web_sys::window() else { return };
    let read = Closure::<dyn Fn() -> JsValue>::new(snapshot).into_js_value();
    let reset = Closure::<dyn Fn()>::new(|| {
        METRICS.with(|m| {
            let mut m = m.borrow_mut();
            m.latency.reset();
            m.positions = 0;
            m.readings = 0;
            m.batches = 0;
            m.map_draw.reset();
            m.map_cluster.reset();
        });
    })
    .into_js_value();
    set(read.unchecked_ref(), "reset", reset);
    set(&window, "dashboardMetrics", read);
}

/// Installs `window.dashboardSeries(device, metric)` and `window.dashboardTrail(vehicle)`: the
/// timestamps a device's metric history or a vehicle's trail holds, oldest first (a
/// `Float64Array`), so tests and the benchmark can check the seam between history and live data
/// and how far back a chart reaches.
pub fn install_series_probe(store: crate::store::Store) {
    use leptos::prelude::WithUntracked;
    let Some(window) = web_sys::window() else { return };
    let probe = Closure::<dyn Fn(String, String) -> JsValue>::new(move |device: String, metric: String| {
        let stamps: Vec<f64> = store.equipment.with_untracked(|e| {
            e.get(&device)
                .and_then(|d| d.series.get(&metric))
                .map(|s| s.window(i64::MIN, i64::MAX).map(|p| p.ts as f64).collect())
                .unwrap_or_default()
        });
        js_sys::Float64Array::from(stamps.as_slice()).into()
    })
    .into_js_value();
    set(&window, "dashboardSeries", probe);
    let trail = Closure::<dyn Fn(String) -> JsValue>::new(move |id: String| {
        let stamps: Vec<f64> = store.fleet.with_untracked(|f| f.trail(&id).map(|p| p.ts as f64).collect());
        js_sys::Float64Array::from(stamps.as_slice()).into()
    })
    .into_js_value();
    set(&window, "dashboardTrail", trail);
    // The fleet the panels show (the replayed one while not live): `[id, lat, lon, ts]` each,
    // and the moment shown (`null` when live).
    let shown = Closure::<dyn Fn() -> JsValue>::new(move || {
        let rows = js_sys::Array::new();
        store.with_fleet_untracked(|f| {
            for p in f.iter() {
                let row =
                    js_sys::Array::of4(&p.id.as_str().into(), &p.lat.into(), &p.lon.into(), &(p.ts as f64).into());
                rows.push(&row);
            }
        });
        rows.into()
    })
    .into_js_value();
    set(&window, "dashboardFleetShown", shown);
    let moment = Closure::<dyn Fn() -> JsValue>::new(move || {
        store.moment.with_untracked(|m| m.map_or(JsValue::NULL, |at| (at as f64).into()))
    })
    .into_js_value();
    set(&window, "dashboardMoment", moment);
}
