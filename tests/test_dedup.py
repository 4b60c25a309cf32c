"""The batch matcher and `leadsea dedup`: CSV handling end to end, linking, normalization, quality per set."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from leadsea.intake import testdata
from leadsea.intake.matching import (
    RawRecord,
    canonical_city,
    compare,
    dedup,
    link,
    parse_address,
    phone_keys,
    probability,
    read_records_csv,
    split_branch,
)

LEADSEA = Path(sys.executable).with_name("leadsea")


def run_dedup(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("dedup", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def raw(rec: testdata.LabelledRecord) -> RawRecord:
    def coord(text: str) -> float | None:
        return float(text) if text else None

    return RawRecord(
        id=rec.id,
        name=rec.name,
        address=rec.address,
        city=rec.city,
        phone=rec.phone,
        lat=coord(rec.lat),
        lng=coord(rec.lng),
        category=rec.category,
    )


# --- the command, end to end ------------------------------------------------------------------------------

# Reordered columns, an extra one, a BOM, a row with missing columns (line 7) and one with a bad lat (line 8).
SMALL_CSV = (
    "\ufeffname,id,city,phone,address,lat,lng,category,source\n"
    "海底捞火锅(国贸店),a1,北京,010-65051234,北京市朝阳区建国门外大街1号国贸商城B1层,39.9087,116.4605,火锅,crawl\n"
    "海底捞（国贸店）,a2,北京市,(010)6505-1234,建国门外大街1号国贸商城负一层,39.9091,116.4611,川菜,bd\n"
    "海底捞火锅(三里屯店),a3,北京,010-64171234,朝阳区三里屯路19号,39.9365,116.4547,火锅,crawl\n"
    '"Arnie Morton\'s of Chicago",b1,Los Angeles,310/246-1501,435 S. La Cienega Blvd.,,,American,fodors\n'
    '"Arnie Morton\'s Of Chicago",b2,LA,310-246-1501,435 S. La Cienega Boulevard,,,Steakhouses,zagat\n'
    "broken row,c1,北京,010-1\n"
    "星巴克(望京店),c2,北京,010-84761234,望京街10号,north,116.48,咖啡,crawl\n"
)


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    path = tmp_path / "input.csv"
    path.write_text(SMALL_CSV, encoding="utf-8")
    return path


def test_dedup_command_end_to_end(small_csv: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "clusters.csv"
    out, err = run_dedup(str(small_csv), "--out", str(out_path))
    assert "7 records" in out
    assert "line 7: expected 9 columns, got 4" in err
    assert "line 8: lat 'north' is not a number" in err
    rows = read_rows(out_path)
    assert list(rows[0]) == ["id", "cluster_id"]
    ids = [row["id"] for row in rows]
    assert sorted(ids) == ["a1", "a2", "a3", "b1", "b2", "c1", "c2"]  # every input row, once
    cluster = {row["id"]: row["cluster_id"] for row in rows}
    assert cluster["a1"] == cluster["a2"] != cluster["a3"]  # same branch merged, another branch kept apart
    assert cluster["b1"] == cluster["b2"]
    assert cluster["c1"] == "c1" and cluster["c2"] == "c2"  # singletons are their own cluster


def test_dedup_command_on_a_generated_set(tmp_path: Path) -> None:
    records = testdata.generate("missing", 1500, seed=2)
    path, out_path = tmp_path / "gen.csv", tmp_path / "clusters.csv"
    columns = ("category", "lng", "lat", "phone", "city", "address", "name", "id")
    testdata.write_csv(path, records, columns=columns, bom=True)
    run_dedup(str(path), "--out", str(out_path), "--workers", "1")
    rows = read_rows(out_path)
    assert sorted(row["id"] for row in rows) == sorted(r.id for r in records)
    scores = testdata.pairwise_scores(testdata.entity_map(records), {r["id"]: r["cluster_id"] for r in rows})
    assert scores.f1 >= 0.96, scores


def test_dedup_command_errors(tmp_path: Path, small_csv: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        run_dedup(str(tmp_path / "missing.csv"), "--out", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="either INPUT or --left"):
        run_dedup(str(small_csv), "--left", str(small_csv), "--right", str(small_csv), "--out", "x.csv")
    with pytest.raises(CommandError, match=r"Give INPUT\.csv"):
        run_dedup("--left", str(small_csv), "--out", str(tmp_path / "x.csv"))
    no_id = tmp_path / "no_id.csv"
    no_id.write_text("name,phone\nx,1\n", encoding="utf-8")
    with pytest.raises(CommandError, match="no 'id' column"):
        run_dedup(str(no_id), "--out", str(tmp_path / "x.csv"))


def test_reader_reports_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "id,name,lat,lng\n"
        "1,a,0,0\n"  # (0, 0) means unknown
        ",b,1,1\n"  # no id
        "1,c,1,1\n"  # duplicate id
        '2,"multi\nline",91,1\n'  # out of range, on line 5 (a quoted newline spans two lines)
        "\n"
        "3,d,39.9,116.4\n",
        encoding="utf-8",
    )
    records, problems = read_records_csv(path)
    assert [r.id for r in records] == ["1", "2", "3"]
    assert records[0].lat is None and records[1].lat is None and records[2].lat == 39.9
    assert [str(p) for p in problems] == [
        "line 3: no id; row skipped",
        "line 4: duplicate id '1'; row skipped",
        "line 5: lat '91' is out of range; position treated as missing",
    ]


def test_link_command(tmp_path: Path) -> None:
    left, right, out_path = tmp_path / "left.csv", tmp_path / "right.csv", tmp_path / "pairs.csv"
    left.write_text(
        "id,name,address,city,phone,lat,lng,category\n"
        "L1,Art's Delicatessen,12224 Ventura Blvd.,Studio City,818/762-1221,,,American\n"
        "L2,Hotel Bel-Air,701 Stone Canyon Rd.,Bel Air,310/472-1211,,,Californian\n"
        "L3,Ritz-Carlton Cafe (Buckhead),3434 Peachtree Rd.,Atlanta,404/237-2700,,,American\n",
        encoding="utf-8",
    )
    right.write_text(
        "category,id,name,address,city,phone\n"
        "Delis,R1,Art's Deli,12224 Ventura Blvd.,Studio City,818-762-1221\n"
        "Californian,R2,Bel-Air Hotel,701 Stone Canyon Rd.,Bel Air,310-472-1211\n"
        "American (New),R3,Ritz-Carlton Dining Room (Buckhead),3434 Peachtree Rd. NE,Atlanta,404-237-2700\n",
        encoding="utf-8",
    )
    out, _ = run_dedup("--left", str(left), "--right", str(right), "--out", str(out_path))
    assert "2 matching pairs" in out
    rows = read_rows(out_path)
    assert list(rows[0]) == ["left_id", "right_id", "score"]
    assert {(r["left_id"], r["right_id"]) for r in rows} == {("L1", "R1"), ("L2", "R2")}
    assert all(0.5 <= float(r["score"]) <= 1.0 for r in rows)


def test_installed_console_script(small_csv: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "clusters.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LEADSEA_TEST"))}
    env.update(LEADSEA_VAR_DIR=str(tmp_path / "var"), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    done = subprocess.run(
        [str(LEADSEA), "dedup", str(small_csv), "--out", str(out_path), "--workers", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "line 7:" in done.stderr
    assert len(read_rows(out_path)) == 7


# --- normalization and scoring ----------------------------------------------------------------------------


def test_normalization() -> None:
    assert canonical_city("北京") == canonical_city("北京市") == canonical_city("Beijing") == "beijing"
    assert canonical_city("成都") == canonical_city("Chengdu")
    assert canonical_city("New York") == canonical_city("NYC") == canonical_city("New York City")
    assert canonical_city("LA") == canonical_city("Los Angeles") and canonical_city("SF") == "sanfrancisco"
    assert canonical_city("W. Hollywood") == canonical_city("West Hollywood")
    assert phone_keys("310/246-1501", "US") == phone_keys("(310) 246-1501", "US") == ("3102461501",)
    assert phone_keys("+86 10 6588 1234", "CN") == phone_keys("010-65881234转808", "CN") == ("1065881234",)
    assert phone_keys("010-65881234/138 0013 8000", "CN") == ("1065881234", "13800138000")
    branch = split_branch("海底捞火锅（国贸店）")
    assert (branch.core, branch.branch) == ("海底捞火锅", "国贸店")
    assert split_branch("Johnny Rockets - Melrose").branch == "melrose"
    assert split_branch("Shake Shack #2").branch == "2"
    cn_a, cn_b = parse_address("北京市朝阳区建国路87号3F"), parse_address("建国路８７号3楼")
    assert (
        (cn_a.street, cn_a.number, cn_a.floor)
        == (cn_b.street, cn_b.number, cn_b.floor)
        == ("建国路", "87", "3f")
    )
    en_a, en_b = parse_address("435 S. La Cienega Blvd."), parse_address("435 South La Cienega Boulevard")
    assert en_a.key == en_b.key == "435 south la cienega boulevard"


def pair_score(a: dict[str, object], b: dict[str, object]) -> float:
    return compare(RawRecord(id="a", **a), RawRecord(id="b", **b))["score"]  # type: ignore[arg-type]


def test_scores_what_matters() -> None:
    store = {
        "name": "海底捞火锅(国贸店)",
        "city": "北京",
        "phone": "010-65051234",
        "lat": 39.9087,
        "lng": 116.4605,
    }
    # a homophone typo, another spelling of the branch, no phone, 80 m away: the same store
    typo = {"name": "海底劳国贸分店", "city": "北京市", "lat": 39.9094, "lng": 116.4607}
    assert pair_score(store, typo) > 0.5
    # another branch of the chain, 3 km away, another phone: never
    other = {
        "name": "海底捞火锅(三里屯店)",
        "city": "北京",
        "phone": "010-64171234",
        "lat": 39.9365,
        "lng": 116.4547,
    }
    assert pair_score(store, other) < 0.01
    # two shops of one mall share its switchboard, address and position: the names decide
    mall = {"address": "建国路87号新光天地", "phone": "010-65307777", "lat": 39.9101, "lng": 116.4731}
    assert pair_score({"name": "优衣库", **mall}, {"name": "星巴克", **mall}) < 0.05
    # outlets of one hotel
    hotel = {"address": "光华路1号", "phone": "010-65052299", "lat": 39.9144, "lng": 116.4583}
    assert (
        pair_score({"name": "香格里拉大酒店夏宫中餐厅", **hotel}, {"name": "香格里拉大酒店咖啡苑", **hotel})
        < 0.05
    )
    assert pair_score({"name": "香格里拉大酒店", **hotel}, {"name": "香格里拉大酒店西餐厅", **hotel}) < 0.05
    # missing fields: score with what both have
    assert pair_score({"name": "鼎泰豐", "city": "上海"}, {"name": "鼎泰丰", "city": "上海市"}) > 0.5
    assert 0.0 <= probability(-100.0) <= probability(0.0) == 0.5 <= probability(100.0) <= 1.0


# --- quality on generated labelled sets ----------------------------------------------------------------


def test_generator_is_deterministic_and_labelled() -> None:
    first, again = testdata.generate("chains", 400, seed=3), testdata.generate("chains", 400, seed=3)
    assert first == again and len({r.id for r in first}) == len(first)
    assert testdata.generate("chains", 400, seed=4) != first
    assert testdata.duplicates_per_entity(first)  # it does hold duplicates
    with pytest.raises(ValueError):
        testdata.generate("nope", 10)


@pytest.mark.parametrize("kind", testdata.SETS)
def test_quality_per_set(kind: str) -> None:
    records = testdata.generate(kind, 2500, seed=11)
    result = dedup([raw(r) for r in records], workers=1)
    scores = testdata.pairwise_scores(
        testdata.entity_map(records), dict(zip(result.ids, result.cluster_ids(), strict=True))
    )
    assert scores.true_pairs > 300
    assert scores.f1 >= 0.96, scores


def test_quality_of_linking() -> None:
    """Split a generated set into two files (one record of each duplicate pair on each side) and link them."""
    records = testdata.generate("restaurants_en", 2000, seed=5) + testdata.generate("chains", 1500, seed=5)
    rng = random.Random(5)
    left: list[testdata.LabelledRecord] = []
    right: list[testdata.LabelledRecord] = []
    for group in _by_entity(records).values():
        rng.shuffle(group)
        left.append(group[0])
        right.extend(group[1:])
    pairs = link([raw(r) for r in left], [raw(r) for r in right], workers=1)
    entity = testdata.entity_map(records)
    predicted = {(a, b) for a, b, _ in pairs}
    truth = {(a.id, b.id) for a in left for b in right if entity[a.id] == entity[b.id]}
    precision = len(predicted & truth) / len(predicted)
    recall = len(predicted & truth) / len(truth)
    assert len(truth) > 300
    assert 2 * precision * recall / (precision + recall) >= 0.96, (precision, recall)
    assert all(0.0 <= score <= 1.0 for _, _, score in pairs)


def _by_entity(records: list[testdata.LabelledRecord]) -> dict[str, list[testdata.LabelledRecord]]:
    groups: dict[str, list[testdata.LabelledRecord]] = {}
    for rec in records:
        groups.setdefault(rec.entity, []).append(rec)
    return groups
