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
    /// The alert history.
    Alerts,
    /// One alarm and everything that happened to it.
    Alarm {
        id: String,
    },
    /// The alarm system's health against EEMUA 191.
    AlarmHealth,
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
            ["alerts"] => Route::Alerts,
            ["alerts", id] => decode_id(id).map_or(Route::Alerts, |id| Route::Alarm { id }),
            ["alarms", "health"] => Route::AlarmHealth,
            ["fleet"] => Route::Fleet {
                vehicle: query.split('&').find_map(|pair| pair.strip_prefix("vehicle=")).and_then(decode_id),
            },
            ["device", id] => match decode_id(id) {
                Some(id) => Route::Device { id, window },
                None => Route::Overview,
            },
            _ => Route::Overview,
        }
    }

    /// The fragment for this screen, `#/...`.
    /// The screen this route shows: the same for every vehicle selected on the fleet map, which
    /// only changes the selection, not the screen.
    pub fn screen(&self) -> Route {
        match self {
            Route::Fleet { .. } => Route::Fleet { vehicle: None },
            route => route.clone(),
        }
    }

    pub fn href(&self) -> String {
        match self {
            Route::Overview => "#/".into(),
            Route::Equipment => "#/equipment".into(),
            Route::Alerts => "#/alerts".into(),
            Route::Alarm { id } => format!("#/alerts/{}", encode(id)),
            Route::AlarmHealth => "#/alarms/health".into(),
            Route::Fleet { vehicle: None } => "#/fleet".into(),
            Route::Fleet { vehicle: Some(id) } => format!("#/fleet?vehicle={}", encode(id)),
            Route::Device { id, window } => format!("#/device/{}?window={}", encode(id), window.as_str()),
        }
    }
}

/// Ids come from the wire, so any text may be one: in a URL every byte but letters, digits
/// and `-_.~` is percent-encoded.
pub(crate) fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An id from a URL: percent-decoded, 1 to 128 characters, no control characters.
pub(crate) fn decode_id(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let id = String::from_utf8(out).ok()?;
    let length = id.chars().count();
    ((1..=128).contains(&length) && !id.chars().any(char::is_control)).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_round_trip_through_their_urls() {
        for route in [
            Route::Overview,
            Route::Equipment,
            Route::Alerts,
            Route::Alarm { id: "alert-17/3 ü".into() },
            Route::AlarmHealth,
            Route::Fleet { vehicle: None },
            Route::Fleet { vehicle: Some("veh-00007".into()) },
            Route::Device { id: "press-01".into(), window: Window::OneHour },
            Route::Fleet { vehicle: Some("<img src=x onerror=alert(1)> & ü/?#".into()) },
            Route::Device { id: "a b%c".into(), window: Window::OneMinute },
        ] {
            assert_eq!(Route::parse(&route.href()), route);
        }
    }

    #[test]
    fn defaults_and_hostile_input() {
        assert_eq!(Route::parse(""), Route::Overview);
        assert_eq!(Route::parse("#/nowhere"), Route::Overview);
        // Selecting a vehicle stays on the fleet screen; another device is another screen.
        let fleet = Route::Fleet { vehicle: None };
        assert_eq!(Route::Fleet { vehicle: Some("a".into()) }.screen(), fleet);
        assert_ne!(Route::parse("#/device/a").screen(), Route::parse("#/device/b").screen());
        assert_eq!(Route::parse("#/device/rig-02"), Route::Device { id: "rig-02".into(), window: Window::FiveMinutes });
        // Any text can be an id (it is shown as text), but not nothing, not control characters,
        // not broken escapes and not more than 128 characters.
        assert_eq!(Route::parse("#/fleet?vehicle=%3Cimg%3E"), Route::Fleet { vehicle: Some("<img>".into()) });
        assert_eq!(Route::parse("#/fleet?vehicle="), Route::Fleet { vehicle: None });
        assert_eq!(Route::parse("#/fleet?vehicle=a%00b"), Route::Fleet { vehicle: None });
        assert_eq!(Route::parse("#/fleet?vehicle=%zz"), Route::Fleet { vehicle: None });
        assert_eq!(Route::parse("#/fleet?vehicle=%C3"), Route::Fleet { vehicle: None }, "not UTF-8");
        assert_eq!(Route::parse(&format!("#/fleet?vehicle={}", "v".repeat(129))), Route::Fleet { vehicle: None });
        assert_eq!(Route::parse("#/device/%0A"), Route::Overview);
        assert_eq!(
            Route::parse("#/device/rig-02?window=7d"),
            Route::Device { id: "rig-02".into(), window: Window::FiveMinutes }
        );
    }
}
