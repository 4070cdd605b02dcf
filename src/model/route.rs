//! Screens and their shareable URLs. Routing lives in the URL fragment
//! (`#/device/press-01?window=15m`) so deep links work on any static host and under any
//! sub-path, with no server-side fallback to configure.

/// Chart time windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    OneMinute,
    FiveMinutes,
    FifteenMinutes,
    OneHour,
}

impl Window {
    pub const ALL: [Window; 4] = [Window::OneMinute, Window::FiveMinutes, Window::FifteenMinutes, Window::OneHour];

    pub fn as_str(self) -> &'static str {
        match self {
            Window::OneMinute => "1m",
            Window::FiveMinutes => "5m",
            Window::FifteenMinutes => "15m",
            Window::OneHour => "1h",
        }
    }

    pub fn millis(self) -> i64 {
        match self {
            Window::OneMinute => 60_000,
            Window::FiveMinutes => 300_000,
            Window::FifteenMinutes => 900_000,
            Window::OneHour => 3_600_000,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == text)
    }
}

/// A screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Overview,
    Equipment,
    /// The fleet map; `vehicle` is the selected vehicle, if any.
    Fleet {
        vehicle: Option<String>,
    },
    Device {
        id: String,
        window: Window,
    },
}

impl Route {
    /// Parses a URL fragment (with or without the leading `#`). Unknown paths are the overview.
    pub fn parse(fragment: &str) -> Self {
        let fragment = fragment.trim_start_matches('#');
        let (path, query) = fragment.split_once('?').unwrap_or((fragment, ""));
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let window = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("window="))
            .and_then(Window::parse)
            .unwrap_or(Window::FiveMinutes);
        match segments.as_slice() {
            ["equipment"] => Route::Equipment,
            ["fleet"] => Route::Fleet {
                vehicle: query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("vehicle="))
                    .filter(|id| valid_id(id))
                    .map(str::to_string),
            },
            ["device", id] if valid_id(id) => Route::Device { id: id.to_string(), window },
            _ => Route::Overview,
        }
    }

    /// The fragment for this screen, `#/...`.
    pub fn href(&self) -> String {
        match self {
            Route::Overview => "#/".into(),
            Route::Equipment => "#/equipment".into(),
            Route::Fleet { vehicle: None } => "#/fleet".into(),
            Route::Fleet { vehicle: Some(id) } => format!("#/fleet?vehicle={id}"),
            Route::Device { id, window } => format!("#/device/{id}?window={}", window.as_str()),
        }
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_round_trip_through_their_urls() {
        for route in [
            Route::Overview,
            Route::Equipment,
            Route::Fleet { vehicle: None },
            Route::Fleet { vehicle: Some("veh-00007".into()) },
            Route::Device { id: "press-01".into(), window: Window::OneHour },
        ] {
            assert_eq!(Route::parse(&route.href()), route);
        }
    }

    #[test]
    fn defaults_and_hostile_input() {
        assert_eq!(Route::parse(""), Route::Overview);
        assert_eq!(Route::parse("#/nowhere"), Route::Overview);
        assert_eq!(Route::parse("#/device/rig-02"), Route::Device { id: "rig-02".into(), window: Window::FiveMinutes });
        assert_eq!(Route::parse("#/device/<script>"), Route::Overview);
        assert_eq!(Route::parse("#/fleet?vehicle=<img>"), Route::Fleet { vehicle: None });
        assert_eq!(
            Route::parse("#/device/rig-02?window=7d"),
            Route::Device { id: "rig-02".into(), window: Window::FiveMinutes }
        );
    }
}
