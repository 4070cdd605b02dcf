//! The backend's own world as vector data, drawn under the vehicles when there is no tile
//! server: the streets its vehicles drive on and the outlines of its sites. Served at
//! `GET {apiBase}/basemap` ([`BASEMAP_PATH`]), camelCase JSON, coordinates rounded to 6
//! decimals (about 0.1 m), each point `[lat, lon]` in WGS 84 degrees:
//!
//! ```json
//! {
//!   "streets": [{ "name": "1st Street", "points": [[47.3601, 8.5201], [47.3801, 8.5201]] }],
//!   "sites": [{ "id": "harbour", "name": "Harbour",
//!               "outline": [[47.36, 8.52], [47.36, 8.53], [47.37, 8.53], [47.37, 8.52]] }]
//! }
//! ```
//!
//! A street is a polyline; a site's outline is a ring that closes by itself (the last point is
//! not the first again). A backend with nothing to draw answers empty lists.

use serde::{Deserialize, Serialize};

/// The functions API path (after `{apiBase}/`) that answers the [`Basemap`].
pub const BASEMAP_PATH: &str = "basemap";

/// A point: `[lat, lon]`, WGS 84 degrees.
pub type Point = [f64; 2];

/// Streets and site outlines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Basemap {
    /// The streets, each once.
    #[serde(default)]
    pub streets: Vec<Street>,
    /// The sites' outlines.
    #[serde(default)]
    pub sites: Vec<SiteOutline>,
}

/// One street.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Street {
    /// Shown along it, e.g. `3rd Street`.
    pub name: String,
    /// Its line, two points at least.
    pub points: Vec<Point>,
}

/// The outline of a site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteOutline {
    /// As in the catalog's sites and `site:<id>` groups.
    pub id: String,
    /// Shown inside it.
    pub name: String,
    /// A ring of three points at least, closing by itself.
    pub outline: Vec<Point>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_basemap_is_camel_case_json_with_lat_lon_pairs() {
        let map = Basemap {
            streets: vec![Street { name: "1st Street".into(), points: vec![[47.0, 8.0], [47.01, 8.0]] }],
            sites: vec![SiteOutline {
                id: "harbour".into(),
                name: "Harbour".into(),
                outline: vec![[47.0, 8.0], [47.0, 8.01], [47.01, 8.01]],
            }],
        };
        let text = serde_json::to_string(&map).unwrap();
        assert_eq!(
            text,
            r#"{"streets":[{"name":"1st Street","points":[[47.0,8.0],[47.01,8.0]]}],"sites":[{"id":"harbour","name":"Harbour","outline":[[47.0,8.0],[47.0,8.01],[47.01,8.01]]}]}"#
        );
        assert_eq!(serde_json::from_str::<Basemap>(&text).unwrap(), map);
        assert_eq!(serde_json::to_string(&Basemap::default()).unwrap(), r#"{"streets":[],"sites":[]}"#);
        assert_eq!(serde_json::from_str::<Basemap>("{}").unwrap(), Basemap::default());
    }
}
