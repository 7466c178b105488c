//! Great-circle distance.

use crate::values::Place;

/// Mean Earth radius (IUGG), as DESIGN.md §2 fixes it.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Haversine distance in kilometres.
pub fn haversine_km(a: &Place, b: &Place) -> f64 {
    let (la, lb) = (a.lat(), b.lat());
    haversine_deg_cos(
        la,
        a.lon(),
        la.to_radians().cos(),
        lb,
        b.lon(),
        lb.to_radians().cos(),
    )
}

/// [`haversine_km`] on raw degrees, with each point's
/// `lat.to_radians().cos()` computed once by the caller (an index keeps it
/// per entry): the same arithmetic, so the same bits, with two fewer
/// cosines per pair.
pub fn haversine_deg_cos(
    lat_a: f64,
    lon_a: f64,
    cos_a: f64,
    lat_b: f64,
    lon_b: f64,
    cos_b: f64,
) -> f64 {
    let (la1, la2) = (lat_a.to_radians(), lat_b.to_radians());
    let dlat = la2 - la1;
    let dlon = (lon_b - lon_a).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + cos_a * cos_b * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanzhou_to_beijing_is_about_1180_km() {
        let lanzhou = Place::new(36.0611, 103.8343).unwrap();
        let beijing = Place::new(39.9042, 116.4074).unwrap();
        let d = haversine_km(&lanzhou, &beijing);
        assert!((d - 1183.0).abs() < 10.0, "{d}");
    }

    #[test]
    fn same_place_is_zero_and_symmetric() {
        let a = Place::new(10.0, 20.0).unwrap();
        let b = Place::new(-33.0, 151.0).unwrap();
        assert_eq!(haversine_km(&a, &a), 0.0);
        assert!((haversine_km(&a, &b) - haversine_km(&b, &a)).abs() < 1e-9);
    }
}
