//! Live line charts: a drawing function over any plotters backend, and the component that owns
//! the canvas (device-pixel sizing, redraw at most once per animation frame, hover read-out,
//! min / max / average of the window).

use leptos::html::Canvas;
use leptos::prelude::*;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use telemetry::Severity;
use wasm_bindgen::JsCast;

use super::frame::{fit_canvas, use_frame_scheduler};
use crate::model::catalog::{metric_look, MetricLook};
use crate::model::series::{Column, Series};
use crate::model::theme::Palette;
use crate::store::use_store;

fn rgb((r, g, b): crate::model::theme::Rgb) -> RGBColor {
    RGBColor(r, g, b)
}

/// Width of the y label area in CSS pixels (the hover read-out maps x through it).
const Y_LABELS: f64 = 64.0;
const MARGIN: f64 = 10.0;

/// What one chart shows.
pub struct ChartInput<'a> {
    pub columns: &'a [Column],
    pub column_count: usize,
    pub from: i64,
    pub to: i64,
    pub unit: &'a str,
    /// Decimals of the axis labels.
    pub decimals: u8,
    /// The expected range the axis always shows (the data and the limits widen it).
    pub expected: (Option<f64>, Option<f64>),
    /// Threshold lines: value and severity.
    pub limits: Vec<(f64, Severity)>,
    /// The theme's colours.
    pub palette: &'a Palette,
}

fn severity_colour(palette: &Palette, severity: Severity) -> RGBColor {
    let [info, warning, critical] = palette.chart_limits;
    rgb(match severity {
        Severity::Info => info,
        Severity::Warning => warning,
        Severity::Critical => critical,
    })
}

/// `-4:30` for 270 s before the right edge.
fn relative_label(ms_before_end: i64) -> String {
    let seconds = (ms_before_end / 1000).abs();
    if seconds == 0 {
        "now".into()
    } else {
        format!("-{}:{:02}", seconds / 60, seconds % 60)
    }
}

/// Draws a chart. `scale` is the device pixel ratio: sizes are given in CSS pixels.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    input: &ChartInput,
    scale: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let px = |css: f64| (css * scale).round() as u32;
    let palette = input.palette;
    root.fill(&rgb(palette.chart_background))?;
    let expected = [input.expected.0, input.expected.1].into_iter().flatten();
    let values =
        input.columns.iter().flat_map(|c| [c.min, c.max]).chain(input.limits.iter().map(|(v, _)| *v)).chain(expected);
    let (low, high) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (low, high) = if low > high { (0.0, 1.0) } else { (low, high) };
    let pad = ((high - low) * 0.08).max(0.5);
    let span = (input.to - input.from).max(1) as f64;
    let column_ms = span / input.column_count.max(1) as f64;
    let x_of = |c: &Column| input.from + ((c.x as f64 + 0.5) * column_ms) as i64;

    let font = ("sans-serif", px(12.0)).into_font().color(&rgb(palette.chart_text));
    let mut chart = ChartBuilder::on(root)
        .margin(px(MARGIN))
        .x_label_area_size(px(24.0))
        .y_label_area_size(px(Y_LABELS))
        .build_cartesian_2d(input.from..input.to, (low - pad)..(high + pad))?;
    let to = input.to;
    chart
        .configure_mesh()
        .bold_line_style(rgb(palette.chart_grid))
        .light_line_style(TRANSPARENT)
        .axis_style(rgb(palette.chart_grid))
        .label_style(font.clone())
        .x_labels(6)
        .y_labels(5)
        .x_label_formatter(&|x| relative_label(to - *x))
        .y_label_formatter(&|y| format!("{y:.*}", usize::from(input.decimals)))
        .y_desc(input.unit)
        .axis_desc_style(font)
        .draw()?;
    // The min–max band of each pixel column, then a line through the columns' last values.
    chart.draw_series(input.columns.iter().map(|c| {
        PathElement::new(vec![(x_of(c), c.min), (x_of(c), c.max)], rgb(palette.chart_band).stroke_width(px(1.0)))
    }))?;
    chart.draw_series(LineSeries::new(
        input.columns.iter().map(|c| (x_of(c), c.last)),
        rgb(palette.chart_line).stroke_width(px(2.0)),
    ))?;
    for (value, severity) in &input.limits {
        let colour = severity_colour(palette, *severity);
        chart.draw_series(DashedLineSeries::new(
            vec![(input.from, *value), (input.to, *value)],
            px(6.0),
            px(4.0),
            colour.stroke_width(px(1.0)),
        ))?;
    }
    root.present()
}

/// Local time of day for a Unix ms timestamp.
pub(crate) fn clock_time(ts: i64) -> String {
    let date = js_sys::Date::new(&(ts as f64).into());
    format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds())
}

/// Wall-clock Unix ms.
pub fn wall_now() -> i64 {
    js_sys::Date::now() as i64
}

/// A live chart of one metric of one device.
#[component]
pub fn LiveChart(
    /// The device whose metric is drawn.
    device: String,
    /// Metric id, as in the readings' `values`.
    metric: String,
    /// Window length in ms.
    #[prop(into)]
    window_ms: Signal<i64>,
    /// While true the view is frozen (data keeps buffering).
    #[prop(into)]
    paused: Signal<bool>,
) -> impl IntoView {
    let store = use_store();
    let canvas = NodeRef::<Canvas>::new();
    // The hour before the page opened, joined in front of the live points.
    if let Some(history) = crate::live::history::loader(store) {
        history.device(&device);
    }
    // How the catalog says to show it, read again when the catalog or the device's kind changes.
    let look = {
        let (device, metric) = (device.clone(), metric.clone());
        Memo::new(move |_| {
            let kind = store.equipment.with(|e| e.get(&device).map(|d| d.info.kind.clone())).unwrap_or_default();
            store.catalog.with(|c| metric_look(c, &kind, &metric))
        })
    };
    // The right edge of the view: now, or where it was when paused.
    let frozen_to = RwSignal::new(None::<i64>);
    Effect::new(move |_| {
        if paused.get() {
            frozen_to.update(|f| {
                f.get_or_insert(wall_now());
            });
        } else {
            frozen_to.set(None);
        }
    });
    let range = move || {
        // The timeline's moment when the page shows the past: the window ends there.
        let to = frozen_to.get().unwrap_or_else(|| store.shown_now());
        (to - window_ms.get(), to)
    };
    let (device_for_series, metric_for_series) = (device.clone(), metric.clone());
    let with_series = move |f: &mut dyn FnMut(Option<&Series>)| {
        store.equipment.with(|e| f(e.get(&device_for_series).and_then(|d| d.series.get(&metric_for_series))));
    };
    let with_series_draw = with_series.clone();
    let frames = use_frame_scheduler(move || {
        let Some(element) = canvas.get_untracked() else { return };
        let element: web_sys::HtmlCanvasElement = element.unchecked_into();
        let (from, to) = untrack(range);
        let width = element.client_width().max(1) as f64;
        let scale = fit_canvas(&element, (width, element.client_height().max(1) as f64));
        let column_count = (width - Y_LABELS - 2.0 * MARGIN).max(10.0) as usize;
        let mut columns = Vec::new();
        with_series_draw(&mut |series| {
            columns = series.map(|s| s.downsample(from, to, column_count)).unwrap_or_default();
        });
        let look: MetricLook = look.get_untracked();
        let input = ChartInput {
            columns: &columns,
            column_count,
            from,
            to,
            unit: &look.unit,
            decimals: look.decimals,
            expected: (look.min, look.max),
            limits: look.limits.iter().map(|(value, severity, _)| (*value, *severity)).collect(),
            palette: store.theme.get_untracked().palette(),
        };
        if let Some(backend) = CanvasBackend::with_canvas_object(element) {
            let root = backend.into_drawing_area();
            if let Err(error) = draw(&root, &input, scale) {
                web_sys::console::warn_1(&format!("chart: {error}").into());
            }
        }
    });
    // Redraw when this device's data, the window or the clock changes, at most once per frame.
    let version = {
        let device = device.clone();
        Memo::new(move |_| store.equipment.with(|e| e.get(&device).map(|d| d.version)))
    };
    Effect::new(move |_| {
        range();
        // Read, not only tracked: a memo is recomputed (and so subscribed again) when read.
        version.with(|_| ());
        look.with(|_| ());
        store.theme.track();
        frames.now();
    });

    let stats = {
        let with_series = with_series.clone();
        move || {
            let (from, to) = range();
            let mut text = "no data in this window".to_string();
            let with_series = with_series.clone();
            with_series(&mut |series| {
                if let Some(s) = series.and_then(|s| s.stats(from, to)) {
                    let look = look.get();
                    text = format!(
                        "min {} · max {} · avg {}",
                        look.format(s.min),
                        look.format(s.max),
                        look.format(s.mean)
                    );
                }
            });
            text
        }
    };
    let with_cursor_value = {
        let with_series = with_series.clone();
        move |at: i64| {
            let mut text = "no data".to_string();
            let with_series = with_series.clone();
            with_series(&mut |series| {
                if let Some(p) = series.and_then(|s| s.at(at)) {
                    text = look.with_untracked(|l| l.format(p.value));
                }
            });
            text
        }
    };
    let hover = RwSignal::new(None::<String>);
    let on_move = {
        let with_series = with_series.clone();
        move |event: web_sys::MouseEvent| {
            let Some(element) = canvas.get_untracked() else { return };
            let rect = element.get_bounding_client_rect();
            let plot_left = rect.left() + Y_LABELS + MARGIN;
            let plot_width = (rect.width() - Y_LABELS - 2.0 * MARGIN).max(1.0);
            let fraction = ((event.client_x() as f64 - plot_left) / plot_width).clamp(0.0, 1.0);
            let (from, to) = range();
            let at = from + (fraction * (to - from) as f64) as i64;
            let mut text = None;
            let with_series = with_series.clone();
            with_series(&mut |series| {
                let nearest = series.and_then(|s| s.window(from, to).min_by_key(|p| (p.ts - at).abs()));
                let look = look.get_untracked();
                text = nearest.map(|p| format!("{} · {}", clock_time(p.ts), look.format(p.value)));
            });
            hover.set(text);
        }
    };
    view! {
        <figure class="live-chart" data-testid="chart" data-metric=metric.clone()>
            <figcaption>
                <span class="metric" data-testid="chart-name">{move || look.with(|l| l.name.clone())}</span>
                <span class="unit" data-testid="chart-unit">
                    {move || look.with(|l| (!l.unit.is_empty()).then(|| format!(" ({})", l.unit)))}
                </span>
                <span class="stats" data-testid="chart-stats">{stats}</span>
                <span class="hover" data-testid="chart-hover">{move || hover.get()}</span>
            </figcaption>
            <div class="chart-area">
                <canvas node_ref=canvas on:mousemove=on_move on:mouseleave=move |_| hover.set(None)></canvas>
                // The moment replayed, at the window's right edge, with the value as it stood then.
                {move || {
                    let at = store.moment.get()?;
                    let value = with_cursor_value(at);
                    Some(view! {
                        <div class="chart-cursor" data-testid="chart-cursor" data-ts=at.to_string()>
                            <span>{format!("{} · {}", clock_time(at), value)}</span>
                        </div>
                    })
                }}
            </div>
        </figure>
    }
}
