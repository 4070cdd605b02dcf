//! A small software rasterizer for the fleet layer: vehicles are pre-drawn once as sprites (an
//! arrow per colour and heading step, anti-aliased by supersampling) and blitted into a pixel
//! buffer that goes to the canvas in one `putImageData`. At 10,000 vehicles this costs a few
//! milliseconds in wasm, where asking the canvas to fill 10,000 paths cost Chromium's software
//! rasterizer about 80 ms per frame. Plain Rust, tested natively.

use crate::model::fleet::Shape;

/// A colour, straight (not premultiplied) alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgba(pub u8, pub u8, pub u8, pub u8);

/// Heading steps per full turn in the sprite sheet (5° each).
pub const HEADINGS: usize = 72;

/// A square of premultiplied RGBA pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Sprite {
    pub side: usize,
    /// Premultiplied RGBA, row by row.
    pub pixels: Vec<[u8; 4]>,
}

/// Whether (x, y) is inside the polygon (even-odd rule).
fn inside(polygon: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut result = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let ((xi, yi), (xj, yj)) = (polygon[i], polygon[j]);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            result = !result;
        }
        j = i;
    }
    result
}

/// Distance from (x, y) to the polygon's outline.
fn edge_distance(polygon: &[(f64, f64)], x: f64, y: f64) -> f64 {
    let mut best = f64::MAX;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let ((ax, ay), (bx, by)) = (polygon[j], polygon[i]);
        let (dx, dy) = (bx - ax, by - ay);
        let t = (((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy).max(1e-12)).clamp(0.0, 1.0);
        best = best.min(((ax + t * dx - x).powi(2) + (ay + t * dy - y).powi(2)).sqrt());
        j = i;
    }
    best
}

/// A shape's outline seen from above, pointing north, in units of `size`: (forward, right)
/// pairs from its centre.
pub fn outline(shape: Shape) -> &'static [(f64, f64)] {
    match shape {
        // A notched arrow; the tip is 1.5 × further than the back corners.
        Shape::Arrow => &[(1.5, 0.0), (-1.0, 1.0), (-0.4, 0.0), (-1.0, -1.0)],
        // A long box, its narrower cab ahead with the front corners cut.
        Shape::Truck => &[
            (-1.4, -0.62),
            (-1.4, 0.62),
            (0.55, 0.62),
            (0.55, 0.5),
            (1.25, 0.5),
            (1.45, 0.3),
            (1.45, -0.3),
            (1.25, -0.5),
            (0.55, -0.5),
            (0.55, -0.62),
        ],
        // A short wide box with a pointed nose.
        Shape::Van => &[(-0.9, -0.72), (-0.9, 0.72), (0.4, 0.72), (1.3, 0.0), (0.4, -0.72)],
        // A small body with two forks ahead.
        Shape::Forklift => &[
            (-0.75, -0.7),
            (-0.75, 0.7),
            (0.3, 0.7),
            (0.3, 0.62),
            (1.4, 0.62),
            (1.4, 0.26),
            (0.3, 0.26),
            (0.3, -0.26),
            (1.4, -0.26),
            (1.4, -0.62),
            (0.3, -0.62),
            (0.3, -0.7),
        ],
    }
}

/// `shape`'s outline turned to `heading` (degrees clockwise from north) around `centre`,
/// `size` pixels per unit (an arrow's centre to its back corner).
pub fn shape_polygon(shape: Shape, centre: (f64, f64), heading: f64, size: f64) -> Vec<(f64, f64)> {
    let (sin, cos) = heading.to_radians().sin_cos();
    // Screen y grows downwards: north is -y.
    outline(shape)
        .iter()
        .map(|(forward, right)| {
            let (forward, right) = (forward * size, right * size);
            (centre.0 + sin * forward + cos * right, centre.1 - cos * forward + sin * right)
        })
        .collect()
}

/// The arrow outline for `heading` (degrees clockwise from north) around `centre`, `size`
/// pixels from centre to the back corners (the tip is 1.5 × further).
pub fn arrow(centre: (f64, f64), heading: f64, size: f64) -> [(f64, f64); 4] {
    let p = shape_polygon(Shape::Arrow, centre, heading, size);
    [p[0], p[1], p[2], p[3]]
}

impl Sprite {
    /// `polygon` filled with `fill` and outlined `outline_width` pixels wide in `outline`, on a
    /// square of `side` pixels, 4 × 4 samples per pixel.
    pub fn polygon(side: usize, polygon: &[(f64, f64)], fill: Rgba, outline: Rgba, outline_width: f64) -> Self {
        const SAMPLES: usize = 4;
        let mut pixels = vec![[0u8; 4]; side * side];
        for (index, pixel) in pixels.iter_mut().enumerate() {
            let (px, py) = ((index % side) as f64, (index / side) as f64);
            let mut sum = [0.0f64; 4];
            for sy in 0..SAMPLES {
                for sx in 0..SAMPLES {
                    let x = px + (sx as f64 + 0.5) / SAMPLES as f64;
                    let y = py + (sy as f64 + 0.5) / SAMPLES as f64;
                    if !inside(polygon, x, y) {
                        continue;
                    }
                    let Rgba(r, g, b, a) = if edge_distance(polygon, x, y) < outline_width { outline } else { fill };
                    let alpha = a as f64 / 255.0;
                    sum[0] += r as f64 * alpha;
                    sum[1] += g as f64 * alpha;
                    sum[2] += b as f64 * alpha;
                    sum[3] += a as f64;
                }
            }
            let n = (SAMPLES * SAMPLES) as f64;
            *pixel = sum.map(|v| (v / n).round().clamp(0.0, 255.0) as u8);
        }
        Sprite { side, pixels }
    }
}

/// One sprite per shape, colour and heading step, for one pixel scale. A shape's sprites are
/// drawn the first time it is asked for ([`SpriteSheet::ensure`]): a fleet of arrows never pays
/// for trucks.
#[derive(Debug, Clone)]
pub struct SpriteSheet {
    /// Device pixels per CSS pixel it was drawn for.
    pub scale: f64,
    fills: Vec<Rgba>,
    outline: Rgba,
    /// Device pixels per shape unit.
    size: f64,
    side: usize,
    /// Per [`Shape::index`]: its sprites, fill row by fill row, once drawn.
    sprites: Vec<Vec<Sprite>>,
}

impl SpriteSheet {
    /// Shapes `size` CSS pixels per unit at `scale`, one row per fill colour; the arrows drawn
    /// now, the other shapes when first needed.
    pub fn new(fills: &[Rgba], outline: Rgba, size: f64, scale: f64) -> Self {
        let size = size * scale;
        let side = (3.2 * size).ceil() as usize + 2;
        let mut sheet = SpriteSheet {
            scale,
            fills: fills.to_vec(),
            outline,
            size,
            side,
            sprites: vec![Vec::new(); Shape::ALL.len()],
        };
        sheet.ensure(Shape::Arrow);
        sheet
    }

    /// Arrows only, as [`SpriteSheet::new`].
    pub fn arrows(fills: &[Rgba], outline: Rgba, size: f64, scale: f64) -> Self {
        Self::new(fills, outline, size, scale)
    }

    /// Draws `shape`'s sprites if they are not drawn yet.
    pub fn ensure(&mut self, shape: Shape) {
        if !self.sprites[shape.index()].is_empty() {
            return;
        }
        let (side, size, scale, outline) = (self.side, self.size, self.scale, self.outline);
        let centre = (side as f64 / 2.0, side as f64 / 2.0);
        self.sprites[shape.index()] = self
            .fills
            .iter()
            .flat_map(|&fill| {
                (0..HEADINGS).map(move |step| {
                    let heading = step as f64 * 360.0 / HEADINGS as f64;
                    // The outline fades with the fill (a stale vehicle is faint all over).
                    let outline = Rgba(outline.0, outline.1, outline.2, outline.3.min(fill.3));
                    let polygon = shape_polygon(shape, centre, heading, size);
                    Sprite::polygon(side, &polygon, fill, outline, scale.max(1.0))
                })
            })
            .collect();
    }

    /// The arrow of colour row `row` nearest to `heading`.
    pub fn get(&self, row: usize, heading: f64) -> &Sprite {
        self.shape(Shape::Arrow, row, heading)
    }

    /// The sprite of `shape` (an arrow if that shape is not drawn yet) in colour row `row`
    /// nearest to `heading`.
    pub fn shape(&self, shape: Shape, row: usize, heading: f64) -> &Sprite {
        let sprites = match &self.sprites[shape.index()] {
            drawn if !drawn.is_empty() => drawn,
            _ => &self.sprites[Shape::Arrow.index()],
        };
        let step = (heading.rem_euclid(360.0) / (360.0 / HEADINGS as f64)).round() as usize % HEADINGS;
        &sprites[(row * HEADINGS + step).min(sprites.len() - 1)]
    }
}

/// A premultiplied RGBA pixel buffer the size of the canvas.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pixels: Vec<[u8; 4]>,
}

/// x·y/255 rounded to nearest, without a division (x, y ≤ 255).
#[inline(always)]
fn times_over_255(x: u32, y: u32) -> u32 {
    let t = x * y + 128;
    (t + (t >> 8)) >> 8
}

/// `src` over `dst`, both premultiplied.
#[inline(always)]
fn over(dst: &mut [u8; 4], src: [u8; 4]) {
    match src[3] {
        0 => {}
        255 => *dst = src,
        alpha => {
            let keep = 255 - alpha as u32;
            let scale = |d: u8| times_over_255(d as u32, keep) as u8;
            *dst = [
                src[0].saturating_add(scale(dst[0])),
                src[1].saturating_add(scale(dst[1])),
                src[2].saturating_add(scale(dst[2])),
                src[3].saturating_add(scale(dst[3])),
            ];
        }
    }
}

impl Frame {
    /// Clears to transparent at `width` × `height`, reusing the allocation.
    pub fn reset(&mut self, width: usize, height: usize) {
        self.width = width;
        self.height = height;
        self.pixels.clear();
        self.pixels.resize(width * height, [0; 4]);
    }

    /// Draws `sprite` centred on (x, y) in device pixels; the parts off the frame are cut.
    pub fn blit(&mut self, sprite: &Sprite, (x, y): (f64, f64)) {
        let half = (sprite.side / 2) as i64;
        let (left, top) = (x.round() as i64 - half, y.round() as i64 - half);
        let side = sprite.side as i64;
        let (x0, x1) = (left.max(0), (left + side).min(self.width as i64));
        let (y0, y1) = (top.max(0), (top + side).min(self.height as i64));
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let columns = (x1 - x0) as usize;
        for row in y0..y1 {
            let src = ((row - top) * side + (x0 - left)) as usize;
            let dst = row as usize * self.width + x0 as usize;
            let source = &sprite.pixels[src..src + columns];
            for (d, s) in self.pixels[dst..dst + columns].iter_mut().zip(source) {
                over(d, *s);
            }
        }
    }

    /// A one-pixel line from `a` to `b` in `colour` (straight alpha), cut to the frame.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), colour: Rgba) {
        let alpha = colour.3 as u32;
        let premultiplied = [colour.0, colour.1, colour.2].map(|c| (c as u32 * alpha / 255) as u8);
        let src = [premultiplied[0], premultiplied[1], premultiplied[2], colour.3];
        let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().min(4096.0) as usize;
        for i in 0..=steps {
            let t = if steps == 0 { 0.0 } else { i as f64 / steps as f64 };
            let (x, y) = ((a.0 + (b.0 - a.0) * t).round(), (a.1 + (b.1 - a.1) * t).round());
            if x >= 0.0 && y >= 0.0 && (x as usize) < self.width && (y as usize) < self.height {
                over(&mut self.pixels[y as usize * self.width + x as usize], src);
            }
        }
    }

    /// The pixel at (x, y), premultiplied.
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 4] {
        self.pixels[y * self.width + x]
    }

    /// Straight-alpha RGBA bytes, as `ImageData` wants them.
    pub fn to_rgba(&self, out: &mut Vec<u8>) {
        out.clear();
        out.resize(self.pixels.len() * 4, 0);
        for (o, &[r, g, b, a]) in out.chunks_exact_mut(4).zip(&self.pixels) {
            match a {
                0 => {}
                255 => o.copy_from_slice(&[r, g, b, a]),
                a => {
                    let un = |c: u8| ((c as u32 * 255 + a as u32 / 2) / a as u32).min(255) as u8;
                    o.copy_from_slice(&[un(r), un(g), un(b), a]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GREEN: Rgba = Rgba(63, 185, 80, 255);
    const DARK: Rgba = Rgba(13, 17, 23, 255);

    /// Centre of mass of the sprite's opaque pixels, relative to its centre.
    fn lean(sprite: &Sprite) -> (f64, f64) {
        let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
        for (i, p) in sprite.pixels.iter().enumerate() {
            let w = p[3] as f64;
            sx += w * ((i % sprite.side) as f64 + 0.5 - sprite.side as f64 / 2.0);
            sy += w * ((i / sprite.side) as f64 + 0.5 - sprite.side as f64 / 2.0);
            n += w;
        }
        (sx / n, sy / n)
    }

    #[test]
    fn arrows_point_where_the_vehicle_heads() {
        let sheet = SpriteSheet::arrows(&[GREEN], DARK, 6.0, 1.0);
        let (x, y) = lean(sheet.get(0, 0.0));
        assert!(y < -0.1 && x.abs() < y.abs() / 4.0, "north is up: {x},{y}");
        let (x, y) = lean(sheet.get(0, 90.0));
        assert!(x > 0.1 && y.abs() < x.abs() / 4.0, "east is right: {x},{y}");
        let (x, y) = lean(sheet.get(0, 180.0));
        assert!(y > 0.1 && x.abs() < y.abs() / 4.0, "south is down: {x},{y}");
        assert_eq!(sheet.get(0, 361.0), sheet.get(0, 1.0), "headings wrap");
        assert_eq!(sheet.get(0, -90.0), sheet.get(0, 270.0));
    }

    /// Which pixels a sprite covers.
    fn mask(sprite: &Sprite) -> Vec<bool> {
        sprite.pixels.iter().map(|p| p[3] > 127).collect()
    }

    #[test]
    fn each_kind_of_vehicle_has_its_own_shape_turned_to_its_heading() {
        let mut sheet = SpriteSheet::new(&[GREEN], DARK, 6.0, 1.0);
        assert!(std::ptr::eq(sheet.shape(Shape::Truck, 0, 0.0), sheet.get(0, 0.0)), "an arrow until drawn");
        for shape in Shape::ALL {
            sheet.ensure(shape);
        }
        let masks: Vec<Vec<bool>> = Shape::ALL.iter().map(|s| mask(sheet.shape(*s, 0, 0.0))).collect();
        for (i, a) in masks.iter().enumerate() {
            for b in &masks[i + 1..] {
                let differ = a.iter().zip(b).filter(|(x, y)| x != y).count();
                assert!(differ > 20, "shapes {i} and another differ in only {differ} pixels");
            }
        }
        for shape in Shape::ALL {
            let side = sheet.shape(shape, 0, 0.0).side;
            let north = mask(sheet.shape(shape, 0, 0.0));
            let south = mask(sheet.shape(shape, 0, 180.0));
            // Turned half round, each pixel lands where its mirror through the centre was.
            let turned = (0..side * side).filter(|i| north[*i] != south[side * side - 1 - i]).count();
            assert!(turned * 10 < north.iter().filter(|m| **m).count(), "{shape:?} turns with its heading");
            let body = north.iter().filter(|m| **m).count();
            assert!(body > 30, "{shape:?} is drawn ({body} pixels)");
            let edge = |x: usize, y: usize| north[y * side + x];
            assert!((0..side).all(|i| !edge(i, 0) && !edge(0, i)), "{shape:?} fits its sprite");
        }
        assert_eq!(Shape::parse("Forklift"), Some(Shape::Forklift));
        assert_eq!(Shape::parse("tractor"), None);
    }

    #[test]
    fn sprites_are_filled_outlined_and_anti_aliased() {
        let sprite = &SpriteSheet::arrows(&[GREEN], DARK, 6.0, 1.0).get(0, 0.0).clone();
        let centre = sprite.pixels[(sprite.side / 2) * sprite.side + sprite.side / 2];
        assert_eq!(centre, [63, 185, 80, 255], "the body is the fill colour");
        assert!(sprite.pixels.contains(&[13, 17, 23, 255]), "an outline");
        assert!(sprite.pixels.iter().any(|p| p[3] > 0 && p[3] < 255), "soft edges");
        assert_eq!(sprite.pixels[0], [0, 0, 0, 0], "transparent corners");
        let hidpi = SpriteSheet::arrows(&[GREEN], DARK, 6.0, 2.0);
        assert!(hidpi.get(0, 0.0).side * 10 > sprite.side * 17, "drawn for the device pixel ratio");
    }

    #[test]
    fn blit_composites_and_clips() {
        let sheet = SpriteSheet::arrows(&[GREEN, Rgba(139, 152, 165, 115)], DARK, 6.0, 1.0);
        let mut frame = Frame::default();
        frame.reset(40, 30);
        frame.blit(sheet.get(0, 0.0), (20.0, 15.0));
        assert_eq!(frame.pixel(20, 15), [63, 185, 80, 255]);
        // Half off every edge: no panic, the visible part drawn.
        for at in [(0.0, 0.0), (40.0, 30.0), (-3.0, 15.0), (41.0, -2.0), (-1e9, 1e9)] {
            frame.blit(sheet.get(0, 45.0), at);
        }
        assert_eq!(frame.pixel(0, 0)[3], 255);
        // A translucent (stale) arrow over an opaque one keeps it opaque and mixes the colours.
        frame.blit(sheet.get(1, 0.0), (20.0, 15.0));
        let mixed = frame.pixel(20, 15);
        assert_eq!(mixed[3], 255);
        assert!(mixed[0] > 63 && mixed[1] < 185, "{mixed:?}");
        let mut bytes = Vec::new();
        frame.to_rgba(&mut bytes);
        assert_eq!(bytes.len(), 40 * 30 * 4);
        assert_eq!(&bytes[(5 * 40 + 30) * 4..][..4], &[0, 0, 0, 0]);
    }

    #[test]
    fn division_free_scaling_is_exact() {
        for x in 0..=255u32 {
            for y in 0..=255u32 {
                assert_eq!(times_over_255(x, y), (x * y * 2 + 255) / 510, "{x}·{y}/255");
            }
        }
    }

    #[test]
    fn lines_are_cut_to_the_frame_and_unpremultiplied_on_output() {
        let mut frame = Frame::default();
        frame.reset(10, 10);
        frame.line((-5.0, 5.0), (20.0, 5.0), Rgba(200, 100, 50, 128));
        frame.line((3.0, 3.0), (3.0, 3.0), Rgba(200, 100, 50, 255));
        assert_eq!(frame.pixel(3, 3), [200, 100, 50, 255], "a zero-length line is a dot");
        assert_eq!(frame.pixel(0, 5)[3], 128);
        assert_eq!(frame.pixel(9, 5)[3], 128);
        assert_eq!(frame.pixel(5, 4)[3], 0);
        let mut bytes = Vec::new();
        frame.to_rgba(&mut bytes);
        let [r, g, b, a] = bytes[(5 * 10 + 5) * 4..][..4] else { unreachable!() };
        assert_eq!(a, 128);
        assert!((r as i32 - 200).abs() <= 2 && (g as i32 - 100).abs() <= 2 && (b as i32 - 50).abs() <= 2);
        frame.reset(4, 4);
        assert_eq!(frame.pixel(3, 3), [0, 0, 0, 0], "reset clears");
    }
}
