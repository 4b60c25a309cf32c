"""Deterministic generators of labelled POI sets for judging the matcher (precision, recall, F1 per set)."""

from __future__ import annotations

import csv
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = [
    "SETS",
    "LabelledRecord",
    "Scores",
    "generate",
    "generate_mixed",
    "pairwise_scores",
    "write_csv",
]

SETS: tuple[str, ...] = ("chains", "variants", "shared_phone", "restaurants_en", "missing")


def _names(text: str, sep: str = " ") -> tuple[str, ...]:
    """A tuple from a separated string: long word lists stay readable."""
    return tuple(text.split(sep))


@dataclass(frozen=True, slots=True)
class LabelledRecord:
    """A CSV row plus `entity`: the true store it describes (records of one entity are duplicates)."""

    id: str
    entity: str
    name: str
    address: str = ""
    city: str = ""
    phone: str = ""
    lat: str = ""
    lng: str = ""
    category: str = ""

    def values(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "address": self.address,
            "city": self.city,
            "phone": self.phone,
            "lat": self.lat,
            "lng": self.lng,
            "category": self.category,
        }


def write_csv(
    path: str | Path,
    records: Iterable[LabelledRecord],
    *,
    columns: Sequence[str] = _names("id name address city phone lat lng category"),
    bom: bool = False,
) -> None:
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for rec in records:
            values = rec.values()
            writer.writerow([values.get(c, "") for c in columns])


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int


def pairwise_scores(entity_of: Mapping[str, str], cluster_of: Mapping[str, str]) -> Scores:
    """Pairwise precision/recall/F1 of a clustering against the true entities, over the same ids."""
    by_cluster: Counter[str] = Counter()
    by_entity: Counter[str] = Counter()
    by_both: Counter[tuple[str, str]] = Counter()
    for rid, entity in entity_of.items():
        cid = cluster_of[rid]
        by_cluster[cid] += 1
        by_entity[entity] += 1
        by_both[(cid, entity)] += 1

    def pairs(counts: Iterable[int]) -> int:
        return sum(k * (k - 1) // 2 for k in counts)

    true, predicted, correct = pairs(by_entity.values()), pairs(by_cluster.values()), pairs(by_both.values())
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, true, predicted, correct)


# --------------------------------------------------------------------------------------------------------
# The Chinese world: cities, roads, brands, malls, hotels
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CnCity:
    name: str
    latin: str
    lat: float
    lng: float
    area: str
    districts: tuple[str, ...]
    landmarks: tuple[str, ...]


CN_CITIES: tuple[CnCity, ...] = (
    CnCity(
        "北京",
        "Beijing",
        39.9042,
        116.4074,
        "010",
        ("朝阳区", "海淀区", "东城区", "西城区", "丰台区", "通州区"),
        _names(
            "国贸 三里屯 望京 中关村 五道口 西单 王府井 朝阳大悦城 蓝色港湾 合生汇 世贸天阶 双井 亚运村 "
            "回龙观 通州万达 丽泽 金融街 崇文门 苏州街 大望路"
        ),
    ),
    CnCity(
        "上海",
        "Shanghai",
        31.2304,
        121.4737,
        "021",
        ("黄浦区", "徐汇区", "静安区", "浦东新区", "长宁区", "闵行区"),
        _names(
            "人民广场 徐家汇 静安寺 陆家嘴 五角场 中山公园 南京东路 淮海中路 世纪大道 七宝 虹桥天地 "
            "新天地 莘庄 张江"
        ),
    ),
    CnCity(
        "广州",
        "Guangzhou",
        23.1291,
        113.2644,
        "020",
        ("天河区", "越秀区", "海珠区", "荔湾区", "番禺区", "白云区"),
        _names("天河城 珠江新城 北京路 上下九 体育西 番禺万达 江南西 环市东 客村 公园前"),
    ),
    CnCity(
        "深圳",
        "Shenzhen",
        22.5431,
        114.0579,
        "0755",
        ("福田区", "南山区", "罗湖区", "宝安区", "龙岗区", "龙华区"),
        _names("华强北 海岸城 万象城 东门 科技园 福田口岸 宝安中心 欢乐海岸 车公庙 蛇口"),
    ),
    CnCity(
        "杭州",
        "Hangzhou",
        30.2741,
        120.1551,
        "0571",
        ("西湖区", "上城区", "拱墅区", "滨江区", "萧山区", "余杭区"),
        _names("湖滨 西溪 武林 滨江 城西银泰 来福士 龙湖天街 下沙 黄龙 钱江新城"),
    ),
    CnCity(
        "成都",
        "Chengdu",
        30.5728,
        104.0668,
        "028",
        ("锦江区", "青羊区", "武侯区", "成华区", "金牛区", "高新区"),
        _names("春熙路 太古里 天府广场 环球中心 宽窄巷子 金融城 建设路 双楠 玉林 九眼桥"),
    ),
)

ROAD_STEMS = _names(
    "建国 人民 解放 中山 和平 光华 朝阳 长安 南京 淮海 天府 科技 文化 新华 青年 花园 学院 体育 滨江 东风 "
    "红旗 胜利 幸福 团结 建设 复兴 北京 延安 黄河 长江 富强 友谊 工农 振兴 迎宾 金融 望京 丽泽 西湖 环城"
)
ROAD_KINDS = _names("路 街 大道 大街 中路 北路 南路 东路 西路")

NAME_PREFIXES = _names(
    "老张 老王 老李 老刘 老陈 老杨 老赵 老黄 老周 老吴 阿婆 阿强 阿芳 小李 小王 小杨 大鹏 大刘 福满 金鼎 "
    "聚福 鑫源 隆盛 和记 顺德 潮汕 东北 西北 新疆 云南 桂林 重庆 武汉 长沙 宁波 川味 湘里 粤港 蓉城 江南 "
    "北国 好运 大碗 一品 鸿运 万福 百味 千喜 嘉禾 富贵 吉祥 如意 安康 春风 秋月 山城 渝味 巴蜀 徽州 苏杭 "
    "闽南 客家 黄河 泰山 华山 南山 北海 东方 西域 天山 草原 兰亭 竹林 梅园 荷塘 枫林 松鹤 鹿鸣 凤凰 麒麟 "
    "龙门 金牛 玉兔 白鹭 红枫 青竹 紫荆 银杏 胖哥 瘦子 三姐 二嫂 四季 八方 九州 半岛 食光 湘聚 蜀香 粤味"
)
NAME_MIDDLES = (
    "",
    "",
    "",
    "记",
    "家",
    "楼",
    "坊",
    "居",
    "轩",
    "阁",
    "园",
    "小馆",
    "食堂",
    "大院",
    "人家",
    "私厨",
)
# (dish word, category labels as sources write them)
NAME_DISHES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("牛肉面", ("面馆", "小吃快餐", "美食")),
    ("烧烤", ("烧烤", "烤串", "美食")),
    ("火锅", ("火锅", "川菜", "美食")),
    ("饺子馆", ("饺子", "东北菜", "美食")),
    ("家常菜", ("家常菜", "中餐", "美食")),
    ("麻辣烫", ("麻辣烫", "小吃快餐", "美食")),
    ("私房菜", ("私房菜", "中餐", "美食")),
    ("茶餐厅", ("茶餐厅", "粤菜", "美食")),
    ("咖啡", ("咖啡", "咖啡厅", "饮品")),
    ("面包坊", ("面包", "烘焙", "甜点")),
    ("烤鸭", ("烤鸭", "北京菜", "中餐")),
    ("串串香", ("串串", "火锅", "美食")),
    ("米线", ("米线", "小吃快餐", "云南菜")),
    ("酸菜鱼", ("酸菜鱼", "川菜", "美食")),
    ("小龙虾", ("小龙虾", "海鲜", "美食")),
    ("甜品", ("甜品", "甜点", "饮品")),
    ("奶茶", ("奶茶", "茶饮", "饮品")),
    ("包子铺", ("包子", "小吃快餐", "早餐")),
    ("酒家", ("粤菜", "中餐", "美食")),
    ("烤肉", ("烤肉", "韩餐", "美食")),
    ("寿司", ("寿司", "日本料理", "日料")),
    ("拉面", ("拉面", "日本料理", "面馆")),
    ("披萨", ("披萨", "西餐", "意大利菜")),
    ("汉堡", ("汉堡", "西式快餐", "快餐")),
    ("炸鸡", ("炸鸡", "西式快餐", "快餐")),
    ("海鲜", ("海鲜", "粤菜", "美食")),
    ("涮肉", ("涮肉", "火锅", "北京菜")),
    ("羊蝎子", ("羊蝎子", "火锅", "美食")),
    ("粥铺", ("粥", "粤菜", "早餐")),
    ("煎饼", ("煎饼", "小吃快餐", "早餐")),
)

# (brand, category labels); a chain has many branches, each a different store.
CN_CHAINS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("海底捞火锅", ("火锅", "川菜")),
    ("星巴克", ("咖啡", "咖啡厅")),
    ("瑞幸咖啡", ("咖啡", "饮品")),
    ("肯德基", ("快餐", "西式快餐")),
    ("麦当劳", ("快餐", "西式快餐")),
    ("喜茶", ("奶茶", "茶饮")),
    ("奈雪的茶", ("奶茶", "茶饮")),
    ("西贝莜面村", ("西北菜", "中餐")),
    ("外婆家", ("江浙菜", "中餐")),
    ("呷哺呷哺", ("火锅", "小火锅")),
    ("真功夫", ("快餐", "中式快餐")),
    ("永和大王", ("快餐", "早餐")),
    ("庆丰包子铺", ("包子", "小吃快餐")),
    ("全聚德", ("烤鸭", "北京菜")),
    ("眉州东坡", ("川菜", "中餐")),
    ("太二酸菜鱼", ("酸菜鱼", "川菜")),
    ("老乡鸡", ("快餐", "中式快餐")),
    ("蜜雪冰城", ("奶茶", "饮品")),
    ("华莱士", ("汉堡", "快餐")),
    ("必胜客", ("披萨", "西餐")),
    ("汉堡王", ("汉堡", "快餐")),
    ("德克士", ("炸鸡", "快餐")),
    ("杨国福麻辣烫", ("麻辣烫", "小吃快餐")),
    ("张亮麻辣烫", ("麻辣烫", "小吃快餐")),
    ("绝味鸭脖", ("卤味", "小吃")),
    ("周黑鸭", ("卤味", "小吃")),
    ("巴奴毛肚火锅", ("火锅", "川菜")),
    ("小龙坎火锅", ("火锅", "川菜")),
    ("木屋烧烤", ("烧烤", "烤串")),
    ("和府捞面", ("面馆", "中式快餐")),
    ("味千拉面", ("拉面", "日本料理")),
    ("吉野家", ("快餐", "日本料理")),
    ("一点点", ("奶茶", "茶饮")),
    ("CoCo都可", ("奶茶", "茶饮")),
    ("茶百道", ("奶茶", "茶饮")),
    ("古茗", ("奶茶", "茶饮")),
    ("书亦烧仙草", ("奶茶", "甜品")),
    ("乐凯撒比萨", ("披萨", "西餐")),
    ("85度C", ("面包", "烘焙")),
    ("好利来", ("蛋糕", "烘焙")),
    ("味多美", ("面包", "烘焙")),
    ("如家酒店", ("酒店", "住宿")),
    ("汉庭酒店", ("酒店", "住宿")),
    ("全季酒店", ("酒店", "住宿")),
    ("亚朵酒店", ("酒店", "住宿")),
    ("南京大牌档", ("江浙菜", "中餐")),
    ("云海肴", ("云南菜", "中餐")),
    ("费大厨辣椒炒肉", ("湘菜", "中餐")),
)

MALLS = _names(
    "国贸商城 新光天地 大悦城 合生汇 太古里 来福士广场 万达广场 龙湖天街 万象城 银泰中心 凯德MALL 印象城 "
    "环球港 正佳广场 恒隆广场 IFS国际金融中心 K11购物艺术中心 SKP"
)
MALL_SHOPS = _names(
    "优衣库|ZARA|H&M|无印良品|屈臣氏|丝芙兰|名创优品|小米之家|华为体验店|Apple Store|耐克|阿迪达斯|李宁|"
    "安踏|周大福|老凤祥|西西弗书店|言几又|万达影城|星聚会KTV|汤姆熊|乐高|泡泡玛特|太平鸟|波司登|海澜之家|"
    "GAP|Lululemon|三福|热风|全家|罗森|奥乐齐|盒马鲜生|鹿角巷|探鱼|绿茶餐厅|外婆家|西贝莜面村|鼎泰丰|"
    "新元素|鱼你在一起|大龙燚火锅|胡大饭馆|局气|很久以前羊肉串|望湘园|小南国|避风塘|点都德",
    sep="|",
)
HOTEL_BRANDS = _names(
    "香格里拉 万豪 希尔顿 喜来登 洲际 皇冠假日 凯悦 威斯汀 丽思卡尔顿 半岛 建国 友谊宾馆 京伦 国际饭店 "
    "锦江 金陵 白天鹅 东方"
)
# Outlets of one hotel share its switchboard phone, address and position: different shops.
HOTEL_OUTLETS = _names(
    "夏宫中餐厅 咖啡苑 大堂吧 日本料理 自助餐厅 西餐厅 宴会厅 酒吧 水疗中心 香宫 怡亭 蓝韵 紫金阁 百味园 "
    "扒房 行政酒廊"
)


def _char_pairs(text: str, *, both_ways: bool = True) -> dict[str, str]:
    """'捞劳 记纪' -> {'捞': '劳', '劳': '捞', '记': '纪', '纪': '记'}."""
    pairs = text.split()
    table = {p[0]: p[1] for p in pairs}
    if both_ways:
        table.update({p[1]: p[0] for p in pairs})
    return table


# characters an input method offers for the same pinyin (the most common typo in Chinese)
HOMOPHONES = _char_pairs(
    "捞劳 记纪 家佳 香湘 福富 鑫新 源元 轩宣 阁格 楼娄 味未 麻马 辣腊 馆管 烤考 鸭压 鱼余 茶查 张章 李里 "
    "老佬 小晓 大达 金今 鼎顶 聚巨 隆龙 盛胜 顺舜 和合 兴星 德得 春椿 华花 底地 锅郭 饺角 包宝 粥周 汉翰 "
    "堡宝 鸡基 羊杨 虾瞎 鲜仙 牛纽 肉柔 坊方 居局 园圆 品聘 王汪 刘流 陈晨 黄皇 周舟 吴无 杨阳 赵照 强墙 鹏朋"
)
# characters that look alike (a typo by eye, not by sound), and traditional forms
LOOKALIKES = _char_pairs("大太 王玉 未末 己已 日曰 人入 土士 天夭 牛午 千干 鸟乌 今令")
TRADITIONAL = _char_pairs(
    "面麵 鸡雞 鱼魚 龙龍 馆館 汤湯 烧燒 记記 东東 华華 门門 乐樂 丰豐 鲜鮮 园園 点點 汉漢 阁閣 楼樓 锅鍋",
    both_ways=False,
)

_FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
_CN_FLOOR_WORDS = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六"}


def _fullwidth(text: str) -> str:
    return text.translate(_FULLWIDTH)


@dataclass
class CnStore:
    entity: str
    core: str  # brand / shop name without branch
    branch: str  # e.g. '国贸' ('' when the store is not a branch of a chain)
    city: CnCity
    district: str
    road: str
    number: int
    building: str  # mall or tower name ('' if none)
    floor: int  # 0 none, <0 basement
    lat: float
    lng: float
    phones: list[str]  # canonical digits, each like '010-65881234' or '13800138000'
    categories: tuple[str, ...]
    venue: str = ""  # a hotel name an outlet belongs to


def _offset(lat: float, lng: float, metres: float, rng: random.Random) -> tuple[float, float]:
    angle = rng.uniform(0.0, 2.0 * math.pi)
    dlat = metres * math.cos(angle) / 111_195.0
    dlng = metres * math.sin(angle) / (111_195.0 * math.cos(math.radians(lat)))
    return lat + dlat, lng + dlng


def _cn_position(city: CnCity, rng: random.Random) -> tuple[float, float]:
    return _offset(city.lat, city.lng, abs(rng.gauss(0.0, 7000.0)), rng)


def _cn_landline(city: CnCity, rng: random.Random) -> str:
    first = rng.choice("2345678")
    return f"{city.area}-{first}{rng.randrange(10**6, 10**7)}"


def _cn_mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(10**8, 10**9)}"


def _cn_phone(city: CnCity, rng: random.Random) -> str:
    return _cn_landline(city, rng) if rng.random() < 0.6 else _cn_mobile(rng)


def _cn_road(rng: random.Random) -> str:
    return rng.choice(ROAD_STEMS) + rng.choice(ROAD_KINDS)


def _cn_name(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    dish, labels = rng.choice(NAME_DISHES)
    return rng.choice(NAME_PREFIXES) + rng.choice(NAME_MIDDLES) + dish, labels


def _new_cn_store(entity: str, rng: random.Random, city: CnCity | None = None) -> CnStore:
    city = city or rng.choice(CN_CITIES)
    lat, lng = _cn_position(city, rng)
    name, labels = _cn_name(rng)
    return CnStore(
        entity=entity,
        core=name,
        branch="",
        city=city,
        district=rng.choice(city.districts),
        road=_cn_road(rng),
        number=rng.randrange(1, 400),
        building="",
        floor=rng.choice((0, 0, 0, 1, 2, -1)),
        lat=lat,
        lng=lng,
        phones=[_cn_phone(city, rng)],
        categories=labels,
    )


# --- rendering one record of a store, clean or as a variant ---------------------------------------------


def _render_cn_phone(phone: str, rng: random.Random) -> str:
    if phone.startswith("400"):
        return rng.choice((phone, phone.replace("-", ""), phone.replace("-", " ")))
    styles: tuple[str, ...]
    weights: tuple[int, ...]
    if "-" in phone:
        area, local = phone.split("-")
        styles = (
            phone,
            area + local,
            f"({area}){local[:4]}-{local[4:]}",
            f"+86 {area[1:]} {local[:4]} {local[4:]}",
            f"{area}-{local[:4]} {local[4:]}",
            local,
        )
        weights = (5, 2, 1, 1, 1, 1)
        if rng.random() < 0.05:
            return f"{phone}转{rng.randrange(800, 899)}"  # an extension
    else:
        styles = (
            phone,
            f"{phone[:3]} {phone[3:7]} {phone[7:]}",
            f"+86{phone}",
            f"{phone[:3]}-{phone[3:7]}-{phone[7:]}",
        )
        weights = (5, 2, 1, 1)
    return rng.choices(styles, weights)[0]


def _render_cn_floor(floor: int, rng: random.Random) -> str:
    if floor == 0:
        return ""
    if floor < 0:
        return rng.choice(
            (
                f"B{-floor}",
                f"B{-floor}层",
                f"负{_CN_FLOOR_WORDS[-floor]}层",
                f"地下{_CN_FLOOR_WORDS[-floor]}层",
            )
        )
    return rng.choice(
        (f"{floor}F", f"{floor}楼", f"{floor}层", f"{_CN_FLOOR_WORDS.get(floor, floor)}楼", f"L{floor}")
    )


def _render_cn_address(store: CnStore, rng: random.Random, variant: bool) -> str:
    number = f"{store.number}号"
    if variant and rng.random() < 0.15:
        number = _fullwidth(str(store.number)) + "号"
    if not variant:
        prefix = f"{store.city.name}市{store.district}"
    else:
        prefix = rng.choice(
            (
                f"{store.city.name}市{store.district}",
                store.district,
                "",
                f"{store.city.name}{store.district[:-1]}",
                "",
            )
        )
    tail = store.building
    if variant and tail and rng.random() < 0.3:
        tail = ""
    floor = _render_cn_floor(store.floor, rng) if (not variant or rng.random() < 0.7) else ""
    note = ""
    if variant and rng.random() < 0.1:
        note = rng.choice(("(地铁站旁)", "附近", "对面", "(近十字路口)", " 停车场入口"))
    return f"{prefix}{store.road}{number}{tail}{floor}{note}"


def _typo_cn(name: str, rng: random.Random) -> str:
    """Mostly a homophone picked from the input method; sometimes a look-alike or a lost character."""
    roll = rng.random()
    table = HOMOPHONES if roll < 0.7 else LOOKALIKES if roll < 0.85 else TRADITIONAL
    spots = [i for i, ch in enumerate(name) if ch in table]
    if roll >= 0.95 and len(name) >= 5:
        i = rng.randrange(1, len(name) - 1)
        return name[:i] + name[i + 1 :]
    if spots:
        i = rng.choice(spots)
        return name[:i] + table[name[i]] + name[i + 1 :]
    return name


def _render_cn_name(store: CnStore, rng: random.Random, variant: bool) -> str:
    core = store.core
    branch = store.branch
    if not variant:
        if store.venue:
            return f"{store.venue}{core}"
        return f"{core}({branch}店)" if branch else core
    if store.venue:
        return rng.choice(
            (
                f"{store.venue}{core}",
                f"{store.venue}·{core}",
                f"{core}({store.venue})",
                f"{store.venue} {core}",
                f"{store.venue}{core}",
            )
        )
    if rng.random() < 0.2:
        for generic in ("火锅", "咖啡", "大酒店", "酒店", "麻辣烫", "拉面", "餐厅"):
            if core.endswith(generic) and len(core) - len(generic) >= 2:
                core = core[: -len(generic)] if generic != "大酒店" else core[:-3] + "酒店"
                break
    if rng.random() < 0.25:
        core = _typo_cn(core, rng)
    if not branch:
        return _fullwidth(core) if rng.random() < 0.05 else core
    style = rng.choices(
        (
            f"{core}({branch}店)",
            f"{core}（{branch}店）",
            f"{core}{branch}店",
            f"{core}{branch}分店",
            f"{core}({branch})",
            f"{core}【{branch}店】",
            f"{core}-{branch}店",
            f"{core} ({branch}店)",
            core,
        ),
        (3, 3, 2, 1, 1, 1, 1, 1, 2),
    )[0]
    return style


def _render_cn(store: CnStore, rid: str, rng: random.Random, *, variant: bool) -> LabelledRecord:
    lat, lng = store.lat, store.lng
    if variant:
        lat, lng = _offset(lat, lng, rng.uniform(20.0, 150.0), rng)
    city = store.city.name
    if variant:
        city = rng.choices((city, city + "市", store.city.latin, ""), (4, 3, 2, 1))[0]
    phones = [_render_cn_phone(p, rng) if variant else p for p in store.phones]
    category = store.categories[0]
    if variant:
        category = rng.choice(store.categories)
    return LabelledRecord(
        id=rid,
        entity=store.entity,
        name=_render_cn_name(store, rng, variant),
        address=_render_cn_address(store, rng, variant),
        city=city,
        phone=";".join(phones),
        lat=f"{lat:.6f}",
        lng=f"{lng:.6f}",
        category=category,
    )


def _drop(rec: LabelledRecord, rng: random.Random, p: float) -> LabelledRecord:
    """Blank some fields (never the name); always keep one of address, phone, position."""
    changes: dict[str, str] = {}
    for name in ("address", "phone", "city", "category"):
        if rng.random() < p:
            changes[name] = ""
    if rng.random() < p:
        changes["lat"] = changes["lng"] = ""
    if all(k in changes for k in ("address", "phone", "lat")):
        keep = rng.choice(("address", "phone", "lat"))
        for name in ("lat", "lng") if keep == "lat" else (keep,):
            del changes[name]
    return replace(rec, **changes)


# --------------------------------------------------------------------------------------------------------
# Set builders
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Builder:
    prefix: str
    rng: random.Random
    records: list[LabelledRecord] = field(default_factory=list)
    entities: int = 0
    # a chain has one store per branch name in a city: (brand, city, branch) is never reused
    used: set[tuple[str, ...]] = field(default_factory=set)

    def claim(self, *key: str) -> bool:
        if key in self.used:
            return False
        self.used.add(key)
        return True

    def entity(self) -> str:
        self.entities += 1
        return f"{self.prefix}e{self.entities}"

    def rid(self) -> str:
        return f"{self.prefix}{len(self.records) + 1}"

    def add(self, rec: LabelledRecord) -> None:
        self.records.append(rec)

    def emit_cn(self, store: CnStore, dup_rate: float, drop: float = 0.0) -> None:
        """The store's clean record, plus 1-2 variant records with probability dup_rate."""
        copies = 1
        if self.rng.random() < dup_rate:
            copies += 1 if self.rng.random() < 0.75 else 2
        for k in range(copies):
            rec = _render_cn(store, self.rid(), self.rng, variant=k > 0 or self.rng.random() < 0.3)
            if drop:
                rec = _drop(rec, self.rng, drop)
            elif k > 0:
                rec = _drop(rec, self.rng, 0.12)
            self.add(rec)


def _chain_branches(builder: _Builder, n_target: int, dup_rate: float, drop: float = 0.0) -> None:
    rng = builder.rng
    while len(builder.records) < n_target:
        brand, labels = rng.choice(CN_CHAINS)
        hotline = f"400-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}" if rng.random() < 0.3 else ""
        for city in rng.sample(CN_CITIES, rng.randint(2, 5)):
            names = list(city.landmarks) + [stem + kind for stem in ROAD_STEMS for kind in ROAD_KINDS[:3]]
            free = [b for b in names if (brand, city.name, b) not in builder.used]
            # most branches are named for a landmark; once those are taken, for a road
            free.sort(key=lambda b: (b not in city.landmarks, rng.random()))
            anchor = _cn_position(city, rng)
            for branch in free[: rng.randint(3, 12)]:
                builder.claim(brand, city.name, branch)
                # dense chains: some branches a few hundred metres apart
                if rng.random() < 0.35:
                    lat, lng = _offset(anchor[0], anchor[1], rng.uniform(250.0, 900.0), rng)
                else:
                    lat, lng = _cn_position(city, rng)
                phone = hotline if hotline and rng.random() < 0.7 else _cn_phone(city, rng)
                store = CnStore(
                    entity=builder.entity(),
                    core=brand,
                    branch=branch,
                    city=city,
                    district=rng.choice(city.districts),
                    road=_cn_road(rng),
                    number=rng.randrange(1, 400),
                    building=rng.choice(("", "", *MALLS)),
                    floor=rng.choice((0, 1, 1, 2, 3, -1)),
                    lat=lat,
                    lng=lng,
                    phones=[phone],
                    categories=labels,
                )
                builder.emit_cn(store, dup_rate, drop)
                if len(builder.records) >= n_target:
                    return


def _independents(builder: _Builder, n_target: int, dup_rate: float, drop: float = 0.0) -> None:
    while len(builder.records) < n_target:
        store = _new_cn_store(builder.entity(), builder.rng)
        builder.emit_cn(store, dup_rate, drop)


def _malls_and_hotels(builder: _Builder, n_target: int) -> None:
    rng = builder.rng
    while len(builder.records) < n_target:
        city = rng.choice(CN_CITIES)
        lat, lng = _cn_position(city, rng)
        road, number, district = _cn_road(rng), rng.randrange(1, 400), rng.choice(city.districts)
        switchboard = _cn_landline(city, rng)
        if rng.random() < 0.6:
            mall = rng.choice(MALLS)
            if not builder.claim("mall", city.name, mall):
                mall = f"{district[:-1]}{mall}"  # a city's second 万达广场 goes by its district
                if not builder.claim("mall", city.name, mall):
                    continue
            for shop in rng.sample(MALL_SHOPS, rng.randint(8, 25)):
                own = _cn_phone(city, rng)
                phones = rng.choices(([switchboard], [own], [switchboard, own]), (6, 2, 2))[0]
                slat, slng = _offset(lat, lng, rng.uniform(0.0, 40.0), rng)
                store = CnStore(
                    entity=builder.entity(),
                    core=shop,
                    branch=mall if rng.random() < 0.4 else "",
                    city=city,
                    district=district,
                    road=road,
                    number=number,
                    building=mall,
                    floor=rng.choice((-1, 1, 2, 3, 4, 5)),
                    lat=slat,
                    lng=slng,
                    phones=phones,
                    categories=("购物", "商场"),
                )
                builder.emit_cn(store, 0.3)
        else:
            hotel = rng.choice(HOTEL_BRANDS)
            hotel_name = hotel if hotel.endswith(("宾馆", "饭店")) else f"{hotel}大酒店"
            if not builder.claim("hotel", city.name, hotel_name):
                continue
            outlets = ["", *rng.sample(HOTEL_OUTLETS, rng.randint(3, 6))]
            for outlet in outlets:
                slat, slng = _offset(lat, lng, rng.uniform(0.0, 30.0), rng)
                store = CnStore(
                    entity=builder.entity(),
                    core=outlet or hotel_name,
                    branch="",
                    city=city,
                    district=district,
                    road=road,
                    number=number,
                    building="",
                    floor=rng.choice((0, 1, 2, 3)),
                    lat=slat,
                    lng=slng,
                    phones=[switchboard],
                    categories=("酒店", "住宿") if not outlet else ("餐厅", "美食"),
                    venue=hotel_name if outlet else "",
                )
                builder.emit_cn(store, 0.3)


# --- English restaurants in the style of the Fodor's / Zagat guides --------------------------------------


@dataclass(frozen=True)
class UsCity:
    names: tuple[str, ...]  # canonical first, then aliases
    hoods: tuple[str, ...]
    areas: tuple[int, ...]
    streets: tuple[str, ...]
    lat: float
    lng: float


US_CITIES: tuple[UsCity, ...] = (
    UsCity(
        ("Los Angeles", "LA", "L.A."),
        (
            "Hollywood",
            "W. Hollywood",
            "Beverly Hills",
            "Santa Monica",
            "Studio City",
            "Pasadena",
            "Sherman Oaks",
        ),
        (310, 213, 818, 323),
        _names(
            "La Cienega Blvd.|Ventura Blvd.|Melrose Ave.|Sunset Blvd.|Wilshire Blvd.|Santa Monica Blvd.|"
            "La Brea Ave.|Pico Blvd.|Olive St.|Main St.|Third St.|Hillhurst Ave.|Raymond Ave.|Beverly Dr.|"
            "Canon Dr.|Robertson Blvd.|Fairfax Ave.|Vermont Ave.|Figueroa St.|Hope St.",
            sep="|",
        ),
        34.0522,
        -118.2437,
    ),
    UsCity(
        ("New York", "New York City", "NYC"),
        (),
        (212, 718, 917),
        _names(
            "52nd St.|65th St.|Seventh Ave.|Park Ave.|Madison Ave.|Broadway|Lexington Ave.|12th St.|"
            "54th St.|Columbus Ave.|Amsterdam Ave.|Spring St.|Mott St.|Bleecker St.|Hudson St.|"
            "Greenwich St.|Mulberry St.|Houston St.",
            sep="|",
        ),
        40.7128,
        -74.0060,
    ),
    UsCity(
        ("San Francisco", "SF", "San Francisco"),
        (),
        (415,),
        _names(
            "Mission St.|Market St.|Valencia St.|Columbus Ave.|Geary Blvd.|Clement St.|Polk St.|Union St.|"
            "Fillmore St.|Haight St.|Grant Ave.",
            sep="|",
        ),
        37.7749,
        -122.4194,
    ),
    UsCity(
        ("Atlanta",),
        ("Buckhead", "Decatur", "Marietta"),
        (404, 770),
        (
            "Peachtree Rd.",
            "Peachtree St.",
            "Piedmont Ave.",
            "Roswell Rd.",
            "Ponce de Leon Ave.",
            "Highland Ave.",
        ),
        33.7490,
        -84.3880,
    ),
    UsCity(
        ("Las Vegas", "Vegas"),
        (),
        (702,),
        ("Las Vegas Blvd. S", "Paradise Rd.", "Flamingo Rd.", "Sahara Ave.", "Tropicana Ave."),
        36.1699,
        -115.1398,
    ),
    UsCity(
        ("Chicago",),
        (),
        (312, 773),
        ("Michigan Ave.", "Randolph St.", "Clark St.", "Division St.", "Halsted St.", "Wabash Ave."),
        41.8781,
        -87.6298,
    ),
)

FIRST_NAMES = _names(
    "Arnie Art Carmine Philippe Gino Mario Rosa Lucia Jimmy Frank Sammy Tony Nick Maria Yujean Antoine "
    "Jacques Pierre Hugo Marco Luigi Dante Sal Vincent Eddie Charlie Bobby Molly Katie Ruth Ella Gus Otto "
    "Felix Hank Lola Nora Rocco Enzo Bruno"
)
LAST_NAMES = _names(
    "Morton Kang Puck Lagasse Batali Boulud Keller Flay Vongerichten Ripert Colicchio Chang Bastianich "
    "Trotter Waters Romano Esposito Delmonico Sardi Gallagher"
)
WORDS = _names(
    "Campanile|Citrus|Granita|Patina|Valentino|Spago|Matsuhisa|Chinois|Locanda|Fenix|Bizou|Katsu|Aquavit|"
    "Aureole|Chanterelle|Dawat|Felidia|Gotham|Lutece|Mesa|Gramercy|Harvest|Orchid|Saffron|Juniper|Olive|"
    "Magnolia|Cypress|Willow|Ember|Copper|Lotus|Bamboo|Jade|Pearl|Coral|Harbor|Canyon|Sierra|Sunset|"
    "Pacific|Hudson|Bayou|Prairie|Maple|Cedar|Birch|Zinc|Basil|Fennel|Nutmeg|Tamarind|Paprika|Marigold|"
    "Azalea|Bellini|Rialto|Vesuvio|Positano|Amalfi|Sorrento|Toscana|Provence|Normandie|Bordeaux|Lyon|"
    "Kyoto|Osaka|Sakura|Hunan|Szechuan|Mandarin|Canton|Saigon|Bangkok|Bombay|Havana|Oaxaca|Sonoma|Napa|"
    "Tribeca|Soho|Chelsea|Gramercy Park|Union Square|Larchmont|Silverlake|Echo|Ivy|Palm|Grill",
    sep="|",
)
# (Fodor's style, Zagat style) category labels
US_CATEGORIES = (
    ("American", "American (New)"),
    ("American", "Steakhouses"),
    ("Italian", "Northern Italian"),
    ("French", "French Bistro"),
    ("Delis", "Delicatessen"),
    ("Chinese", "Asian"),
    ("Japanese", "Sushi"),
    ("Seafood", "Seafood"),
    ("Mexican", "Mexican/Tex-Mex"),
    ("Californian", "Californian"),
    ("Continental", "French (New)"),
    ("Coffee Shops", "Coffeehouses"),
    ("Pizza", "Pizza"),
    ("Southern", "Southern/Soul"),
    ("Indian", "Indian"),
    ("Thai", "Thai"),
)
US_TYPES = _names(
    "Grill|Bistro|Kitchen|Tavern|Steakhouse|Deli|Diner|Oyster Bar|Trattoria|Brasserie|Cafe|House|Garden|"
    "Room|Bar & Grill|Chophouse|Pizzeria|Noodle House|Sushi Bar|Restaurant",
    sep="|",
)
US_CHAINS = _names(
    "California Pizza Kitchen|Johnny Rockets|Benihana|The Cheesecake Factory|Ruth's Chris Steak House|"
    "P.F. Chang's|Shake Shack|Morton's The Steakhouse|Maggiano's Little Italy|Houston's",
    sep="|",
)
US_HOTELS = (
    ("Ritz-Carlton", "Buckhead"),
    ("Four Seasons", ""),
    ("Peninsula", "Beverly Hills"),
    ("Hotel Bel-Air", ""),
    ("Waldorf-Astoria", ""),
    ("St. Regis", ""),
    ("Biltmore", ""),
    ("Mandarin Oriental", ""),
)
US_OUTLETS = _names("Cafe|Dining Room|Grill Room|Lobby Lounge|Bar|Terrace|Tea Room|Steakhouse", sep="|")


@dataclass
class UsStore:
    entity: str
    name: str
    city: UsCity
    hood: str
    number: int
    direction: str
    street: str
    area: int
    phone: str  # 7 digits
    category: tuple[str, str]
    branch: str = ""
    suite: str = ""
    outlet: bool = False  # a restaurant inside a hotel
    lat: float = 0.0
    lng: float = 0.0


def _us_name(rng: random.Random) -> str:
    pattern = rng.randrange(16)
    first, last, word, word2 = (
        rng.choice(FIRST_NAMES),
        rng.choice(LAST_NAMES),
        rng.choice(WORDS),
        rng.choice(WORDS),
    )
    kind = rng.choice(US_TYPES)
    return (
        f"{first}'s",
        f"{first}'s {kind}",
        f"{word} {kind}",
        f"Cafe {word}",
        f"Le {word}",
        f"La {word}",
        f"{word} on {rng.choice(('Main', 'Third', 'Sunset', 'Broadway', 'the Alley', 'the Park'))}",
        f"{first} {last}'s",
        f"{word} & {word2}",
        f"Trattoria {word}",
        f"The {word} {kind}",
        f"{last}'s {kind}",
        f"{first} {last}'s of {rng.choice(('Chicago', 'Boston', 'Naples', 'Paris'))}",
        f"{word} {word2}",
        f"{first}'s {word} {kind}",
        f"{last}'s {rng.choice(('New Orleans', 'Little Italy', 'Gourmet Chinese', 'Famous'))} {kind}",
    )[pattern]


def _us_phone_text(area: int, phone: str, style: int) -> str:
    return (
        f"{area}/{phone[:3]}-{phone[3:]}",
        f"{area}-{phone[:3]}-{phone[3:]}",
        f"({area}) {phone[:3]}-{phone[3:]}",
    )[style]


_US_EXPANSIONS = (
    ("Blvd.", "Boulevard"),
    ("Ave.", "Avenue"),
    ("St.", "Street"),
    ("Rd.", "Road"),
    ("Dr.", "Drive"),
    ("Seventh", "7th"),
    ("Third", "3rd"),
)
_US_DIRECTIONS = {"N. ": "North ", "S. ": "South ", "E. ": "East ", "W. ": "West "}


def _us_address(store: UsStore, rng: random.Random, variant: bool) -> str:
    street = store.street
    direction = store.direction
    number = str(store.number)
    suite = store.suite
    if variant:
        for short, long in _US_EXPANSIONS:
            if short in street and rng.random() < 0.5:
                street = street.replace(short, long)
        if direction and rng.random() < 0.3:
            direction = _US_DIRECTIONS[direction]
        if direction and rng.random() < 0.1:
            direction = ""
        if rng.random() < 0.3:
            street = street.rstrip(".")
        if suite and rng.random() < 0.5:
            suite = ""
        if rng.random() < 0.02:
            number = number[:-1] + str((int(number[-1]) + 1) % 10)
        if rng.random() < 0.03:  # the guide lists another entrance
            number, street = str(rng.randrange(1, 3000)), rng.choice(store.city.streets)
    text = f"{number} {direction}{street}"
    if not variant and rng.random() < 0.15:
        # Fodor's style directions after the address
        other = rng.choice(store.city.streets).rstrip(".")
        text += rng.choice(
            (
                f" between {other} and Main Sts.",
                f" near {other}",
                f" at {other}",
                f" {rng.choice(WORDS)} Shopping Center",
            )
        )
    return f"{text}, Suite {suite}" if suite else text


def _us_name_variant(name: str, rng: random.Random, *, outlet: bool = False, city: str = "") -> str:
    ops = rng.sample(range(8) if outlet else range(12), rng.randint(1, 2))
    for op in ops:
        if op == 0 and " & " in name:
            name = name.replace(" & ", " and ")
        elif op == 1:
            name = name[4:] if name.startswith("The ") else name
        elif op == 2 and "'s" in name:
            name = name.replace("'s", "", 1)
        elif op == 3:
            name = (
                name.replace("Cafe", "Café")
                if "Cafe" in name
                else f"Restaurant {name}"
                if rng.random() < 0.3
                else name
            )
        elif op == 4:
            name = name.replace(" of ", " Of ").replace(" on ", " On ")
        elif op == 5 and " " in name:
            i = rng.randrange(len(name))
            if name[i].isalpha():
                name = name[:i] + name[i] + name[i:] if rng.random() < 0.5 else name[:i] + name[i + 1 :]
        elif op == 6 and "Deli" in name:
            name = (
                name.replace("Delicatessen", "Deli")
                if "Delicatessen" in name
                else name.replace("Deli", "Delicatessen")
            )
        elif op == 7:
            name = name.replace("-", " ") if "-" in name else name.upper() if rng.random() < 0.2 else name
        elif op == 8 and city and "(" not in name:
            name = f"{name} ({city})"  # Zagat's 'Spago (Los Angeles)'
        elif op == 9 and name.endswith(tuple(US_TYPES)) and name.count(" ") >= 1:
            name = name.rsplit(" ", 1)[0] if len(name.rsplit(" ", 1)[0]) > 5 else name
        elif op == 10 and name.startswith("The "):
            name = f"{name[4:]} The"  # Zagat files 'The Palm' as 'Palm The'
        elif op == 11 and name.count(" ") >= 2 and "'s " in name:
            name = name.split("'s ")[0] + "'s"  # 'Emeril's New Orleans Fish House' -> 'Emeril's'
    return name


def _render_us(store: UsStore, rid: str, rng: random.Random, *, zagat: bool, geo: bool) -> LabelledRecord:
    name = store.name
    if store.branch:
        name = f"{name} - {store.branch}" if not zagat else f"{name} ({store.branch})"
    if zagat:
        name = _us_name_variant(name, rng, outlet=store.outlet, city=store.city.names[0])
    city = store.city.names[0]
    if store.hood:
        city = store.hood
    if zagat:
        if store.hood and rng.random() < 0.4:
            city = store.city.names[0]
        elif rng.random() < 0.5:
            city = rng.choice(store.city.names)
        city = city.replace("W. ", "West ") if rng.random() < 0.5 else city
    phone = store.phone
    if zagat and rng.random() < 0.04:
        phone = f"{rng.randrange(200, 999)}{phone[3:]}"  # the number changed between the guides
    lat = lng = ""
    if geo:
        plat, plng = (
            _offset(store.lat, store.lng, rng.uniform(0.0, 120.0), rng) if zagat else (store.lat, store.lng)
        )
        lat, lng = f"{plat:.6f}", f"{plng:.6f}"
    return LabelledRecord(
        id=rid,
        entity=store.entity,
        name=name,
        address=_us_address(store, rng, zagat),
        city=city,
        phone=_us_phone_text(store.area, phone, 0 if not zagat else rng.choice((1, 1, 2, 0))),
        lat=lat,
        lng=lng,
        category=store.category[1 if zagat else 0],
    )


def _new_us_store(
    entity: str, rng: random.Random, name: str | None = None, city: UsCity | None = None
) -> UsStore:
    city = city or rng.choice(US_CITIES)
    lat, lng = _offset(city.lat, city.lng, abs(rng.gauss(0.0, 8000.0)), rng)
    return UsStore(
        entity=entity,
        name=name or _us_name(rng),
        city=city,
        hood=rng.choice(city.hoods) if city.hoods and rng.random() < 0.5 else "",
        number=rng.randrange(1, 12000) if rng.random() < 0.7 else rng.randrange(1, 300),
        direction=rng.choice(("", "", "N. ", "S. ", "W. ", "E. ")),
        street=rng.choice(city.streets),
        area=rng.choice(city.areas),
        phone=f"{rng.randrange(200, 999)}{rng.randrange(1000, 9999)}",
        category=rng.choice(US_CATEGORIES),
        lat=lat,
        lng=lng,
    )


def _restaurants(builder: _Builder, n_target: int, *, geo: bool, drop: float = 0.0) -> None:
    """Two guides: most restaurants in one of them, about a quarter in both (the duplicates)."""
    rng = builder.rng
    used: set[str] = set()
    while len(builder.records) < n_target:
        roll = rng.random()
        stores: list[UsStore] = []
        if roll < 0.05:
            # hotel restaurants: same phone and address, different restaurants
            hotel, hood = rng.choice(US_HOTELS)
            base = _new_us_store("", rng)
            hood = rng.choice(base.city.hoods) if hood and base.city.hoods else ""
            if not builder.claim(hotel, base.city.names[0], hood):
                continue
            casino = rng.random() < 0.5  # a Las Vegas casino: its restaurants have names of their own
            for outlet in rng.sample(US_OUTLETS, rng.randint(2, 3)):
                name = f"{hotel} {outlet} ({hood})" if hood else f"{hotel} {outlet}"
                if casino:
                    name = _us_name(rng)
                stores.append(
                    replace(
                        base,
                        entity=builder.entity(),
                        name=name,
                        category=rng.choice(US_CATEGORIES),
                        outlet=True,
                    )
                )
        elif roll < 0.10:
            chain = rng.choice(US_CHAINS)
            city = rng.choice(US_CITIES)
            hoods = list(city.hoods or ("Downtown", "Midtown", "Uptown", "Westside", "Eastside"))
            for hood in rng.sample(hoods, min(len(hoods), rng.randint(2, 4))):
                if not builder.claim(chain, city.names[0], hood):
                    continue
                store = _new_us_store(builder.entity(), rng, name=chain, city=city)
                store.branch = hood if rng.random() < 0.6 else ""
                stores.append(store)
        else:
            name = _us_name(rng)
            if name in used and rng.random() < 0.8:
                continue
            used.add(name)
            stores.append(_new_us_store(builder.entity(), rng, name=name))
        for store in stores:
            if rng.random() < 0.1:
                store.suite = str(rng.randrange(100, 400))
            both = rng.random() < 0.25
            guides = (False, True) if both else (rng.random() < 0.4,)
            for zagat in guides:
                rec = _render_us(store, builder.rid(), rng, zagat=zagat, geo=geo)
                if drop:
                    rec = _drop(rec, rng, drop)
                builder.add(rec)


def _fill(kind: str, builder: _Builder, n: int) -> None:
    """Add about n records of one set to the builder."""
    base = len(builder.records)
    if kind == "chains":
        _chain_branches(builder, base + int(n * 0.85), dup_rate=0.3)
        _independents(builder, base + n, dup_rate=0.2)
    elif kind == "variants":
        _independents(builder, base + int(n * 0.8), dup_rate=0.5)
        _chain_branches(builder, base + n, dup_rate=0.5)
    elif kind == "shared_phone":
        _malls_and_hotels(builder, base + int(n * 0.8))
        _independents(builder, base + n, dup_rate=0.3)
    elif kind == "restaurants_en":
        _restaurants(builder, base + n, geo=False)
    elif kind == "missing":
        _independents(builder, base + int(n * 0.45), dup_rate=0.4, drop=0.3)
        _restaurants(builder, base + int(n * 0.75), geo=True, drop=0.3)
        _chain_branches(builder, base + n, dup_rate=0.3, drop=0.2)
    else:
        raise ValueError(f"unknown set {kind!r}; expected one of {SETS}")


def generate(kind: str, n: int = 3000, *, seed: int = 7) -> list[LabelledRecord]:
    """About n labelled records of one set (see SETS); the same seed gives the same records."""
    rng = random.Random(f"{kind}:{seed}:{n}")
    builder = _Builder(prefix=f"{kind[:2]}{seed}-", rng=rng)
    _fill(kind, builder, n)
    records = builder.records
    rng.shuffle(records)
    return records


MIXED_SHARES = {"chains": 0.3, "variants": 0.3, "shared_phone": 0.15, "restaurants_en": 0.1, "missing": 0.15}


def generate_mixed(n: int, *, seed: int = 7) -> list[LabelledRecord]:
    """About n records drawn from every set into one world (a brand has one store per branch name in a
    city across all of them): for timing the command on realistic volumes."""
    rng = random.Random(f"mixed:{seed}:{n}")
    builder = _Builder(prefix=f"mx{seed}-", rng=rng)
    for kind, share in MIXED_SHARES.items():
        _fill(kind, builder, int(n * share))
    records = builder.records
    rng.shuffle(records)
    return records


def entity_map(records: Iterable[LabelledRecord]) -> dict[str, str]:
    return {r.id: r.entity for r in records}


def duplicates_per_entity(records: Iterable[LabelledRecord]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for r in records:
        groups[r.entity].append(r.id)
    return {k: v for k, v in groups.items() if len(v) > 1}
