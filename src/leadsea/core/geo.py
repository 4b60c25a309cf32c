"""Pure-Python geo helpers: Chinese map datums (WGS-84/GCJ-02/BD-09), haversine, and exact grid cells."""

from __future__ import annotations

import math

__all__ = [
    "CELL_DEG",
    "CELL_ROW_STRIDE",
    "COORD_SYSTEMS",
    "EARTH_RADIUS_M",
    "N_CELL_COLS",
    "N_CELL_ROWS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "bounding_box",
    "cell_of",
    "cell_ranges_covering",
    "cells_covering",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "haversine_m",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

LatLng = tuple[float, float]

# --------------------------------------------------------------------------------------------------------
# Chinese map coordinate systems
#
# WGS-84 is what GPS reports and what we store. GCJ-02 ("Mars coordinates") is the obfuscated datum that
# every map published in mainland China must use (Amap/Gaode, Tencent, Google's China tiles, Apple Maps in
# China). BD-09 is Baidu's extra obfuscation on top of GCJ-02. The formulas below are the de-facto
# standard reverse-engineered ones (Krasovsky-1940 ellipsoid constants) shared by coordtransform,
# eviltransform, gcoord and friends. Outside the rough mainland bounding box all three coincide.
# --------------------------------------------------------------------------------------------------------

COORD_SYSTEMS: frozenset[str] = frozenset({"wgs84", "gcj02", "bd09"})

_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0

# Iterative inverses stop once the forward transform reproduces the input to within this many degrees
# (1e-11 degrees is ~1 micrometre): far below the 0.5 m contract.
_INVERSE_TOL_DEG = 1e-11
_INVERSE_MAX_ITER = 50


def out_of_china(lat: float, lng: float) -> bool:
    """True outside the rough mainland-China box where GCJ-02/BD-09 are not applied."""
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj02_delta(lat: float, lng: float) -> LatLng:
    """The GCJ-02 offset (degrees) added to a WGS-84 position inside China."""
    dlat = _transform_lat(lng - 105.0, lat - 35.0)
    dlng = _transform_lng(lng - 105.0, lat - 35.0)
    rad_lat = math.radians(lat)
    magic = math.sin(rad_lat)
    magic = 1.0 - _KRASOVSKY_EE * magic * magic
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi)
    dlng = (dlng * 180.0) / (_KRASOVSKY_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlat, dlng


def wgs84_to_gcj02(lat: float, lng: float) -> LatLng:
    """WGS-84 (GPS) -> GCJ-02 (Amap, Tencent, Google China). Identity outside mainland China."""
    if out_of_china(lat, lng):
        return lat, lng
    dlat, dlng = _gcj02_delta(lat, lng)
    return lat + dlat, lng + dlng


def gcj02_to_wgs84(lat: float, lng: float) -> LatLng:
    """GCJ-02 -> WGS-84 by fixed-point iteration on the forward transform (exact to well under 1 mm).

    The popular one-step inverse (subtract the offset computed at the GCJ-02 point) is off by up to a few
    metres; here the forward transform's offset changes so slowly (its Jacobian is ~1e-3 from identity)
    that ``w <- w - (wgs84_to_gcj02(w) - g)`` converges in a handful of steps.
    """
    if out_of_china(lat, lng):
        return lat, lng
    dlat, dlng = _gcj02_delta(lat, lng)
    w_lat, w_lng = lat - dlat, lng - dlng
    for _ in range(_INVERSE_MAX_ITER):
        g_lat, g_lng = wgs84_to_gcj02(w_lat, w_lng)
        err_lat, err_lng = g_lat - lat, g_lng - lng
        if abs(err_lat) < _INVERSE_TOL_DEG and abs(err_lng) < _INVERSE_TOL_DEG:
            break
        w_lat -= err_lat
        w_lng -= err_lng
    return w_lat, w_lng


def gcj02_to_bd09(lat: float, lng: float) -> LatLng:
    """GCJ-02 -> BD-09 (Baidu). Identity outside mainland China."""
    if out_of_china(lat, lng):
        return lat, lng
    x, y = lng, lat
    z = math.hypot(x, y) + 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) + 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd09_to_gcj02_approx(lat: float, lng: float) -> LatLng:
    x, y = lng - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def bd09_to_gcj02(lat: float, lng: float) -> LatLng:
    """BD-09 -> GCJ-02: the standard closed-form inverse, refined by iteration to be exact.

    The closed form alone is off by up to ~0.2 m; a few fixed-point steps on ``gcj02_to_bd09`` remove that.
    Identity outside mainland China.
    """
    if out_of_china(lat, lng):
        return lat, lng
    g_lat, g_lng = _bd09_to_gcj02_approx(lat, lng)
    for _ in range(_INVERSE_MAX_ITER):
        b_lat, b_lng = gcj02_to_bd09(g_lat, g_lng)
        err_lat, err_lng = b_lat - lat, b_lng - lng
        if abs(err_lat) < _INVERSE_TOL_DEG and abs(err_lng) < _INVERSE_TOL_DEG:
            break
        g_lat -= err_lat
        g_lng -= err_lng
    return g_lat, g_lng


def wgs84_to_bd09(lat: float, lng: float) -> LatLng:
    """WGS-84 -> BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lng))


def bd09_to_wgs84(lat: float, lng: float) -> LatLng:
    """BD-09 -> WGS-84 (via GCJ-02, both steps exact inverses)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lng))


def _check_coord_sys(coord_sys: str) -> None:
    if coord_sys not in COORD_SYSTEMS:
        raise ValueError(f"unknown coordinate system {coord_sys!r}; expected one of {sorted(COORD_SYSTEMS)}")


def to_wgs84(lat: float, lng: float, coord_sys: str) -> LatLng:
    """Convert a position given in ``coord_sys`` ("wgs84", "gcj02" or "bd09") to WGS-84 for storage."""
    _check_coord_sys(coord_sys)
    if coord_sys == "gcj02":
        return gcj02_to_wgs84(lat, lng)
    if coord_sys == "bd09":
        return bd09_to_wgs84(lat, lng)
    return lat, lng


def from_wgs84(lat: float, lng: float, coord_sys: str) -> LatLng:
    """Convert a stored WGS-84 position to ``coord_sys`` (e.g. "gcj02" to show it on an Amap map)."""
    _check_coord_sys(coord_sys)
    if coord_sys == "gcj02":
        return wgs84_to_gcj02(lat, lng)
    if coord_sys == "bd09":
        return wgs84_to_bd09(lat, lng)
    return lat, lng


# --------------------------------------------------------------------------------------------------------
# Distances
# --------------------------------------------------------------------------------------------------------

EARTH_RADIUS_M = 6371008.8  # IUGG mean Earth radius


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres on a sphere of radius EARTH_RADIUS_M."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lng2 - lng1)
    h = math.sin(dphi / 2.0) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, h))))


# --------------------------------------------------------------------------------------------------------
# Grid cells for "nearby" queries on a plain B-tree index
#
# The globe is cut into CELL_DEG x CELL_DEG cells; cell_of() numbers them row-major, so the cells of one row
# that a circle touches form ONE contiguous integer range (two at the antimeridian). A "nearby" query is
# then ``cell IN (...)`` (or a few ``cell BETWEEN a AND b``, see cell_ranges_covering) followed by an exact
# haversine filter on the few candidate rows. The covering is conservative: every point whose
# haversine_m() distance to the centre is <= radius_m has its cell_of() in the covering.
# --------------------------------------------------------------------------------------------------------

CELL_DEG: float = 0.01
N_CELL_ROWS: int = round(180 / CELL_DEG)  # 18000
N_CELL_COLS: int = round(360 / CELL_DEG)  # 36000
CELL_ROW_STRIDE: int = 40000  # > N_CELL_COLS: cell = row * stride + col; max ~7.2e8, fits in int32

# Safety margins that make the covering strictly conservative against floating-point rounding.
_ANGLE_REL_MARGIN = 1e-9
_ANGLE_ABS_MARGIN_RAD = 1e-12  # ~6 micrometres
_BAND_MARGIN_DEG = 1e-9


def _check_lat_lng(lat: float, lng: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise ValueError(f"latitude/longitude must be finite, got ({lat!r}, {lng!r})")
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude out of range [-90, 90]: {lat!r}")


def _row(lat: float) -> int:
    return min(N_CELL_ROWS - 1, max(0, math.floor((lat + 90.0) / CELL_DEG)))


def _col(lng: float) -> int:
    return min(N_CELL_COLS - 1, max(0, math.floor(((lng + 180.0) % 360.0) / CELL_DEG)))


def cell_of(lat: float, lng: float) -> int:
    """The grid cell (a non-negative int < 2**31) containing a WGS-84 position; longitude wraps."""
    _check_lat_lng(lat, lng)
    return _row(lat) * CELL_ROW_STRIDE + _col(lng)


def _cap_angle(radius_m: float) -> float:
    """Angular radius (radians) of the search circle, padded so that rounding can only widen it."""
    if not (math.isfinite(radius_m) and radius_m >= 0.0):
        raise ValueError(f"radius_m must be a finite number >= 0, got {radius_m!r}")
    delta = radius_m / EARTH_RADIUS_M
    return delta * (1.0 + _ANGLE_REL_MARGIN) + _ANGLE_ABS_MARGIN_RAD


def _hav(x: float) -> float:
    return math.sin(x / 2.0) ** 2


def _half_width_at(phi: float, delta: float, phi2: float) -> float:
    """Longitude half-width (radians) of the cap (centre latitude phi, angular radius delta) at latitude phi2.

    From the haversine formula: hav(dlng) = (hav(delta) - hav(phi2 - phi)) / (cos(phi) * cos(phi2)).
    """
    num = _hav(delta) - _hav(phi2 - phi)
    if num <= 0.0:
        return 0.0
    den = math.cos(phi) * math.cos(phi2)
    if den <= 0.0:
        return math.pi
    h = num / den
    if h >= 1.0:
        return math.pi
    return 2.0 * math.asin(math.sqrt(h))


def _max_half_width(phi: float, delta: float, band_lo: float, band_hi: float) -> float:
    """Largest longitude half-width (radians) of the cap over latitudes [band_lo, band_hi] (radians).

    For a cap that does not contain a pole the half-width is unimodal in latitude with its maximum,
    asin(sin(delta) / cos(phi)), at latitude asin(sin(phi) / cos(delta)); so over a band it is either that
    maximum or the value at the band edge nearest to it.
    """
    s = math.sin(delta) / math.cos(phi)
    if s >= 1.0:
        return math.pi
    phi_t = math.asin(max(-1.0, min(1.0, math.sin(phi) / math.cos(delta))))
    if band_lo <= phi_t <= band_hi:
        width = math.asin(s)
    else:
        edge = band_lo if phi_t < band_lo else band_hi
        width = _half_width_at(phi, delta, edge)
    return width * (1.0 + _ANGLE_REL_MARGIN) + _ANGLE_ABS_MARGIN_RAD


def _cap_contains_pole(lat: float, delta_deg: float) -> bool:
    return lat + delta_deg >= 90.0 or lat - delta_deg <= -90.0


def bounding_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """Conservative (min_lat, max_lat, min_lng, max_lng) around the circle of radius_m metres.

    Latitudes are clamped to [-90, 90]. Longitudes are normalised to [-180, 180); when the box crosses the
    antimeridian min_lng > max_lng (the GeoJSON bbox convention). If the circle contains a pole, or is wide
    enough to wrap all the way round, the longitude range is the full (-180, 180).
    """
    _check_lat_lng(lat, lng)
    delta = _cap_angle(radius_m)
    delta_deg = math.degrees(delta)
    min_lat = max(-90.0, lat - delta_deg)
    max_lat = min(90.0, lat + delta_deg)
    if _cap_contains_pole(lat, delta_deg):
        return min_lat, max_lat, -180.0, 180.0
    phi = math.radians(lat)
    half = math.degrees(_max_half_width(phi, delta, -math.pi / 2.0, math.pi / 2.0))
    if half >= 180.0:
        return min_lat, max_lat, -180.0, 180.0
    return min_lat, max_lat, _wrap_lng(lng - half), _wrap_lng(lng + half)


def _wrap_lng(lng: float) -> float:
    return ((lng + 180.0) % 360.0) - 180.0


def cell_ranges_covering(lat: float, lng: float, radius_m: float) -> list[tuple[int, int]]:
    """Inclusive, sorted, non-overlapping cell-number ranges covering the circle (one or two per grid row).

    Each row gets only the columns the circle reaches within that row's latitude band, so the covering is
    tighter than the bounding box yet still conservative. Use as ``cell BETWEEN lo AND hi`` clauses.
    """
    _check_lat_lng(lat, lng)
    delta = _cap_angle(radius_m)
    delta_deg = math.degrees(delta)
    row_lo = _row(max(-90.0, lat - delta_deg))
    row_hi = _row(min(90.0, lat + delta_deg))
    full_rows = _cap_contains_pole(lat, delta_deg)
    phi = math.radians(lat)
    ranges: list[tuple[int, int]] = []
    for row in range(row_lo, row_hi + 1):
        base = row * CELL_ROW_STRIDE
        if full_rows:
            ranges.append((base, base + N_CELL_COLS - 1))
            continue
        band_lo = math.radians(row * CELL_DEG - 90.0 - _BAND_MARGIN_DEG)
        band_hi = math.radians((row + 1) * CELL_DEG - 90.0 + _BAND_MARGIN_DEG)
        half = math.degrees(_max_half_width(phi, delta, band_lo, band_hi))
        if 2.0 * half + CELL_DEG >= 360.0:
            ranges.append((base, base + N_CELL_COLS - 1))
            continue
        col_lo, col_hi = _col(lng - half), _col(lng + half)
        if col_lo <= col_hi:
            ranges.append((base + col_lo, base + col_hi))
        else:  # wraps across the antimeridian
            ranges.append((base, base + col_hi))
            ranges.append((base + col_lo, base + N_CELL_COLS - 1))
    return ranges


def cells_covering(lat: float, lng: float, radius_m: float, *, max_cells: int = 100_000) -> list[int]:
    """Every cell that a point within radius_m metres (haversine) of (lat, lng) can fall into, sorted.

    Raises ValueError rather than build a list longer than max_cells (huge radii, or circles around a pole);
    use cell_ranges_covering for those.
    """
    ranges = cell_ranges_covering(lat, lng, radius_m)
    total = sum(hi - lo + 1 for lo, hi in ranges)
    if total > max_cells:
        raise ValueError(f"covering needs {total} cells (> max_cells={max_cells}); use cell_ranges_covering")
    return [cell for lo, hi in ranges for cell in range(lo, hi + 1)]
