//! Light and dark: the operator's choice (light, dark, or the system's), the theme it comes to,
//! and the colours each theme draws its canvases with (charts, the map). The page's own colours
//! are CSS (`style/main.css`, `light-dark()`); canvases cannot read those, so they read these.

/// What the operator chose in the header (kept in the browser's storage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThemeChoice {
    /// The system's colour scheme, followed as it changes.
    #[default]
    Auto,
    Light,
    Dark,
}

impl ThemeChoice {
    pub const ALL: [ThemeChoice; 3] = [ThemeChoice::Auto, ThemeChoice::Light, ThemeChoice::Dark];

    pub fn as_str(self) -> &'static str {
        match self {
            ThemeChoice::Auto => "auto",
            ThemeChoice::Light => "light",
            ThemeChoice::Dark => "dark",
        }
    }

    /// A stored or chosen value; anything else is the system's.
    pub fn parse(text: &str) -> Self {
        match text {
            "light" => ThemeChoice::Light,
            "dark" => ThemeChoice::Dark,
            _ => ThemeChoice::Auto,
        }
    }

    /// The theme shown, given whether the system prefers light.
    pub fn resolve(self, system_light: bool) -> Theme {
        match self {
            ThemeChoice::Light => Theme::Light,
            ThemeChoice::Dark => Theme::Dark,
            ThemeChoice::Auto if system_light => Theme::Light,
            ThemeChoice::Auto => Theme::Dark,
        }
    }
}

/// The theme shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    /// The default: a wall screen in a control room.
    #[default]
    Dark,
    Light,
}

/// An RGB colour.
pub type Rgb = (u8, u8, u8);

/// The colours a theme draws canvases with. Chart colours are RGB (plotters); map colours are
/// CSS colour strings (canvas 2D).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    pub chart_background: Rgb,
    pub chart_grid: Rgb,
    pub chart_text: Rgb,
    pub chart_line: Rgb,
    pub chart_band: Rgb,
    /// Limit lines: info, warning, critical.
    pub chart_limits: [Rgb; 3],
    /// Vehicle ids written on the map at high zoom.
    pub map_text: &'static str,
    pub street: &'static str,
    pub street_label: &'static str,
    pub site_label: &'static str,
    pub fence_label: &'static str,
}

const DARK: Palette = Palette {
    chart_background: (0x17, 0x1e, 0x26),
    chart_grid: (0x2a, 0x35, 0x41),
    chart_text: (0x8b, 0x98, 0xa5),
    chart_line: (0x58, 0xa6, 0xff),
    chart_band: (0x2f, 0x5f, 0x96),
    chart_limits: [(0x58, 0xa6, 0xff), (0xd2, 0x99, 0x22), (0xf8, 0x51, 0x49)],
    map_text: "#e6edf3",
    street: "rgba(139,152,165,0.28)",
    street_label: "rgba(139,152,165,0.8)",
    site_label: "rgba(139,152,165,0.9)",
    fence_label: "#d2a8ff",
};

const LIGHT: Palette = Palette {
    chart_background: (0xff, 0xff, 0xff),
    chart_grid: (0xd0, 0xd7, 0xde),
    chart_text: (0x59, 0x63, 0x6e),
    chart_line: (0x09, 0x69, 0xda),
    chart_band: (0x9e, 0xc5, 0xf4),
    chart_limits: [(0x09, 0x69, 0xda), (0x9a, 0x67, 0x00), (0xcf, 0x22, 0x2e)],
    map_text: "#1f2328",
    street: "rgba(89,99,110,0.3)",
    street_label: "rgba(60,68,77,0.9)",
    site_label: "rgba(60,68,77,0.95)",
    fence_label: "#6639ba",
};

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Dark => "dark",
            Theme::Light => "light",
        }
    }

    pub fn palette(self) -> &'static Palette {
        match self {
            Theme::Dark => &DARK,
            Theme::Light => &LIGHT,
        }
    }
}

/// WCAG 2's contrast ratio of two colours (1 to 21).
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    fn luminance((r, g, b): Rgb) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_resolves_to_a_theme_and_round_trips() {
        assert_eq!(ThemeChoice::Auto.resolve(true), Theme::Light);
        assert_eq!(ThemeChoice::Auto.resolve(false), Theme::Dark);
        assert_eq!(ThemeChoice::Dark.resolve(true), Theme::Dark);
        assert_eq!(ThemeChoice::Light.resolve(false), Theme::Light);
        for choice in ThemeChoice::ALL {
            assert_eq!(ThemeChoice::parse(choice.as_str()), choice);
        }
        assert_eq!(ThemeChoice::parse("<script>"), ThemeChoice::Auto);
    }

    #[test]
    fn chart_text_and_lines_are_legible_on_their_background_in_both_themes() {
        for theme in [Theme::Dark, Theme::Light] {
            let p = theme.palette();
            // WCAG AA for text (4.5:1) for the axis labels; 3:1 for graphics (lines, limits).
            assert!(contrast(p.chart_text, p.chart_background) >= 4.5, "{theme:?} labels");
            assert!(contrast(p.chart_line, p.chart_background) >= 3.0, "{theme:?} line");
            for limit in p.chart_limits {
                assert!(contrast(limit, p.chart_background) >= 3.0, "{theme:?} limit {limit:?}");
            }
        }
    }
}
