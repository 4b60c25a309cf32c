"""Batch POI matching: normalization for matching, blocking, scoring, clustering and linking (no ORM)."""

from __future__ import annotations

import csv
import functools
import hashlib
import itertools
import math
import multiprocessing
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
from pypinyin import Style, lazy_pinyin
from rapidfuzz.distance import Indel

from leadsea.core import jsontext
from leadsea.core.geo import EARTH_RADIUS_M, haversine_m
from leadsea.leads.normalize import fold_text

__all__ = [
    "COLUMNS",
    "LINK_LOGODDS",
    "DedupResult",
    "Problem",
    "RawRecord",
    "Rec",
    "candidate_pairs",
    "canonical_city",
    "cluster",
    "compare",
    "dedup",
    "link",
    "name_similarity",
    "parse_address",
    "phone_keys",
    "prepare",
    "probability",
    "read_records_csv",
    "score_logodds",
    "score_pairs",
    "split_branch",
]

COLUMNS: tuple[str, ...] = ("id", "name", "address", "city", "phone", "lat", "lng", "category")
_COLUMN_ALIASES = {"latitude": "lat", "lon": "lng", "long": "lng", "longitude": "lng", "tel": "phone"}

# --------------------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One input row as read; `usable` is False for a malformed row that is kept only as a singleton."""

    id: str
    name: str = ""
    address: str = ""
    city: str = ""
    phone: str = ""
    lat: float | None = None
    lng: float | None = None
    category: str = ""
    usable: bool = True


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def _parse_coord(
    raw: str, name: str, low: float, high: float, line: int, problems: list[Problem]
) -> float | None:
    text = raw.strip()
    if not text:
        return None
    try:
        value = float(fold_text(text))
    except ValueError:
        problems.append(Problem(line, f"{name} {raw!r} is not a number; position treated as missing"))
        return None
    if not (math.isfinite(value) and low <= value <= high):
        problems.append(Problem(line, f"{name} {raw!r} is out of range; position treated as missing"))
        return None
    return value


def read_records_csv(path: str | Path) -> tuple[list[RawRecord], list[Problem]]:
    """Read an `id,name,address,city,phone,lat,lng,category` CSV (any column order, extra columns ignored,
    UTF-8 with or without BOM). Bad rows are reported with their line number and the rest goes on."""
    problems: list[Problem] = []
    records: list[RawRecord] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            return [], [Problem(1, "empty file: no header")]
        columns = [fold_text(h) for h in header]
        columns = [c if c in COLUMNS else _COLUMN_ALIASES.get(c, c) for c in columns]
        if "id" not in columns:
            raise ValueError(f"the header has no 'id' column (got {header!r})")
        index = {name: columns.index(name) for name in COLUMNS if name in columns}
        width = len(header)
        line = reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) > width and not any(cell.strip() for cell in row[width:]):
                row = row[:width]  # trailing empty cells, as spreadsheets export them
            usable = len(row) == width
            if not usable:
                problems.append(
                    Problem(start, f"expected {width} columns, got {len(row)}; kept unmatched as a singleton")
                )
            values = {name: (row[i].strip() if i < len(row) else "") for name, i in index.items()}
            rid = values.get("id", "")
            if not rid:
                problems.append(Problem(start, "no id; row skipped"))
                continue
            if rid in seen:
                problems.append(Problem(start, f"duplicate id {rid!r}; row skipped"))
                continue
            seen.add(rid)
            if not usable:
                records.append(RawRecord(id=rid, usable=False))
                continue
            lat = _parse_coord(values.get("lat", ""), "lat", -90.0, 90.0, start, problems)
            lng = _parse_coord(values.get("lng", ""), "lng", -180.0, 180.0, start, problems)
            if lat is None or lng is None or (lat == 0.0 and lng == 0.0):
                lat = lng = None  # (0, 0) is how many exports spell "unknown"
            records.append(
                RawRecord(
                    id=rid,
                    name=values.get("name", ""),
                    address=values.get("address", ""),
                    city=values.get("city", ""),
                    phone=values.get("phone", ""),
                    lat=lat,
                    lng=lng,
                    category=values.get("category", ""),
                )
            )
    return records, problems


# --------------------------------------------------------------------------------------------------------
# Normalization for matching
# --------------------------------------------------------------------------------------------------------

_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_NON_WORD = re.compile(r"[\W_]+")
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_POSSESSIVE = re.compile(r"(\w)['’`]s\b")
_APOSTROPHE = re.compile(r"['’`]")
_DIGITS = re.compile(r"\d+")
_NON_DIGIT = re.compile(r"\D")

# Trailing qualifiers that name a branch: "(国贸店)", "【三里屯】", " - Downtown", "#2".
_BRACKET_TAIL = re.compile(r"^(.*?)\s*[(\[【「〔{]([^()\[\]【】「」〔〕{}]*)[)\]】」〕}]?\s*$")
_DASH_TAIL = re.compile(r"^(.+)\s+[-–—|/]\s+(.+?)$")
_CJK_DASH_TAIL = re.compile(r"^(.+?)\s*[-–—|·・]\s*(.+店)$")
_NUMBER_TAIL = re.compile(r"^(.+?)\s*#\s*(\d+)$")
_STORE_SUFFIX = re.compile(r"(?:分店|旗舰店|总店|专卖店|店)$")


# Words that say what kind of place it is, not which one. Type words ("餐厅", "店") never tell two shops
# apart; dish words ("火锅", "烧烤") do when both names have a different one, but may be dropped from one.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ZH_TYPE_WORDS = _words(
    """餐厅 饭店 饭馆 酒家 酒楼 菜馆 小吃 美食 料理 餐饮 食府 食堂 大排档 酒店 大酒店 宾馆 有限公司 公司 连锁
    店 馆 厅 总店 分店 门店"""
)
_ZH_DISH_WORDS = _words(
    """火锅 火锅店 涮肉 烧烤 烤肉 咖啡 咖啡厅 咖啡馆 咖啡店 中餐厅 西餐厅 自助餐厅 自助餐 中餐 西餐 面馆
    茶餐厅 茶饮 奶茶 甜品 甜品店 面包 面包房 面包坊 烘焙 蛋糕 蛋糕店 快餐 烤鸭 拉面 牛肉面 麻辣烫 串串
    串串香 米线 饺子 饺子馆 包子 包子铺 披萨 比萨 汉堡 炸鸡 寿司 日本料理 韩国料理 烤鱼 酸菜鱼 小龙虾 海鲜
    粥铺 私房菜 家常菜"""
)
# A venue (hotel, mall, tower) followed by more text names one outlet inside it: '某大酒店夏宫中餐厅'.
_ZH_VENUE = re.compile(r"大酒店|酒店|宾馆|饭店|大厦|广场|商场|商城|购物中心|百货")


def _alternation(words: Iterable[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_ZH_GENERIC = _ZH_TYPE_WORDS | _ZH_DISH_WORDS
_ZH_GENERIC_TAIL = re.compile(f"(?:{_alternation(_ZH_GENERIC)})+$")
_ZH_TYPE_ANY = re.compile(_alternation(_ZH_TYPE_WORDS))
_ZH_TYPE_TAIL = re.compile(f"(?:{_alternation(_ZH_TYPE_WORDS)})+$")
_ZH_DISH_ANY = re.compile(_alternation(_ZH_DISH_WORDS - _ZH_TYPE_WORDS))

STOPWORDS_EN = _words("the a an and of at on in by de du des la le les il el los las y da di del della et")
GENERIC_EN = _words(
    """restaurant restaurants ristorante restaurante cuisine cuisines food foods eatery co company inc llc ltd
    best gourmet original famous authentic fine chinese french italian japanese thai indian mexican american
    korean vietnamese spanish greek continental californian cajun"""
)
_GENERIC_EN_WEIGHT = 0.3

_EN_ADDRESS_WORDS = {
    "st": "street",
    "str": "street",
    "ave": "avenue",
    "av": "avenue",
    "blvd": "boulevard",
    "blv": "boulevard",
    "bl": "boulevard",
    "rd": "road",
    "dr": "drive",
    "ln": "lane",
    "pl": "place",
    "ct": "court",
    "hwy": "highway",
    "pkwy": "parkway",
    "sq": "square",
    "ctr": "center",
    "centre": "center",
    "plz": "plaza",
    "ter": "terrace",
    "cir": "circle",
    "bldg": "building",
    "fwy": "freeway",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "ste": "suite",
    "fl": "floor",
    "flr": "floor",
    "apt": "unit",
    "first": "1",
    "second": "2",
    "third": "3",
    "fourth": "4",
    "fifth": "5",
    "sixth": "6",
    "seventh": "7",
    "eighth": "8",
    "ninth": "9",
    "tenth": "10",
    "eleventh": "11",
    "twelfth": "12",
}
_EN_UNIT_WORDS = frozenset({"suite", "unit", "floor", "room", "level"})
# Fodor's style directions ('2450 Broadway between 90th and 91st Sts.', '1 Water St. at the East River')
_EN_ADDRESS_FILLER = frozenset({"of", "the", "at", "and", "between", "near", "corner"})
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")

_CN_NUMERALS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
_CN_ADMIN = re.compile(
    r"^(?:中国)?(?:[\u4e00-\u9fff]{2,7}?(?:省|自治区))?(?:[\u4e00-\u9fff]{2,7}?市(?!场))?"
    r"(?:[\u4e00-\u9fff]{1,6}?(?:区|县))?"
)
_CN_BUILDING = re.compile(r"(\d+)(?:号楼|栋|座|幢)")
_CN_BASEMENT = re.compile(r"(?:b|负|地下)([1-5一二三四五])(?:层|楼|f)?")
_CN_FLOOR = re.compile(r"(?:l(\d{1,2})(?!\d)|(\d{1,2}|[一二三四五六七八九十]{1,3})(?:f|层|楼)(?![\d层]))")
_CN_ROAD = re.compile(
    r"([\u4e00-\u9fff0-9]{1,10}?(?:大道|大街|路|街|道|巷|胡同|弄))(?:[东西南北中]段)?[甲乙丙丁]?(\d+)(?:-\d+)?号?"
)

_CITY_ALIASES = {
    "la": "losangeles",
    "losangelesca": "losangeles",
    "ny": "newyork",
    "nyc": "newyork",
    "newyorkcity": "newyork",
    "newyorkny": "newyork",
    "sf": "sanfrancisco",
    "sanfran": "sanfrancisco",
    "dc": "washington",
    "washingtondc": "washington",
    "lv": "lasvegas",
    "vegas": "lasvegas",
    "bj": "beijing",
    "peking": "beijing",
    "sh": "shanghai",
    "canton": "guangzhou",
    "hk": "xianggang",
    "hongkong": "xianggang",
}
_CITY_PREFIXES = {
    "w": "west",
    "e": "east",
    "n": "north",
    "s": "south",
    "st": "saint",
    "ft": "fort",
    "mt": "mount",
}
_CN_CITY_SUFFIX = re.compile(r"(?:特别行政区|自治州|地区|市|县|区)$")

# Weak evidence only: two records in the same group are a little more likely the same store.
_CATEGORY_GROUPS: dict[str, tuple[str, ...]] = {
    "coffee": (
        "咖啡",
        "咖啡厅",
        "咖啡馆",
        "cafe",
        "cafes",
        "coffee",
        "coffeehouse",
        "coffee shop",
        "coffeehouses",
    ),
    "hotpot": ("火锅", "涮肉", "hot pot", "hotpot", "串串", "串串香", "麻辣烫"),
    "fastfood": (
        "快餐",
        "西式快餐",
        "fast food",
        "汉堡",
        "burgers",
        "hamburgers",
        "炸鸡",
        "fried chicken",
        "简餐",
    ),
    "tea": ("奶茶", "茶饮", "饮品", "bubble tea", "tea", "tea house", "茶馆", "饮品店"),
    "bakery": ("面包", "烘焙", "甜品", "甜点", "蛋糕", "bakery", "bakeries", "desserts", "dessert", "pastry"),
    "chinese": (
        "中餐",
        "川菜",
        "湘菜",
        "粤菜",
        "鲁菜",
        "家常菜",
        "北京菜",
        "江浙菜",
        "东北菜",
        "西北菜",
        "chinese",
        "asian",
        "szechuan",
        "sichuan",
        "cantonese",
        "dim sum",
        "中式",
        "烤鸭",
        "面馆",
        "面食",
        "小吃",
        "小吃快餐",
        "美食",
        "餐饮",
    ),
    "japanese": ("日料", "日本料理", "日本菜", "寿司", "拉面", "japanese", "sushi", "ramen"),
    "korean": ("韩餐", "韩国料理", "korean", "烤肉", "korean bbq"),
    "italian": (
        "意大利菜",
        "披萨",
        "比萨",
        "italian",
        "pizza",
        "northern italian",
        "southern italian",
        "pizzeria",
    ),
    "french": ("法餐", "法国菜", "french", "french bistro", "bistro", "continental", "french (new)"),
    "american": (
        "american",
        "american (new)",
        "american (traditional)",
        "new american",
        "steakhouse",
        "steakhouses",
        "steak",
        "steaks",
        "californian",
        "southern",
        "southern/soul",
        "bbq",
        "barbecue",
        "牛排",
        "西餐",
        "diner",
        "diners",
    ),
    "deli": ("deli", "delis", "delicatessen", "sandwiches", "sandwich"),
    "seafood": ("seafood", "海鲜", "fish", "oyster bar", "酸菜鱼", "烤鱼"),
    "bbq": ("烧烤", "烤串", "bbq grill", "grill"),
    "hotel": ("hotel", "hotels", "酒店", "宾馆", "住宿", "旅馆", "民宿", "inn"),
}
_CATEGORY_CANON = {fold_text(word): group for group, words in _CATEGORY_GROUPS.items() for word in words}

_PINYIN_CACHE: dict[str, str] = {}
_ACCENTED = re.compile(r"[\u00c0-\u024f\u1e00-\u1eff]")


def _char_pinyin(ch: str) -> str:
    syllable = _PINYIN_CACHE.get(ch)
    if syllable is None:
        syllable = lazy_pinyin(ch, style=Style.NORMAL)[0]
        _PINYIN_CACHE[ch] = syllable
    return syllable


def to_pinyin(text: str) -> str:
    """Toneless pinyin of the Chinese characters (one syllable each, default reading); other chars kept."""
    return "".join(_char_pinyin(ch) if _CJK_CHAR.match(ch) else ch for ch in text)


def fold(value: str) -> str:
    """fold_text plus accent stripping for Latin text ('Café' -> 'cafe'), so spellings compare equal."""
    text = fold_text(value)
    if text.isascii() or not _ACCENTED.search(text):
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


@functools.lru_cache(maxsize=65536)
def canonical_city(raw: str) -> str:
    """One key per city however written: '北京' = '北京市' = 'Beijing', 'LA' = 'Los Angeles',
    'NYC' = 'New York', 'W. Hollywood' = 'West Hollywood'."""
    text = fold(raw)
    if not text:
        return ""
    if _CJK_CHAR.search(text):
        text = _NON_WORD.sub("", text)
        text = _CN_CITY_SUFFIX.sub("", text) or text
        # whole-word reading: '成都' is 'chengdu', while the character 都 alone reads 'dou'
        return "".join(lazy_pinyin(text, style=Style.NORMAL))
    text = text.split(",")[0] if "," in text and not text.replace(",", "").isalpha() else text
    words = _LATIN_WORD.findall(text)
    if len(words) > 1 and words[0] in _CITY_PREFIXES:
        words[0] = _CITY_PREFIXES[words[0]]
    key = "".join(words)
    return _CITY_ALIASES.get(key, key)


def canonical_category(raw: str) -> str:
    text = fold(raw)
    if not text:
        return ""
    group = _CATEGORY_CANON.get(text)
    if group:
        return group
    for part in re.split(r"[/,;|、]", text):
        group = _CATEGORY_CANON.get(part.strip())
        if group:
            return group
    return text


_PHONE_CACHE: dict[tuple[str, str], str] = {}
_PHONE_SPLIT = re.compile(r"[;,，；、|]|\s+(?:or|或)\s+|\s{2,}")
_PHONE_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?|x)\s*\d{1,5}\s*$")


_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
_CN_TRUNK = re.compile(r"0[1-9]\d{8,10}")


def _phone_key(part: str, region: str) -> str:
    digits = _NON_DIGIT.sub("", part)
    international = part.lstrip().startswith("+") or digits.startswith("00")
    # The common shapes need no parsing; phonenumbers (slow) handles the rest, other countries included.
    if not international:
        if region == "CN" and (_CN_MOBILE.fullmatch(digits) or 7 <= len(digits) <= 8):
            return digits
        if region == "CN" and _CN_TRUNK.fullmatch(digits):
            return digits[1:]
        if region == "US" and len(digits) == 10 and digits[0] in "23456789":
            return digits
    canonical = ("+" if international else "") + digits.removeprefix("00")
    cached = _PHONE_CACHE.get((canonical, region))
    if cached is not None:
        return cached
    key = ""
    if len(digits) >= 5:
        try:
            parsed = phonenumbers.parse(canonical, region)
            if phonenumbers.is_possible_number(parsed):
                key = str(parsed.national_number)
        except phonenumbers.NumberParseException:
            pass
        if not key:
            key = digits.lstrip("0")
            if key.startswith("86") and len(key) >= 12:
                key = key[2:]
    _PHONE_CACHE[(canonical, region)] = key
    return key


def phone_keys(raw: str, region: str) -> tuple[str, ...]:
    """National significant numbers of every phone in the field ('010-6588 1234; 138...' -> two keys).

    A '/' separates two numbers only when both sides look like whole numbers: in '310/246-1501' it is the
    area code separator of the Fodor's style.
    """
    text = fold_text(raw)
    if not text:
        return ()
    parts: list[str] = []
    for chunk in _PHONE_SPLIT.split(text):
        chunk = _PHONE_EXTENSION.sub("", chunk)  # '010-65881234转808' is the switchboard
        pieces = chunk.split("/")
        if len(pieces) > 1 and all(len(_NON_DIGIT.sub("", p)) >= 7 for p in pieces):
            parts.extend(pieces)
        else:
            parts.append(chunk)
    keys = {_phone_key(p.strip(), region) for p in parts if p.strip()}
    keys.discard("")
    return tuple(sorted(keys))


def _phones_equal(a: str, b: str) -> bool:
    if a == b:
        return True
    # A Chinese landline is often written without its area code: '65881234' is '1065881234'.
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return len(short) >= 7 and long.endswith(short)


def _is_hotline(key: str) -> bool:
    # 400/800 numbers are national hotlines shared by every branch of a chain.
    return len(key) == 10 and key[:3] in ("400", "800")


def _cn_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _CN_NUMERALS.get(text[1:], 0)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _CN_NUMERALS.get(tens, 0) * 10 + (_CN_NUMERALS.get(ones, 0) if ones else 0)
    return _CN_NUMERALS.get(text, 0)


@dataclass(slots=True)
class Address:
    key: str = ""
    number: str = ""
    street: str = ""
    floor: str = ""


def parse_address(raw: str, city_forms: Iterable[str] = ()) -> Address:
    """Normalize an address to a comparable key plus house number, street and floor when found."""
    text = fold(raw)
    if not text:
        return Address()
    if _CJK_CHAR.search(text):
        return _parse_cn_address(text, city_forms)
    return _parse_en_address(text)


def _parse_cn_address(text: str, city_forms: Iterable[str]) -> Address:
    text = _NON_WORD.sub("", text.replace("-", "―")).replace("―", "-")
    for form in city_forms:
        if form and text.startswith(form):
            text = text[len(form) :]
            break
    stripped = _CN_ADMIN.sub("", text, count=1)
    text = stripped or text
    floor = ""
    text = _CN_BUILDING.sub(lambda m: f"{m.group(1)}栋", text)
    basement = _CN_BASEMENT.search(text)
    if basement:
        floor = f"b{_cn_number(basement.group(1))}"
        text = text[: basement.start()] + floor + text[basement.end() :]
    else:
        level = _CN_FLOOR.search(text)
        if level:
            floor = f"{_cn_number(level.group(1) or level.group(2))}f"
            text = text[: level.start()] + floor + text[level.end() :]
    road = _CN_ROAD.search(text)
    number = street = ""
    if road:
        street, number = road.group(1), road.group(2)
    return Address(key=text, number=number, street=street, floor=floor)


def _parse_en_address(text: str) -> Address:
    words = _LATIN_WORD.findall(_APOSTROPHE.sub("", text.replace("#", " suite ")))
    out: list[str] = []
    floor = ""
    skip = False
    ordinal_before = False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        word = _EN_ADDRESS_WORDS.get(word, word)
        ordinal = _ORDINAL.match(word)
        if ordinal:
            word = ordinal.group(1)
        if word in _EN_ADDRESS_FILLER:
            continue
        if word in _EN_UNIT_WORDS:
            if ordinal_before:  # '107th Fl.'
                floor = out.pop()
            elif i + 1 < len(words):  # 'Suite 200'
                floor = _EN_ADDRESS_WORDS.get(words[i + 1], words[i + 1])
                skip = True
            continue
        ordinal_before = bool(ordinal)
        out.append(word)
    number = ""
    if out and out[0][:1].isdigit():
        number = _DIGITS.match(out[0]).group(0)  # type: ignore[union-attr]
        street = " ".join(out[1:])
    else:
        street = " ".join(out)
    return Address(key=" ".join(out), number=number, street=street.replace(" ", ""), floor=floor)


@dataclass(slots=True)
class _NameParts:
    core: str
    branch: str


def split_branch(name: str) -> _NameParts:
    """'海底捞火锅（国贸店）' -> core '海底捞火锅', branch '国贸'; 'Johnny Rockets - Melrose' -> 'melrose'."""
    text = fold(name)
    branches: list[str] = []
    for _ in range(3):
        m = _BRACKET_TAIL.match(text)
        if m and m.group(1).strip():
            text, branch = m.group(1).strip(), m.group(2).strip()
            if branch and not branch.startswith(("原", "旧", "formerly")):  # '(原三里屯店)': a former name
                branches.append(branch)
            continue
        break
    m = _NUMBER_TAIL.match(text)
    if m and not text.isdigit():
        text = m.group(1).strip()
        branches.append(m.group(2))
    elif _CJK_CHAR.search(text):
        m = _CJK_DASH_TAIL.match(text)
        if m:
            text = m.group(1).strip()
            branches.append(m.group(2))
    else:
        m = _DASH_TAIL.match(text)
        if m:
            text = m.group(1).strip()
            branches.append(m.group(2))
    return _NameParts(core=text, branch=" ".join(reversed(branches)))


_VENUE_STORE_WORDS = ("酒店", "饭店", "商店", "书店", "药店")


def _branch_key(branch: str, city: str) -> str:
    key = _NON_WORD.sub("", branch)
    if not key.endswith(_VENUE_STORE_WORDS):
        key = _STORE_SUFFIX.sub("", key)
    if not key or key == city or canonical_city(key) == city:
        return ""  # "(北京)", "(Los Angeles)": the city, not a branch
    return key


def _latin_words(text: str) -> list[str]:
    text = _POSSESSIVE.sub(r"\1", text.replace("&", " and "))
    text = _APOSTROPHE.sub("", text)
    return [w for w in _LATIN_WORD.findall(text) if w not in STOPWORDS_EN]


# --------------------------------------------------------------------------------------------------------
# Prepared records
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Rec:
    """A record ready for matching: everything the scorer needs, computed once."""

    idx: int
    id: str
    usable: bool
    name: str  # folded full name, for display
    core: str  # brand core name, branch removed, words separated by spaces
    core_key: str  # core without spaces or punctuation
    bare_key: str  # core_key without generic words ('海底捞火锅' -> '海底捞')
    py_key: str  # pinyin of core_key ('' when it has no Chinese)
    bare_py: str
    branch: str
    explicit_branch: bool  # the name itself marked a branch: '(国贸店)', ' - Downtown', '#2'
    cjk: bool
    words: tuple[str, ...]  # Latin words of the core (stopwords removed)
    weights: tuple[float, ...] = ()  # idf weight of each word
    name_freq: int = 1  # records in the input sharing this bare name
    city: str = ""
    phones: tuple[str, ...] = ()
    weak_phones: frozenset[str] = frozenset()
    lat: float | None = None
    lng: float | None = None
    addr: Address = field(default_factory=Address)
    category: str = ""
    venue: str = ""  # '香格里拉大酒店' in '香格里拉大酒店夏宫中餐厅'
    outlet: str = ""  # '夏宫中餐厅'


def _venue_split(core_key: str) -> tuple[str, str]:
    """(venue, outlet) of a Chinese name built as venue + outlet; ('', '') when it names no venue."""
    last = None
    for m in _ZH_VENUE.finditer(core_key):
        last = m
    if last is None:
        return "", ""
    outlet = core_key[last.end() :]
    if outlet.endswith("店"):
        outlet = ""  # '全季酒店国贸店' is a branch of the hotel, not an outlet inside it
    return core_key[: last.end()], outlet


def _core_features(core: str) -> tuple[str, str, str, str, tuple[str, ...]]:
    core_key = _NON_WORD.sub("", _APOSTROPHE.sub("", core))
    words = tuple(_latin_words(core)) if not _CJK_CHAR.search(core) else tuple(_LATIN_WORD.findall(core))
    if _CJK_CHAR.search(core_key):
        bare_key = _ZH_GENERIC_TAIL.sub("", core_key)
        if len(bare_key) < 2:  # '绿茶餐厅' is '绿茶', not '绿'
            bare_key = _ZH_TYPE_TAIL.sub("", core_key)
        if len(bare_key) < 2:
            bare_key = core_key
        py_key = to_pinyin(core_key)
        bare_py = to_pinyin(bare_key)
    else:
        bare = [w for w in words if w not in GENERIC_EN]
        bare_key = "".join(bare) or core_key
        py_key = bare_py = ""
    return core_key, bare_key, py_key, bare_py, words


_Features = tuple[
    bool, str, str, str, str, str, str, str, bool, bool, tuple[str, ...], str, tuple[str, ...], Address, str
]


def _features(name: str, address: str, city_raw: str, phone: str, category: str, usable: bool) -> _Features:
    """The per-record part of prepare (everything before the input-wide steps): a pure function of the
    record's fields, so its result may be reused for the same fields (the Address is never mutated)."""
    parts = split_branch(name)
    city = canonical_city(city_raw)
    region = "CN" if _CJK_CHAR.search(name + address + city_raw) else "US"
    core_key, bare_key, py_key, bare_py, words = _core_features(parts.core)
    folded_city = fold(city_raw)
    city_forms = (folded_city, _CN_CITY_SUFFIX.sub("", folded_city)) if folded_city else ()
    return (
        usable and bool(core_key),
        fold(name),
        parts.core,
        core_key,
        bare_key,
        py_key,
        bare_py,
        _branch_key(parts.branch, city),
        bool(parts.branch),
        bool(py_key),
        words,
        city,
        phone_keys(phone, region),
        parse_address(address, city_forms),
        canonical_category(category),
    )


# prepare(cache=True): the intake pipeline prepares the same leads (candidates of many records) and each
# batch's records twice; the per-record features are kept for the most recent records.
_cached_features = functools.lru_cache(maxsize=50_000)(_features)


def features_of(raw: RawRecord, *, cache: bool = False) -> _Features:
    """The per-record features of one record (what prepare computes before its input-wide steps)."""
    return (_cached_features if cache else _features)(
        raw.name, raw.address, raw.city, raw.phone, raw.category, raw.usable
    )


def _features_version() -> int:
    """A fingerprint of the code that computes features: this module, the text folding it builds on and the
    versions of the libraries it calls. Stored features of another version are computed afresh."""
    from importlib.metadata import version

    from leadsea.leads import normalize

    digest = hashlib.blake2b(digest_size=8)
    for path in (__file__, normalize.__file__):
        digest.update(Path(path).read_bytes())
    for dist in ("pypinyin", "phonenumbers"):
        digest.update(version(dist).encode())
    return int.from_bytes(digest.digest(), "big", signed=True)


FEATURES_VERSION = _features_version()


def features_dump(f: _Features) -> str:
    """The features as compact JSON (a list; the address as its four parts), for storing next to a lead."""
    addr = f[13]
    return jsontext.dumps([*f[:13], [addr.key, addr.number, addr.street, addr.floor], f[14]])


def features_load(text: str) -> _Features:
    v = jsontext.loads(text)
    return (
        v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
        tuple(v[10]), v[11], tuple(v[12]), Address(*v[13]), v[14],
    )  # fmt: skip


def prepare(
    raws: Sequence[RawRecord],
    *,
    cache: bool = False,
    features: Sequence[_Features | None] | None = None,
    statistics: bool = True,
) -> list[Rec]:
    """Normalize every record and compute the input-wide statistics (word idf, name and phone frequency).
    `cache`: reuse the per-record features of records seen recently (same fields, same result).
    `features`: the features of some records, computed earlier (stored with a lead); None where not given.
    `statistics=False`: leave the statistics out, for records that are only keyed (`pipeline.lead_keys`,
    `pipeline.query_keys` read none of them), not scored."""
    recs: list[Rec] = []
    compute = _cached_features if cache else _features
    for idx, raw in enumerate(raws):
        given = features[idx] if features is not None else None
        (
            usable,
            name,
            core,
            core_key,
            bare_key,
            py_key,
            bare_py,
            branch,
            explicit_branch,
            cjk,
            words,
            city,
            phones,
            addr,
            category,
        ) = given or compute(raw.name, raw.address, raw.city, raw.phone, raw.category, raw.usable)
        recs.append(
            Rec(
                idx=idx,
                id=raw.id,
                usable=usable,
                name=name,
                core=core,
                core_key=core_key,
                bare_key=bare_key,
                py_key=py_key,
                bare_py=bare_py,
                branch=branch,
                explicit_branch=explicit_branch,
                cjk=cjk,
                words=words,
                city=city,
                phones=phones,
                lat=raw.lat,
                lng=raw.lng,
                addr=addr,
                category=category,
            )
        )
    _split_inline_branches(recs)
    # '(Los Angeles)', '(北京)': a city named as the branch locates the record but names no branch
    cities = {rec.city for rec in recs if rec.city}
    for rec in recs:
        if rec.branch and (rec.branch in cities or canonical_city(rec.branch) in cities):
            rec.branch = ""
    for rec in recs:
        if rec.cjk:
            rec.venue, rec.outlet = _venue_split(rec.core_key)
            if not rec.venue and rec.branch and _ZH_VENUE.search(rec.branch[-4:]):
                rec.venue, rec.outlet = rec.branch, rec.core_key  # '日本料理(皇冠假日大酒店)'
    if statistics:
        _compute_statistics(recs)
    return recs


def _one_off(head: str, known: set[str]) -> bool:
    return len(head) >= 3 and any(f"{head[:k]}*{head[k + 1 :]}" in known for k in range(len(head)))


def _split_inline_branches(recs: list[Rec]) -> None:
    """'海底捞国贸店' -> core '海底捞' + branch '国贸' when the input also names '海底捞' with a marked branch
    ('海底捞(三里屯店)'): without a brand list, only a brand seen with a branch elsewhere is trusted."""
    todo = [rec for rec in recs if rec.cjk and not rec.explicit_branch and rec.core_key.endswith("店")]
    if not todo:
        return
    marked = [rec for rec in recs if rec.cjk and rec.explicit_branch]
    known: set[str] = set()
    for rec in marked:
        known.update((rec.core_key, rec.bare_key, rec.py_key, rec.bare_py))
    starred: set[str] | None = None  # one wrong character ('周太福' for '周大福') still finds the brand

    def one_off(head: str) -> bool:
        nonlocal starred
        if len(head) < 3:
            return False
        if starred is None:  # built on first need: most batches never ask
            starred = set(known)
            for rec in marked:
                for key in (rec.core_key, rec.bare_key):
                    if len(key) >= 3:
                        starred.update(f"{key[:k]}*{key[k + 1 :]}" for k in range(len(key)))
        return _one_off(head, starred)

    for rec in todo:
        stem = _STORE_SUFFIX.sub("", rec.core_key)
        syllables = [to_pinyin(ch) for ch in stem]  # to_pinyin is per character: a head's is a prefix join
        for cut in range(len(stem) - 2, 1, -1):
            head, tail = stem[:cut], stem[cut:]
            if (
                (head in known or "".join(syllables[:cut]) in known or one_off(head))
                and not _ZH_GENERIC_TAIL.fullmatch(rec.core_key[cut:])
                and len(tail) <= 12
            ):
                rec.core = head
                rec.core_key, rec.bare_key, rec.py_key, rec.bare_py, rec.words = _core_features(head)
                rec.branch = _branch_key(tail, rec.city)
                break


def _compute_statistics(recs: list[Rec]) -> None:
    df: Counter[str] = Counter()
    names: Counter[str] = Counter()
    names_on_phone: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for rec in recs:
        if not rec.usable:
            continue
        if rec.words:
            df.update(set(rec.words))
        names[rec.bare_key] += 1
        for phone in rec.phones:
            names_on_phone[phone].add((rec.bare_py or rec.bare_key, rec.branch))
    total = max(1, len(recs))
    # each word's weight once (a word of an unusable record only: idf 1.0)
    weight = {
        word: _GENERIC_EN_WEIGHT if word in GENERIC_EN else max(0.5, math.log(1.0 + total / count))
        for word, count in df.items()
    }
    no_phones: frozenset[str] = frozenset()
    for rec in recs:
        if rec.words:
            for w in rec.words:
                if w not in weight:
                    weight[w] = _GENERIC_EN_WEIGHT if w in GENERIC_EN else 1.0
            rec.weights = tuple(map(weight.__getitem__, rec.words))
        else:
            rec.weights = ()
        rec.name_freq = names[rec.bare_key]
        # A number that 3+ differently named stores give is a switchboard (mall, hotel) or a chain's hotline:
        # weak evidence. Counting names, not records, keeps a store listed five times strong.
        rec.weak_phones = (
            frozenset(p for p in rec.phones if len(names_on_phone.get(p, ())) >= 3 or _is_hotline(p))
            if rec.phones
            else no_phones
        )


# --------------------------------------------------------------------------------------------------------
# Scoring: a hand-set log-likelihood ratio per field (Fellegi-Sunter without training). A missing field adds
# nothing, so a pair is scored with what both records have.
# --------------------------------------------------------------------------------------------------------

PRIOR_LOGODDS = -3.0
LINK_LOGODDS = 0.0  # p >= 0.5: a pair may join two clusters
VETO_LOGODDS = -5.0  # any pair this unlikely keeps two clusters apart
NAME_FLOOR = 0.45
NAME_MISMATCH_LOGODDS = -12.0  # names that differ, or each with a distinct part: outweighs every other field

_NAME_CURVE = ((0.45, -7.0), (0.55, -4.0), (0.65, -2.0), (0.75, -0.3), (0.85, 1.5), (0.92, 2.6), (1.0, 3.5))
_DIST_CURVE = (
    (30.0, 2.8),
    (100.0, 2.4),
    (200.0, 1.8),
    (350.0, 0.6),
    (600.0, -1.0),
    (1000.0, -2.5),
    (2000.0, -4.5),
    (5000.0, -6.5),
    (20000.0, -9.0),
)
_ADDR_CURVE = ((0.4, -1.5), (0.6, -0.5), (0.8, 1.0), (0.95, 2.2))


def _interp(x: float, curve: Sequence[tuple[float, float]]) -> float:
    if x <= curve[0][0]:
        return curve[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(curve):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return curve[-1][1]


def _sim(a: str, b: str) -> float:
    return Indel.normalized_similarity(a, b)


def _word_match(t: str, u: str) -> float:
    if t == u:
        return 1.0
    if len(t) >= 4 and len(u) >= 4:
        if t.startswith(u) or u.startswith(t):  # 'deli' / 'delicatessen'
            return 0.9
        if _sim(t, u) >= 0.8:  # typo
            return 0.85
    return 0.0


def _word_cover(a: Rec, b: Rec) -> tuple[float, float, bool, bool]:
    """Weighted share of each side's words found in the other, and whether each has a distinctive leftover."""
    used = [0.0] * len(b.words)
    got_a = 0.0
    rest_a = False
    for t, w in zip(a.words, a.weights, strict=False):
        best, best_j = 0.0, -1
        for j, u in enumerate(b.words):
            m = _word_match(t, u)
            if m > best:
                best, best_j = m, j
        if best_j >= 0:
            got_a += w * best
            used[best_j] = max(used[best_j], best)
        elif t not in GENERIC_EN:
            rest_a = True
    got_b = sum(w * m for w, m in zip(b.weights, used, strict=False))
    rest_b = any(m == 0.0 and u not in GENERIC_EN for u, m in zip(b.words, used, strict=False))
    total_a, total_b = sum(a.weights) or 1.0, sum(b.weights) or 1.0
    return got_a / total_a, got_b / total_b, rest_a, rest_b


def _outlet_conflict(a: Rec, b: Rec) -> bool | None:
    """For two names inside one venue: do they name different outlets (or the venue and an outlet)?"""
    if not (a.venue and b.venue) or _sim(a.venue, b.venue) < 0.8:
        return None
    if not a.outlet and not b.outlet:
        return False
    if not a.outlet or not b.outlet:
        return True
    oa, ob = _ZH_TYPE_ANY.sub("", a.outlet), _ZH_TYPE_ANY.sub("", b.outlet)
    return not (oa == ob or oa in ob or ob in oa or to_pinyin(oa) == to_pinyin(ob))


def _cjk_conflict(a: Rec, b: Rec) -> bool:
    """Both names keep a distinctive part the other lacks ('老张牛肉面', '老张烧烤'), not a homophone typo."""
    outlet = _outlet_conflict(a, b)
    if outlet is not None:
        return outlet
    rest_a: list[str] = []
    rest_b: list[str] = []
    # aligned by syllable, so that a homophone typo ('捞'/'劳') is no difference at all
    for op in Indel.opcodes([_char_pinyin(ch) for ch in a.core_key], [_char_pinyin(ch) for ch in b.core_key]):
        if op.tag == "delete":
            rest_a.append(a.core_key[op.src_start : op.src_end])
        elif op.tag == "insert":
            rest_b.append(b.core_key[op.dest_start : op.dest_end])
    ra = _ZH_TYPE_ANY.sub("", "".join(rest_a))
    rb = _ZH_TYPE_ANY.sub("", "".join(rest_b))
    dish_a, dish_b = set(_ZH_DISH_ANY.findall(ra)), set(_ZH_DISH_ANY.findall(rb))
    if dish_a and dish_b and not dish_a & dish_b:
        return True  # '老张牛肉面' vs '老张烧烤': two kinds of food, two shops
    # a dish word on one side only was merely dropped by the other source
    ra, rb = _ZH_DISH_ANY.sub("", ra), _ZH_DISH_ANY.sub("", rb)
    if not ra or not rb or to_pinyin(ra) == to_pinyin(rb):
        return False
    # one character against one is as often a typo by eye ('大'/'太') as another shop
    return len(ra) + len(rb) >= 3


def _contained(a: Rec, b: Rec) -> bool:
    """The shorter bare name (generic words removed) is inside the other name: '海底捞' in '海底捞火锅'."""
    short, long = (a, b) if len(a.bare_key) <= len(b.bare_key) else (b, a)
    if len(short.bare_key) < (2 if short.cjk else 4):
        return False
    return short.bare_key in long.core_key or bool(short.bare_py and short.bare_py in long.py_key)


def name_similarity(a: Rec, b: Rec) -> tuple[float, bool]:
    """Similarity of the brand cores in 0..1, and whether the names conflict (each has a distinct part)."""
    if a.core_key == b.core_key:
        return 1.0, False
    s = _sim(a.core_key, b.core_key)
    if a.cjk and b.cjk:
        s = max(s, 0.98 * _sim(a.py_key, b.py_key))
    if s < 0.9 and _contained(a, b):
        s = 0.9
    conflict = False
    if a.words and b.words and not (a.cjk and b.cjk):
        cover_a, cover_b, rest_a, rest_b = _word_cover(a, b)
        s = max(s, 0.6 * max(cover_a, cover_b) + 0.4 * min(cover_a, cover_b))
        conflict = rest_a and rest_b and s < 0.9
    elif a.cjk and b.cjk and s < 0.97:
        conflict = _cjk_conflict(a, b)
    return s, conflict


def _address_logodds(a: Address, b: Address) -> float:
    if not a.key or not b.key:
        return 0.0
    if a.number and b.number and a.street and b.street:
        street = _sim(a.street, b.street)
        if street >= 0.7 or a.street in b.street or b.street in a.street:
            if a.number != b.number:
                return -2.5  # same street, another door
            if a.floor and b.floor and a.floor != b.floor:
                return 0.5  # same building, another floor
            return 3.0
    s = _sim(a.key, b.key)
    short, long = (a.key, b.key) if len(a.key) <= len(b.key) else (b.key, a.key)
    if len(short) >= 6 and short in long:
        s = max(s, 0.85)
    return _interp(s, _ADDR_CURVE)


def _branch_logodds(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    if a == b:
        return 1.5
    if (len(a) >= 2 and a in b) or (len(b) >= 2 and b in a) or _sim(a, b) >= 0.8:
        return 0.5
    return -5.0  # two branches of one chain are two stores


def _phone_logodds(a: Rec, b: Rec) -> tuple[float, bool]:
    """Log-odds and whether both have phones that all differ."""
    if not a.phones or not b.phones:
        return 0.0, False
    strong = False
    weak = False
    for p in a.phones:
        for q in b.phones:
            if _phones_equal(p, q):
                if p in a.weak_phones or q in b.weak_phones:
                    weak = True
                else:
                    strong = True
    if strong:
        return 3.5, False
    if weak:
        return 1.0, False
    return -2.0, True


def _name_frequency_penalty(freq: int) -> float:
    # A chain's brand name on 20 records says little about which store a record is.
    return min(2.5, max(0.0, 0.8 * math.log2(freq / 2.0))) if freq > 2 else 0.0


def _distance_m(a: Rec, b: Rec) -> float:
    """Equirectangular distance: within a few km it agrees with haversine to well under a metre."""
    dlat = a.lat - b.lat  # type: ignore[operator]
    if abs(dlat) > 0.5:
        return haversine_m(a.lat, a.lng, b.lat, b.lng)  # type: ignore[arg-type]
    dlng = (a.lng - b.lng) * math.cos(math.radians(a.lat + dlat / 2.0))  # type: ignore[operator]
    return EARTH_RADIUS_M * math.radians(math.hypot(dlat, dlng))


def _name_similarity_bound(a: Rec, b: Rec) -> float:
    """An upper bound of name_similarity's first value, without the costly word and conflict analysis."""
    if a.core_key == b.core_key or (a.words and b.words and not (a.cjk and b.cjk)):
        return 1.0
    s = _sim(a.core_key, b.core_key)
    if a.cjk and b.cjk:
        s = max(s, 0.98 * _sim(a.py_key, b.py_key))
    if s < 0.9 and _contained(a, b):
        s = 0.9
    return s


def score_logodds(a: Rec, b: Rec, parts: dict[str, float] | None = None) -> float:
    """Log-odds that two records are the same store. `parts`, when given, receives each field's share."""
    value = _score(a, b, -math.inf, parts)
    assert value is not None
    return value


def _score(a: Rec, b: Rec, floor: float, parts: dict[str, float] | None) -> float | None:
    """The score, or None as soon as it is sure to stay below floor (cheap fields first, the name last)."""
    w_phone, phone_conflict = _phone_logodds(a, b)
    w_dist = d = 0.0
    both_geo = a.lat is not None and b.lat is not None
    if both_geo:
        d = _distance_m(a, b)
        w_dist = _interp(d, _DIST_CURVE)
        if phone_conflict and d > 1000.0 and floor > VETO_LOGODDS:
            return None  # different phones and far apart: never the same store
    w_branch = _branch_logodds(a.branch, b.branch)
    w_city = 0.0
    if a.city and b.city:
        if a.city == b.city:
            w_city = 0.3
        elif both_geo:
            w_city = -0.5  # the positions say more
        else:
            # an American guide may give the neighbourhood ('Studio City') where another says 'Los Angeles'
            w_city = -2.0 if a.cjk and b.cjk else -1.0
    w_cat = 0.0
    if a.category and b.category:
        w_cat = 0.3 if a.category == b.category else -0.3
    partial = PRIOR_LOGODDS + w_phone + w_dist + w_branch + w_city + w_cat
    addr_best = 3.0 if a.addr.key and b.addr.key else 0.0
    if partial + addr_best + _NAME_CURVE[-1][1] < floor:
        return None
    if partial + addr_best + _interp(_name_similarity_bound(a, b), _NAME_CURVE) < floor:
        return None
    sim, conflict = name_similarity(a, b)
    if sim < NAME_FLOOR or conflict:
        # Shops of one mall, outlets of one hotel share phone, address and position: the name decides.
        w_name = NAME_MISMATCH_LOGODDS
    else:
        w_name = _interp(sim, _NAME_CURVE)
        if w_name > 0.0 and w_branch <= 0.0:
            # a chain's brand says little about which store; brand plus the same branch does
            w_name = max(0.3, w_name - _name_frequency_penalty(max(a.name_freq, b.name_freq)))
    w_addr = _address_logodds(a.addr, b.addr)
    total = partial + w_name + w_addr
    if phone_conflict and d > 1000.0:
        total = min(total, VETO_LOGODDS - 3.0)
    if parts is not None:
        parts.update(
            prior=PRIOR_LOGODDS,
            name=w_name,
            branch=w_branch,
            phone=w_phone,
            distance=w_dist,
            address=w_addr,
            city=w_city,
            category=w_cat,
            total=total,
        )
    return total if total >= floor else None


def probability(logodds: float) -> float:
    if logodds < -30.0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-logodds))


def compare(a: RawRecord, b: RawRecord) -> dict[str, float]:
    """Explain the score of one pair field by field (log-odds shares plus the final probability)."""
    ra, rb = prepare([a, b])
    parts: dict[str, float] = {}
    parts["score"] = probability(score_logodds(ra, rb, parts))
    return parts


# --------------------------------------------------------------------------------------------------------
# Blocking: candidate pairs from several cheap keys, each block capped so that no key explodes into O(n²).
# --------------------------------------------------------------------------------------------------------

# Position is only ever paired with a name word: records whose names share nothing cannot score as one store
# (the name must agree), so a block on position alone would only feed the scorer pairs it must reject.
NEAR_CELL_DEG = 0.01  # name word + ~1 km cell: records within ~500 m share a key
SORT_WINDOW = 3
# Largest block of each key kind that is paired out; a bigger one is too common a key to say anything.
BLOCK_CAPS: dict[str, int] = {
    "g": 30,  # name word within ~1 km
    "c": 15,  # name word within the city
    "w": 8,  # rare name word anywhere (a record without city or position)
    "y": 20,  # pinyin of the name within the city (homophone typos, traditional characters)
    "z": 8,  # rare pinyin anywhere
    "p": 30,  # phone
    "a": 30,  # street + house number
    "b": 20,  # street + house number + name word (a big mall)
    "n": 8,  # brand + branch (the same mall name recurs in every city)
}


def _quad_cells(lat: float, lng: float, size: float) -> list[str]:
    """The 2x2 cells nearest to the point: two points closer than size/2 on each axis share one."""
    x, y = lng / size, lat / size
    cx, cy = math.floor(x), math.floor(y)
    nx = cx + (1 if x - cx >= 0.5 else -1)
    ny = cy + (1 if y - cy >= 0.5 else -1)
    return [f"{cx},{cy}", f"{nx},{cy}", f"{cx},{ny}", f"{nx},{ny}"]


def _name_tokens(rec: Rec) -> set[str]:
    """Latin words, and pinyin syllable bigrams of Chinese runs: a homophone typo keeps its tokens."""
    tokens: set[str] = {w for w in rec.words if w not in GENERIC_EN and len(w) >= 2}
    for run in _CJK_RUN.findall(rec.bare_key):
        syllables = [_char_pinyin(ch) for ch in run]
        if len(syllables) == 1:
            tokens.add(syllables[0])
        tokens.update(f"{syllables[i]} {syllables[i + 1]}" for i in range(len(syllables) - 1))
    if rec.cjk and len(rec.core_key) >= 2 and _CJK_RUN.fullmatch(rec.core_key[:2]):
        tokens.add(f"{_char_pinyin(rec.core_key[0])} {_char_pinyin(rec.core_key[1])}")
    if not tokens and rec.bare_key:
        tokens.add(rec.bare_key)
    return tokens


def _address_key(addr: Address) -> str:
    if not (addr.number and addr.street):
        return ""
    # '北京朝阳建国路' and '建国路' are one street: the tail of a Chinese street name is always written
    street = addr.street[-3:] if _CJK_CHAR.search(addr.street) else addr.street
    return f"{street}#{addr.number}"


def _blocking_keys(rec: Rec) -> list[str]:
    keys: list[str] = []
    tokens = _name_tokens(rec)
    near = _quad_cells(rec.lat, rec.lng, NEAR_CELL_DEG) if rec.lat is not None and rec.lng is not None else []
    address = _address_key(rec.addr)
    for tok in tokens:
        keys.extend(f"g{cell}|{tok}" for cell in near)
        keys.append(f"c{rec.city}|{tok}")
        keys.append(f"w{tok}")
        if address:
            keys.append(f"b{address}|{tok}")
    if rec.bare_py:
        keys.append(f"y{rec.city}|{rec.bare_py}")
        keys.append(f"z{rec.bare_py}")
    if rec.branch:
        keys.append(f"n{rec.bare_py or rec.bare_key}|{rec.branch}")
    keys.extend(f"p{phone[-7:]}" for phone in rec.phones)
    if address:
        keys.append(f"a{address}")
    return keys


def candidate_pairs(recs: Sequence[Rec]) -> set[int]:
    """Pairs (encoded i * n + j, i < j) worth scoring."""
    n = len(recs)
    blocks: dict[str, list[int]] = defaultdict(list)
    for rec in recs:
        if rec.usable:
            for key in set(_blocking_keys(rec)):
                blocks[key].append(rec.idx)
    pairs: set[int] = set()
    for key, members in blocks.items():
        if 2 <= len(members) <= BLOCK_CAPS[key[0]]:
            pairs.update(x * n + y for x, y in itertools.combinations(members, 2))
    # Sorted neighbourhood: a typo anywhere but the first (or last) letters keeps records adjacent.
    usable = [r for r in recs if r.usable]
    for sort_key in (_core_sort_key, _reverse_sort_key):
        ordered = sorted(usable, key=sort_key)
        for pos, rec in enumerate(ordered):
            for other in ordered[pos + 1 : pos + SORT_WINDOW]:
                i, j = (rec.idx, other.idx) if rec.idx < other.idx else (other.idx, rec.idx)
                pairs.add(i * n + j)
    return pairs


def _core_sort_key(rec: Rec) -> tuple[str, str, str]:
    return (rec.py_key or rec.core_key, rec.city, rec.addr.key)


def _reverse_sort_key(rec: Rec) -> tuple[str, str, str]:
    return ((rec.py_key or rec.core_key)[::-1], rec.city, rec.addr.key)


# --------------------------------------------------------------------------------------------------------
# Scoring many pairs (two processes when it pays)
# --------------------------------------------------------------------------------------------------------

_WORKER_RECS: list[Rec] = []
_PARALLEL_MIN_PAIRS = 150_000


def _score_chunk(chunk: list[int]) -> list[tuple[int, float]]:
    recs = _WORKER_RECS
    n = len(recs)
    out: list[tuple[int, float]] = []
    for key in chunk:
        value = _score(recs[key // n], recs[key % n], LINK_LOGODDS, None)
        if value is not None:
            out.append((key, value))
    return out


def score_pairs(recs: list[Rec], pairs: Iterable[int], *, workers: int | None = None) -> dict[int, float]:
    """Log-odds of every candidate pair that reaches LINK_LOGODDS (the others are left out)."""
    global _WORKER_RECS
    keys = list(pairs)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4)
    _WORKER_RECS = recs
    try:
        if (
            workers < 2
            or len(keys) < _PARALLEL_MIN_PAIRS
            or "fork" not in multiprocessing.get_all_start_methods()
        ):
            return dict(_score_chunk(keys))
        size = max(10_000, len(keys) // (workers * 8))
        chunks = [keys[k : k + size] for k in range(0, len(keys), size)]
        scored: dict[int, float] = {}
        # fork shares the prepared records with the workers without pickling them
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            for part in pool.map(_score_chunk, chunks):
                scored.update(part)
        return scored
    finally:
        _WORKER_RECS = []


# --------------------------------------------------------------------------------------------------------
# Clustering: best pairs first; two clusters merge only if they stay coherent (average linkage over all
# cross pairs, and no cross pair is a veto). This avoids the chaining of plain connected components.
# --------------------------------------------------------------------------------------------------------

MAX_CLUSTER = 60
COHERENCE_MIN = 0.5  # mean probability over cross pairs
_COHERENCE_SAMPLE = 12


def cluster(recs: list[Rec], scored: dict[int, float]) -> list[int]:
    """Cluster label (index of the first record of its cluster) for every record."""
    n = len(recs)
    parent = list(range(n))
    members: dict[int, list[int]] = {i: [i] for i in range(n)}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def pair_logodds(i: int, j: int) -> float:
        key = i * n + j if i < j else j * n + i
        value = scored.get(key)
        if value is None:
            value = score_logodds(recs[i], recs[j])
            scored[key] = value
        return value

    edges = sorted(((v, k) for k, v in scored.items() if v >= LINK_LOGODDS), reverse=True)
    for _value, key in edges:
        ra, rb = find(key // n), find(key % n)
        if ra == rb:
            continue
        group_a, group_b = members[ra], members[rb]
        if len(group_a) + len(group_b) > MAX_CLUSTER:
            continue
        if not _coherent(group_a[:_COHERENCE_SAMPLE], group_b[:_COHERENCE_SAMPLE], pair_logodds):
            continue
        if len(group_a) < len(group_b):
            ra, rb, group_a, group_b = rb, ra, group_b, group_a
        parent[rb] = ra
        group_a.extend(group_b)
        del members[rb]
    labels = [0] * n
    for group in members.values():
        first = min(group)
        for i in group:
            labels[i] = first
    return labels


def _coherent(group_a: list[int], group_b: list[int], pair_logodds: Callable[[int, int], float]) -> bool:
    if len(group_a) == 1 and len(group_b) == 1:
        return True
    total = 0.0
    for i in group_a:
        for j in group_b:
            value = pair_logodds(i, j)
            if value <= VETO_LOGODDS:
                return False
            total += probability(value)
    return total / (len(group_a) * len(group_b)) >= COHERENCE_MIN


# --------------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DedupResult:
    ids: list[str]
    labels: list[int]  # index of the cluster's first record, per record
    candidate_pairs: int
    linked_pairs: int

    def cluster_ids(self) -> list[str]:
        return [self.ids[label] for label in self.labels]


def dedup(raws: Sequence[RawRecord], *, workers: int | None = None) -> DedupResult:
    """Cluster the records that are the same store; no labels, no training."""
    recs = prepare(raws)
    pairs = candidate_pairs(recs)
    scored = score_pairs(recs, pairs, workers=workers)
    labels = cluster(recs, scored)
    linked = sum(1 for v in scored.values() if v >= LINK_LOGODDS)
    return DedupResult(
        ids=[r.id for r in recs], labels=labels, candidate_pairs=len(pairs), linked_pairs=linked
    )


def link(
    left: Sequence[RawRecord], right: Sequence[RawRecord], *, workers: int | None = None
) -> list[tuple[str, str, float]]:
    """(left id, right id, score) for every cross pair that ends in one cluster of the union of both files."""
    recs = prepare([*left, *right])
    n_left = len(left)
    pairs = candidate_pairs(recs)
    scored = score_pairs(recs, pairs, workers=workers)
    labels = cluster(recs, scored)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[label].append(i)
    n = len(recs)
    out: list[tuple[str, str, float]] = []
    for group in groups.values():
        lefts = [i for i in group if i < n_left]
        rights = [j for j in group if j >= n_left]
        for i in lefts:
            for j in rights:
                value = scored.get(i * n + j)
                if value is None:
                    value = score_logodds(recs[i], recs[j])
                out.append((recs[i].id, recs[j].id, round(probability(value), 4)))
    out.sort()
    return out
