"""Deterministic generator of realistic Chinese merchant POIs for the demo tenant."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

__all__ = ["CITY_CENTRES", "DemoPoi", "generate_pois", "main"]


@dataclass(frozen=True)
class DemoPoi:
    name: str  # brand or shop name, without branch, e.g. "海底捞火锅"
    branch_name: str  # e.g. "国贸店"; "" for most independent shops
    brand: str  # chain brand name, "" for independents
    category: str  # Chinese category, e.g. "火锅", "咖啡", "美发"
    address: str  # full street address
    province: str
    city: str
    district: str
    phone: str  # E.164, e.g. "+8613812345678" or "+861065881234"
    lat: float  # WGS-84
    lng: float
    tags: tuple[str, ...]
    source_channel: str  # "crawl" | "bd" | "partner" | "self_submit"


CITY_CENTRES: dict[str, tuple[float, float]] = {
    "北京市": (39.9087, 116.4605),  # 国贸
    "上海市": (31.2304, 121.4737),  # 人民广场
}


# ---------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------

_MALL = "mall"
_OFFICE = "office"


@dataclass(frozen=True)
class _Building:
    name: str
    road: str
    number: str  # e.g. "87号", "乙6号"
    kind: str  # _MALL or _OFFICE


@dataclass(frozen=True)
class _Landmark:
    name: str  # used for branch names: name + "店"
    lat: float
    lng: float
    district: str
    roads: tuple[str, ...]
    buildings: tuple[_Building, ...] = ()
    weight: float = 1.0  # commercial density, used for clustering


@dataclass(frozen=True)
class _CityProfile:
    province: str
    city: str
    area_code: str  # without the leading 0, e.g. "10"
    landline_first_digits: str
    landmarks: tuple[_Landmark, ...]


def _b(name: str, road: str, number: str, kind: str = _MALL) -> _Building:
    return _Building(name, road, number, kind)


def _lm(
    name: str,
    lat: float,
    lng: float,
    district: str,
    roads: tuple[str, ...],
    weight: float,
    *buildings: _Building,
) -> _Landmark:
    return _Landmark(name, lat, lng, district, roads, buildings, weight)


_BEIJING = _CityProfile(
    province="北京市",
    city="北京市",
    area_code="10",
    landline_first_digits="568",
    landmarks=(
        # 朝阳区
        _lm(
            "国贸",
            39.9087,
            116.4605,
            "朝阳区",
            ("建国路", "东三环中路", "光华路", "建国门外大街"),
            3.0,
            _b("国贸商城", "建国门外大街", "1号"),
            _b("银泰中心", "建国门外大街", "2号"),
            _b("建外SOHO", "东三环中路", "39号", _OFFICE),
        ),
        _lm(
            "大望路",
            39.9080,
            116.4770,
            "朝阳区",
            ("建国路", "西大望路", "东三环中路"),
            2.5,
            _b("新光天地", "建国路", "87号"),
            _b("SOHO现代城", "建国路", "88号", _OFFICE),
            _b("华贸购物中心", "建国路", "89号"),
        ),
        _lm(
            "双井",
            39.8935,
            116.4610,
            "朝阳区",
            ("东三环中路", "广渠路", "劲松路"),
            2.0,
            _b("富力广场", "东三环中路", "63号"),
            _b("乐成中心", "东三环中路", "20号", _OFFICE),
        ),
        _lm("潘家园", 39.8760, 116.4600, "朝阳区", ("潘家园路", "东三环南路", "华威路"), 1.2),
        _lm("百子湾", 39.8950, 116.4980, "朝阳区", ("百子湾路", "广渠路", "西大望路"), 1.0),
        _lm(
            "三里屯",
            39.9335,
            116.4545,
            "朝阳区",
            ("三里屯路", "工体北路", "新东路"),
            2.5,
            _b("三里屯太古里", "三里屯路", "19号"),
            _b("三里屯SOHO", "工体北路", "8号", _OFFICE),
        ),
        _lm("团结湖", 39.9290, 116.4670, "朝阳区", ("团结湖路", "东三环北路", "农展馆南路"), 1.2),
        _lm(
            "朝外",
            39.9225,
            116.4440,
            "朝阳区",
            ("朝阳门外大街", "东大桥路", "工体南路"),
            1.5,
            _b("朝外SOHO", "朝阳门外大街", "乙6号", _OFFICE),
            _b("蓝岛大厦", "朝阳门外大街", "8号"),
        ),
        _lm(
            "亮马桥",
            39.9500,
            116.4630,
            "朝阳区",
            ("亮马桥路", "东三环北路", "新源南路"),
            1.3,
            _b("燕莎友谊商城", "亮马桥路", "52号"),
        ),
        _lm(
            "朝阳公园",
            39.9460,
            116.4750,
            "朝阳区",
            ("朝阳公园路", "农展馆南路", "枣营路"),
            1.2,
            _b("蓝色港湾", "朝阳公园路", "6号"),
        ),
        _lm(
            "朝阳大悦城",
            39.9240,
            116.5190,
            "朝阳区",
            ("朝阳北路", "青年路", "姚家园路"),
            1.8,
            _b("朝阳大悦城", "朝阳北路", "101号"),
        ),
        _lm("十里堡", 39.9220, 116.4970, "朝阳区", ("朝阳路", "十里堡路", "延静东里"), 1.0),
        _lm(
            "望京",
            39.9960,
            116.4700,
            "朝阳区",
            ("望京街", "阜通东大街", "广顺北大街", "望京西路"),
            2.5,
            _b("望京SOHO", "阜通东大街", "6号", _OFFICE),
            _b("凯德MALL望京", "广顺北大街", "33号"),
            _b("方恒购物中心", "阜通东大街", "6号"),
        ),
        _lm(
            "酒仙桥",
            39.9700,
            116.4940,
            "朝阳区",
            ("酒仙桥路", "酒仙桥北路", "将台路"),
            1.3,
            _b("颐堤港", "酒仙桥路", "18号"),
        ),
        _lm("太阳宫", 39.9740, 116.4480, "朝阳区", ("太阳宫中路", "西坝河南路", "芍药居路"), 1.0),
        _lm(
            "亚运村",
            39.9920,
            116.4100,
            "朝阳区",
            ("北辰东路", "安立路", "慧忠路", "北四环东路"),
            1.5,
            _b("北辰购物中心", "北辰东路", "8号"),
        ),
        _lm("大屯路", 40.0030, 116.4200, "朝阳区", ("大屯路", "北苑路", "安立路"), 1.0),
        _lm(
            "常营",
            39.9270,
            116.6000,
            "朝阳区",
            ("朝阳北路", "常营中路", "管庄路"),
            1.2,
            _b("龙湖长楹天街", "朝阳北路", "101号"),
        ),
        # 东城区
        _lm(
            "王府井",
            39.9140,
            116.4110,
            "东城区",
            ("王府井大街", "东长安街", "金鱼胡同", "东安门大街"),
            2.5,
            _b("王府井百货", "王府井大街", "255号"),
            _b("北京apm", "王府井大街", "138号"),
            _b("东方新天地", "东长安街", "1号"),
        ),
        _lm("东单", 39.9080, 116.4180, "东城区", ("东单北大街", "崇文门内大街", "东长安街"), 1.3),
        _lm(
            "崇文门",
            39.8995,
            116.4170,
            "东城区",
            ("崇文门外大街", "崇文门西大街", "花市大街"),
            1.5,
            _b("新世界百货", "崇文门外大街", "3号"),
            _b("国瑞购物中心", "崇文门外大街", "18号"),
        ),
        _lm(
            "东直门",
            39.9410,
            116.4340,
            "东城区",
            ("东直门内大街", "东直门南大街", "北新桥三条"),
            1.8,
            _b("来福士中心", "东直门南大街", "1号"),
        ),
        _lm(
            "朝阳门",
            39.9240,
            116.4330,
            "东城区",
            ("朝阳门内大街", "朝阳门北大街", "南竹杆胡同"),
            1.2,
            _b("银河SOHO", "南竹杆胡同", "2号", _OFFICE),
        ),
        _lm("东四", 39.9270, 116.4170, "东城区", ("东四北大街", "东四西大街", "东四南大街"), 1.2),
        _lm("雍和宫", 39.9490, 116.4170, "东城区", ("雍和宫大街", "安定门东大街", "五道营胡同"), 1.0),
        _lm("南锣鼓巷", 39.9370, 116.4030, "东城区", ("地安门东大街", "鼓楼东大街", "交道口南大街"), 1.2),
        _lm("天坛", 39.8820, 116.4100, "东城区", ("天坛路", "天坛东路", "永定门内大街"), 0.8),
        _lm("前门", 39.8970, 116.3980, "东城区", ("前门大街", "鲜鱼口街", "前门东大街"), 1.3),
        _lm("广渠门", 39.8930, 116.4380, "东城区", ("广渠门内大街", "幸福大街", "东花市大街"), 0.9),
        # 西城区
        _lm(
            "西单",
            39.9070,
            116.3740,
            "西城区",
            ("西单北大街", "西长安街", "灵境胡同", "西绒线胡同"),
            2.2,
            _b("西单大悦城", "西单北大街", "131号"),
            _b("君太百货", "西单北大街", "133号"),
            _b("汉光百货", "西单北大街", "176号"),
        ),
        _lm(
            "金融街",
            39.9150,
            116.3580,
            "西城区",
            ("金融大街", "武定侯街", "金城坊街"),
            1.6,
            _b("金融街购物中心", "金城坊街", "2号"),
        ),
        _lm(
            "西直门",
            39.9400,
            116.3530,
            "西城区",
            ("西直门内大街", "西直门南大街", "西直门北大街"),
            1.4,
            _b("凯德MALL西直门", "西直门外大街", "1号"),
        ),
        _lm("新街口", 39.9400, 116.3700, "西城区", ("新街口北大街", "新街口南大街", "西直门内大街"), 1.2),
        _lm("德胜门", 39.9480, 116.3800, "西城区", ("德胜门外大街", "德胜门内大街", "德外大街"), 0.9),
        _lm("什刹海", 39.9400, 116.3870, "西城区", ("地安门外大街", "鼓楼西大街", "烟袋斜街"), 1.0),
        _lm("阜成门", 39.9230, 116.3540, "西城区", ("阜成门内大街", "阜成门外大街", "阜成门北大街"), 1.0),
        _lm(
            "宣武门",
            39.8990,
            116.3740,
            "西城区",
            ("宣武门外大街", "宣武门东大街", "宣武门西大街"),
            1.3,
            _b("庄胜崇光百货", "宣武门外大街", "8号"),
        ),
        _lm("菜市口", 39.8840, 116.3740, "西城区", ("菜市口大街", "广安门内大街", "骡马市大街"), 1.0),
        _lm("广安门", 39.8900, 116.3550, "西城区", ("广安门内大街", "广安门外大街", "报国寺前街"), 0.8),
        _lm("月坛", 39.9140, 116.3400, "西城区", ("三里河路", "月坛北街", "月坛南街"), 0.9),
        _lm("车公庄", 39.9320, 116.3500, "西城区", ("车公庄大街", "展览路", "车公庄北街"), 0.9),
        # 海淀区
        _lm(
            "中关村",
            39.9830,
            116.3160,
            "海淀区",
            ("中关村大街", "丹棱街", "海淀大街", "北四环西路"),
            2.2,
            _b("新中关购物中心", "中关村大街", "19号"),
            _b("欧美汇购物中心", "丹棱街", "甲1号"),
            _b("中关村广场", "中关村大街", "15号", _OFFICE),
        ),
        _lm(
            "五道口",
            39.9925,
            116.3380,
            "海淀区",
            ("成府路", "王庄路", "双清路"),
            1.8,
            _b("五道口购物中心", "成府路", "28号"),
        ),
        _lm("学院路", 39.9930, 116.3540, "海淀区", ("学院路", "学清路", "志新路"), 1.0),
        _lm("知春路", 39.9760, 116.3400, "海淀区", ("知春路", "学院南路", "大钟寺东路"), 1.2),
        _lm("魏公村", 39.9570, 116.3220, "海淀区", ("中关村南大街", "魏公村路", "民族大学西路"), 1.0),
        _lm("苏州街", 39.9750, 116.3060, "海淀区", ("苏州街", "海淀南路", "万泉河路"), 1.0),
        _lm("北太平庄", 39.9620, 116.3700, "海淀区", ("北三环中路", "北太平庄路", "新街口外大街"), 1.0),
        _lm("紫竹桥", 39.9400, 116.3100, "海淀区", ("紫竹院路", "车道沟南街", "西三环北路"), 0.8),
        _lm(
            "公主坟",
            39.9070,
            116.3100,
            "海淀区",
            ("复兴路", "西三环中路", "翠微路"),
            1.4,
            _b("翠微百货", "复兴路", "33号"),
        ),
        _lm(
            "五棵松",
            39.9070,
            116.2740,
            "海淀区",
            ("复兴路", "西四环中路", "永定路"),
            1.1,
            _b("华熙LIVE", "复兴路", "69号"),
        ),
        _lm(
            "清河",
            40.0330,
            116.3300,
            "海淀区",
            ("清河中街", "安宁庄路", "小营西路"),
            0.9,
            _b("五彩城", "清河中街", "68号"),
        ),
        # 丰台区
        _lm("丰台科技园", 39.8280, 116.2870, "丰台区", ("丰台北路", "科学城中路", "富丰路"), 0.8),
        _lm("六里桥", 39.8830, 116.3080, "丰台区", ("西三环南路", "六里桥南里", "莲花池西路"), 1.0),
        _lm(
            "丽泽",
            39.8680,
            116.3130,
            "丰台区",
            ("丽泽路", "西三环南路", "菜户营南路"),
            1.0,
            _b("丽泽SOHO", "丽泽路", "20号", _OFFICE),
        ),
        _lm(
            "草桥",
            39.8480,
            116.3560,
            "丰台区",
            ("南三环西路", "马家堡西路", "镇国寺北街"),
            1.0,
            _b("首地大峡谷购物中心", "南三环西路", "16号"),
        ),
        _lm("马家堡", 39.8480, 116.3720, "丰台区", ("马家堡东路", "马家堡西路", "角门路"), 1.0),
        _lm("宋家庄", 39.8460, 116.4280, "丰台区", ("宋家庄路", "石榴庄路", "南三环东路"), 0.9),
        _lm("方庄", 39.8660, 116.4340, "丰台区", ("方庄路", "蒲黄榆路", "芳城园路"), 1.2),
        _lm("大红门", 39.8520, 116.4020, "丰台区", ("大红门路", "南苑路", "木樨园南路"), 0.9),
        _lm("北大地", 39.8600, 116.2900, "丰台区", ("丰台北路", "万丰路", "西四环南路"), 0.8),
    ),
)

_SHANGHAI = _CityProfile(
    province="上海市",
    city="上海市",
    area_code="21",
    landline_first_digits="56",
    landmarks=(
        # 黄浦区
        _lm(
            "人民广场",
            31.2317,
            121.4727,
            "黄浦区",
            ("西藏中路", "福州路", "南京西路", "九江路"),
            2.5,
            _b("来福士广场", "西藏中路", "268号"),
            _b("新世界城", "南京西路", "2号"),
        ),
        _lm(
            "南京东路",
            31.2390,
            121.4840,
            "黄浦区",
            ("南京东路", "九江路", "汉口路", "天津路"),
            2.0,
            _b("第一百货", "南京东路", "830号"),
        ),
        _lm("外滩", 31.2400, 121.4900, "黄浦区", ("中山东一路", "滇池路", "北京东路"), 1.2),
        _lm(
            "新天地",
            31.2200,
            121.4750,
            "黄浦区",
            ("马当路", "太仓路", "黄陂南路", "兴业路"),
            2.0,
            _b("新天地时尚", "马当路", "245号"),
        ),
        _lm(
            "淮海中路",
            31.2180,
            121.4650,
            "黄浦区",
            ("淮海中路", "瑞金一路", "思南路"),
            2.0,
            _b("K11购物艺术中心", "淮海中路", "300号"),
            _b("香港广场", "淮海中路", "283号"),
        ),
        _lm(
            "豫园",
            31.2270,
            121.4920,
            "黄浦区",
            ("方浜中路", "福佑路", "人民路"),
            1.3,
            _b("豫园商城", "方浜中路", "269号"),
        ),
        _lm("老西门", 31.2160, 121.4840, "黄浦区", ("复兴东路", "中华路", "西藏南路"), 1.0),
        _lm(
            "打浦桥",
            31.2070,
            121.4720,
            "黄浦区",
            ("徐家汇路", "瑞金二路", "建国中路"),
            1.3,
            _b("日月光中心", "徐家汇路", "618号"),
        ),
        _lm("董家渡", 31.2160, 121.5000, "黄浦区", ("中山南路", "董家渡路", "外马路"), 0.8),
        # 静安区
        _lm(
            "南京西路",
            31.2290,
            121.4550,
            "静安区",
            ("南京西路", "吴江路", "石门一路", "威海路"),
            2.5,
            _b("恒隆广场", "南京西路", "1266号"),
            _b("中信泰富广场", "南京西路", "1168号"),
            _b("兴业太古汇", "南京西路", "789号"),
            _b("梅龙镇广场", "南京西路", "1038号"),
        ),
        _lm(
            "静安寺",
            31.2230,
            121.4450,
            "静安区",
            ("南京西路", "愚园路", "华山路", "常德路"),
            2.2,
            _b("久光百货", "南京西路", "1618号"),
            _b("芮欧百货", "南京西路", "1601号"),
            _b("静安嘉里中心", "南京西路", "1515号", _OFFICE),
        ),
        _lm("江宁路", 31.2370, 121.4470, "静安区", ("江宁路", "北京西路", "武定路"), 1.1),
        _lm("汉中路", 31.2420, 121.4590, "静安区", ("汉中路", "新闸路", "恒丰路"), 1.0),
        _lm(
            "大悦城",
            31.2440,
            121.4740,
            "静安区",
            ("西藏北路", "曲阜路", "海宁路"),
            1.5,
            _b("上海大悦城", "西藏北路", "166号"),
        ),
        _lm("不夜城", 31.2490, 121.4560, "静安区", ("天目西路", "秣陵路", "共和路"), 1.1),
        _lm("曹家渡", 31.2290, 121.4320, "静安区", ("万航渡路", "康定路", "余姚路"), 1.0),
        _lm("大宁", 31.2800, 121.4600, "静安区", ("共和新路", "广中西路", "大宁路"), 1.2),
        _lm("彭浦新村", 31.3050, 121.4490, "静安区", ("共和新路", "临汾路", "保德路"), 0.8),
        # 徐汇区
        _lm(
            "徐家汇",
            31.1950,
            121.4370,
            "徐汇区",
            ("肇嘉浜路", "漕溪北路", "虹桥路", "华山路"),
            2.5,
            _b("港汇恒隆广场", "虹桥路", "1号"),
            _b("美罗城", "肇嘉浜路", "1111号"),
            _b("太平洋百货", "衡山路", "932号"),
            _b("东方商厦", "漕溪北路", "8号"),
        ),
        _lm("衡山路", 31.2050, 121.4470, "徐汇区", ("衡山路", "东平路", "宝庆路"), 1.2),
        _lm(
            "陕西南路",
            31.2150,
            121.4590,
            "徐汇区",
            ("淮海中路", "陕西南路", "襄阳南路"),
            1.8,
            _b("环贸iapm", "淮海中路", "999号"),
        ),
        _lm("漕河泾", 31.1700, 121.4000, "徐汇区", ("宜山路", "漕宝路", "桂平路"), 1.0),
        _lm("龙华", 31.1740, 121.4500, "徐汇区", ("龙华中路", "龙华西路", "龙华路"), 0.9),
        _lm("上海南站", 31.1550, 121.4300, "徐汇区", ("沪闵路", "石龙路", "柳州路"), 0.8),
        _lm("徐汇滨江", 31.1800, 121.4600, "徐汇区", ("龙腾大道", "瑞宁路", "丰谷路"), 0.8),
        _lm("田林", 31.1790, 121.4250, "徐汇区", ("田林路", "钦州路", "宜山路"), 0.9),
        _lm("万体馆", 31.1840, 121.4390, "徐汇区", ("天钥桥路", "中山南二路", "零陵路"), 1.0),
        # 长宁区
        _lm(
            "中山公园",
            31.2200,
            121.4190,
            "长宁区",
            ("长宁路", "愚园路", "定西路", "凯旋路"),
            2.0,
            _b("龙之梦购物中心", "长宁路", "1018号"),
            _b("长宁来福士", "长宁路", "1139号"),
        ),
        _lm(
            "天山",
            31.2140,
            121.4010,
            "长宁区",
            ("天山路", "娄山关路", "遵义路"),
            1.4,
            _b("虹桥南丰城", "遵义路", "100号"),
        ),
        _lm("虹桥", 31.2040, 121.4080, "长宁区", ("仙霞路", "虹桥路", "延安西路"), 1.2),
        _lm("古北", 31.1980, 121.3980, "长宁区", ("古北路", "黄金城道", "红宝石路"), 1.0),
        _lm("北新泾", 31.2180, 121.3760, "长宁区", ("天山西路", "金钟路", "哈密路"), 0.8),
        _lm("新华路", 31.2040, 121.4260, "长宁区", ("新华路", "番禺路", "法华镇路"), 1.0),
        # 浦东新区
        _lm(
            "陆家嘴",
            31.2380,
            121.5020,
            "浦东新区",
            ("陆家嘴环路", "世纪大道", "银城中路", "陆家嘴西路"),
            2.5,
            _b("国金中心商场", "世纪大道", "8号"),
            _b("正大广场", "陆家嘴西路", "168号"),
        ),
        _lm(
            "八佰伴",
            31.2290,
            121.5140,
            "浦东新区",
            ("张杨路", "浦东南路", "崂山路"),
            2.0,
            _b("第一八佰伴", "张杨路", "501号"),
            _b("时代广场", "张杨路", "500号"),
        ),
        _lm("世纪公园", 31.2130, 121.5450, "浦东新区", ("锦绣路", "芳甸路", "花木路"), 1.0),
        _lm("塘桥", 31.2130, 121.5150, "浦东新区", ("浦东南路", "蓝村路", "塘桥新路"), 1.0),
        _lm(
            "张江",
            31.2040,
            121.5900,
            "浦东新区",
            ("张江路", "祖冲之路", "碧波路"),
            1.2,
            _b("张江长泰广场", "祖冲之路", "1239号"),
        ),
        _lm("金桥", 31.2600, 121.5900, "浦东新区", ("碧云路", "金桥路", "新金桥路"), 0.9),
        _lm(
            "世博园",
            31.1870,
            121.4950,
            "浦东新区",
            ("世博大道", "国展路", "长清北路"),
            1.0,
            _b("世博源", "世博大道", "1368号"),
        ),
        _lm(
            "前滩",
            31.1640,
            121.4690,
            "浦东新区",
            ("东育路", "海阳西路", "耀体路"),
            1.1,
            _b("前滩太古里", "东育路", "500号"),
        ),
        _lm("三林", 31.1470, 121.5100, "浦东新区", ("上南路", "三林路", "海阳路"), 0.8),
    ),
)

_PROFILES: dict[str, _CityProfile] = {"北京市": _BEIJING, "上海市": _SHANGHAI}


@dataclass(frozen=True)
class _Brand:
    brand: str
    name: str
    category: str
    weight: float  # relative number of branches
    top: bool  # member of the "top300" famous chain list
    cities: tuple[str, ...] = ()  # empty: nationwide


_BJ = ("北京市",)
_SH = ("上海市",)

_BRANDS: tuple[_Brand, ...] = (
    _Brand("海底捞", "海底捞火锅", "火锅", 3, True),
    _Brand("西贝", "西贝莜面村", "西北菜", 3, True),
    _Brand("喜茶", "喜茶", "茶饮", 4, True),
    _Brand("瑞幸", "瑞幸咖啡", "咖啡", 10, True),
    _Brand("星巴克", "星巴克", "咖啡", 8, True),
    _Brand("肯德基", "肯德基", "快餐", 7, True),
    _Brand("麦当劳", "麦当劳", "快餐", 6, True),
    _Brand("庆丰包子铺", "庆丰包子铺", "快餐", 4, True, _BJ),
    _Brand("呷哺呷哺", "呷哺呷哺", "火锅", 3, True),
    _Brand("眉州东坡", "眉州东坡", "川菜", 2, False),
    _Brand("全聚德", "全聚德", "北京菜", 1, True),
    _Brand("太二", "太二酸菜鱼", "川菜", 2, True),
    _Brand("华莱士", "华莱士", "快餐", 2, False),
    _Brand("蜜雪冰城", "蜜雪冰城", "茶饮", 5, True),
    _Brand("沙县小吃", "沙县小吃", "小吃", 5, False),
    _Brand("杨国福", "杨国福麻辣烫", "小吃", 4, True),
    _Brand("张亮", "张亮麻辣烫", "小吃", 3, False),
    _Brand("老乡鸡", "老乡鸡", "快餐", 2, True),
    _Brand("和府捞面", "和府捞面", "面馆", 2, False),
    _Brand("鼎泰丰", "鼎泰丰", "台湾菜", 1, False),
    _Brand("外婆家", "外婆家", "浙菜", 1, True),
    _Brand("绿茶", "绿茶餐厅", "浙菜", 1, False),
    _Brand("如家", "如家酒店", "酒店", 3, True),
    _Brand("汉庭", "汉庭酒店", "酒店", 3, True),
    _Brand("7天", "7天酒店", "酒店", 2, False),
    _Brand("全季", "全季酒店", "酒店", 2, True),
    _Brand("亚朵", "亚朵酒店", "酒店", 1, False),
    _Brand("锦江之星", "锦江之星", "酒店", 1, False),
    _Brand("良子健身", "良子健身", "足疗按摩", 2, False),
    _Brand("乐刻", "乐刻运动", "健身", 2, False),
    _Brand("超级猩猩", "超级猩猩", "健身", 1, False),
    _Brand("85度C", "85度C", "烘焙甜点", 2, False),
    _Brand("味多美", "味多美", "烘焙甜点", 3, False, _BJ),
    _Brand("好利来", "好利来", "烘焙甜点", 2, True),
    _Brand("稻香村", "稻香村", "烘焙甜点", 2, False, _BJ),
    _Brand("鲍师傅", "鲍师傅糕点", "烘焙甜点", 1, False),
    _Brand("奈雪的茶", "奈雪的茶", "茶饮", 2, True),
    _Brand("霸王茶姬", "霸王茶姬", "茶饮", 3, True),
    _Brand("茶百道", "茶百道", "茶饮", 2, True),
    _Brand("巴奴", "巴奴毛肚火锅", "火锅", 1, False),
    _Brand("小龙坎", "小龙坎火锅", "火锅", 1, False),
    _Brand("东来顺", "东来顺", "火锅", 1, True, _BJ),
    _Brand("南京大牌档", "南京大牌档", "江浙菜", 1, False),
    _Brand("云海肴", "云海肴", "云南菜", 1, False),
    _Brand("很久以前", "很久以前羊肉串", "烧烤", 1, False, _BJ),
    _Brand("木屋烧烤", "木屋烧烤", "烧烤", 1, False),
    _Brand("袁记云饺", "袁记云饺", "面馆", 2, False),
    _Brand("魏家凉皮", "魏家凉皮", "小吃", 1, False),
    _Brand("曼玲粥店", "曼玲粥店", "粥店", 1, False),
    _Brand("南城香", "南城香", "快餐", 3, False, _BJ),
    _Brand("护国寺小吃", "护国寺小吃", "小吃", 2, False, _BJ),
    _Brand("四季民福", "四季民福烤鸭店", "北京菜", 1, False, _BJ),
    _Brand("局气", "局气", "北京菜", 1, False, _BJ),
    _Brand("金鼎轩", "金鼎轩", "粤菜", 1, False, _BJ),
    _Brand("麦乐迪", "麦乐迪KTV", "KTV", 1, False, _BJ),
    _Brand("Manner", "Manner咖啡", "咖啡", 6, False, _SH),
    _Brand("小杨生煎", "小杨生煎", "小吃", 3, False, _SH),
    _Brand("老盛昌", "老盛昌汤包", "小吃", 2, False, _SH),
    _Brand("南翔馒头店", "南翔馒头店", "小吃", 1, False, _SH),
    _Brand("老娘舅", "老娘舅", "快餐", 2, False, _SH),
    _Brand("一兆韦德", "一兆韦德健身", "健身", 1, False, _SH),
    _Brand("必胜客", "必胜客", "西餐", 2, True),
    _Brand("汉堡王", "汉堡王", "快餐", 1, False),
    _Brand("库迪", "库迪咖啡", "咖啡", 3, False),
    _Brand("Tims", "Tims天好咖啡", "咖啡", 1, False),
    _Brand("吉野家", "吉野家", "快餐", 2, False),
    _Brand("真功夫", "真功夫", "快餐", 1, True),
    _Brand("永和大王", "永和大王", "快餐", 1, False),
    _Brand("喜家德", "喜家德虾仁水饺", "饺子", 2, False),
    _Brand("西少爷", "西少爷肉夹馍", "小吃", 1, False),
    _Brand("周黑鸭", "周黑鸭", "卤味", 2, True),
    _Brand("绝味", "绝味鸭脖", "卤味", 2, True),
    _Brand("点都德", "点都德", "粤菜", 1, False),
    _Brand("俏江南", "俏江南", "川菜", 1, False),
    _Brand("好乐迪", "好乐迪KTV", "KTV", 1, False),
    _Brand("纯K", "纯K", "KTV", 1, False),
    _Brand("永琪", "永琪美容美发", "美发", 1, False),
)

_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"

_WORDS: tuple[str, ...] = (
    "悦享",
    "鑫源",
    "福满",
    "顺兴",
    "聚福",
    "和顺",
    "吉祥",
    "兴隆",
    "佳味",
    "雅韵",
    "馨香",
    "品味",
    "尚品",
    "香满",
    "满堂",
    "禧悦",
    "乐享",
    "金街",
    "阳光",
    "时光",
    "拾光",
    "遇见",
    "初见",
    "小满",
    "半亩",
    "南山",
    "一品",
    "老街",
    "巷口",
    "街角",
    "青禾",
    "麦田",
    "暖阳",
    "星河",
    "云朵",
    "花间",
    "木子",
    "三味",
    "百味",
    "四季",
    "金鼎",
    "同福",
    "福临",
    "御品",
    "名匠",
    "匠心",
    "逸品",
    "优格",
)

_REGIONS: tuple[str, ...] = (
    "蓉城",
    "巴蜀",
    "湘里",
    "潮汕",
    "岭南",
    "江南",
    "西北",
    "东北",
    "山西",
    "云南",
    "贵州",
    "重庆",
    "新疆",
)

# Independent-shop categories: (category, weight, name templates, city restriction).
# Placeholders: {s} surname, {w} two-character word, {p} region, {lm} nearby landmark.
_INDIE_CATEGORIES: tuple[tuple[str, float, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "家常菜",
        10,
        (
            "{s}记家常菜",
            "老{s}家常菜",
            "{s}家小厨",
            "{w}家常菜",
            "{w}小馆",
            "{p}人家",
            "{s}姐私房菜",
            "{w}私房菜",
        ),
        (),
    ),
    ("川菜", 7, ("蓉城小馆", "{s}记川菜馆", "巴蜀人家", "{w}川菜馆", "川味{w}", "老{s}川菜", "渝味{w}"), ()),
    ("湘菜", 4, ("湘里人家", "{s}记湘菜馆", "{w}湘菜", "老{s}湘菜馆", "湘味{w}"), ()),
    (
        "面馆",
        7,
        ("兰州牛肉拉面", "{s}师傅牛肉面", "重庆小面", "{s}记面馆", "{w}面馆", "山西刀削面", "陕西油泼面"),
        (),
    ),
    ("小吃", 8, ("{s}记煎饼", "{s}记馄饨", "{p}小吃", "老{s}家包子铺", "{s}记肉夹馍", "{w}小吃店"), ()),
    ("快餐", 6, ("{s}记快餐", "{w}快餐", "{w}盖浇饭", "{s}记黄焖鸡米饭", "黄焖鸡米饭"), ()),
    ("烧烤", 5, ("{s}记烧烤", "老{s}烤串", "{w}串吧", "{p}烧烤", "{w}烤肉"), ()),
    ("火锅", 5, ("{w}老火锅", "{s}记铜锅涮肉", "重庆{w}火锅", "{s}记串串香", "潮汕牛肉火锅"), ()),
    ("粤菜", 2, ("{s}记烧腊", "{w}茶餐厅", "港式茶餐厅", "{w}粤菜馆"), ()),
    ("西北菜", 2, ("西北人家", "{s}记羊肉馆", "{w}新疆菜"), ()),
    ("东北菜", 3, ("东北人家", "{s}记东北菜馆", "老{s}东北饺子馆", "{w}东北菜"), ()),
    ("北京菜", 3, ("{s}记卤煮", "老北京炸酱面", "胡同{w}", "{w}京菜馆", "老{s}爆肚", "老北京涮肉"), _BJ),
    ("本帮菜", 3, ("{w}本帮菜", "老{s}本帮菜馆", "弄堂小馆", "{s}记生煎", "{s}记葱油拌面"), _SH),
    ("咖啡", 5, ("街角咖啡", "{w}咖啡", "{w}咖啡馆", "{lm}咖啡", "一隅咖啡", "拾光咖啡"), ()),
    ("茶饮", 3, ("{w}茶铺", "{w}鲜果茶", "{s}记奶茶"), ()),
    ("烘焙甜点", 3, ("{w}烘焙", "{s}记糕点", "{w}蛋糕坊", "{w}甜品"), ()),
    ("美发", 7, ("{w}发艺沙龙", "发艺沙龙", "{w}造型", "{s}师傅理发店", "{w}美发"), ()),
    ("美甲", 4, ("丽人美甲", "{w}美甲", "{w}美甲美睫"), ()),
    ("足疗按摩", 5, ("悦享足疗", "{w}足疗", "{w}养生会馆", "{s}氏推拿", "{w}盲人按摩"), ()),
    ("健身", 3, ("{w}健身", "{w}健身工作室", "{w}瑜伽", "{w}普拉提"), ()),
    ("KTV", 2, ("金街KTV", "{w}KTV", "{w}量贩式KTV"), ()),
    ("酒店", 3, ("{w}快捷酒店", "{w}宾馆", "{lm}{w}酒店", "{w}商务酒店", "{w}公寓酒店"), ()),
    ("便利店", 4, ("{w}便利店", "{s}记便民超市", "{w}超市"), ()),
    ("洗衣", 2, ("{w}洗衣", "{w}干洗店"), ()),
    ("宠物", 2, ("{w}宠物店", "{w}宠物医院"), ()),
    ("花店", 2, ("{w}花艺", "{w}鲜花店"), ()),
)

_MOBILE_PREFIXES: tuple[str, ...] = (
    *(f"13{d}" for d in range(10)),
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "170",
    "176",
    "177",
    "178",
    *(f"18{d}" for d in range(10)),
    "198",
    "199",
)

_SOURCE_CHANNELS: tuple[str, ...] = ("crawl", "bd", "partner", "self_submit")
_SOURCE_WEIGHTS: tuple[float, ...] = (60, 25, 10, 5)

_CHINESE_ORDINALS = "二三四五六七八九十"

# Categories that normally occupy their own building (no mall floor).
_STANDALONE_CATEGORIES = frozenset({"酒店"})
# Preferred mall floors by category.
_HIGH_FLOOR_CATEGORIES = frozenset({"KTV", "健身", "足疗按摩"})
_GROUND_FLOOR_CATEGORIES = frozenset({"咖啡", "茶饮", "烘焙甜点", "便利店", "卤味"})

_CHAIN_SHARE = 0.40
_SHARED_PHONE_SHARE = 0.03
_MAX_RADIUS_KM = 15.0
_KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LNG_EQUATOR = 111.320


# ---------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------


class _Generator:
    def __init__(self, rng: random.Random, profile: _CityProfile, centre: tuple[float, float]) -> None:
        self.rng = rng
        self.profile = profile
        self.centre_lat, self.centre_lng = centre
        self.km_per_deg_lng = _KM_PER_DEG_LNG_EQUATOR * math.cos(math.radians(self.centre_lat))
        self.landmarks = profile.landmarks
        # Landmark positions in km relative to the centre (x east, y north).
        self.lm_xy: list[tuple[float, float]] = [self._to_km(lm.lat, lm.lng) for lm in self.landmarks]
        # Cluster weights: dense near the centre, nothing beyond the maximum radius.
        self.lm_cluster_weights: list[float] = []
        for lm, (x, y) in zip(self.landmarks, self.lm_xy, strict=True):
            dist = math.hypot(x, y)
            self.lm_cluster_weights.append(
                0.0 if dist > _MAX_RADIUS_KM - 1 else lm.weight / (1.0 + dist / 7.0) ** 2
            )
        self.brands = [b for b in _BRANDS if not b.cities or profile.city in b.cities]
        self.brand_weights = [b.weight for b in self.brands]
        self.indie = [c for c in _INDIE_CATEGORIES if not c[3] or profile.city in c[3]]
        self.indie_weights = [c[1] for c in self.indie]
        # Fixed names ("兰州牛肉拉面") repeat in real life, but should not dominate.
        self.template_weights: dict[str, list[float]] = {
            c[0]: [1.0 if "{" in t else 0.25 for t in c[2]] for c in self.indie
        }
        self.used_branches: set[tuple[str, str]] = set()
        self.used_phones: set[str] = set()

    # -- geometry ----------------------------------------------------------

    def _to_km(self, lat: float, lng: float) -> tuple[float, float]:
        return (lng - self.centre_lng) * self.km_per_deg_lng, (lat - self.centre_lat) * _KM_PER_DEG_LAT

    def _to_deg(self, x: float, y: float) -> tuple[float, float]:
        return self.centre_lat + y / _KM_PER_DEG_LAT, self.centre_lng + x / self.km_per_deg_lng

    def _point(self) -> tuple[float, float]:
        """A point in km around the centre: landmark clusters plus a Gaussian background."""
        rng = self.rng
        for _ in range(20):
            r = rng.random()
            if r < 0.5:
                x0, y0 = rng.choices(self.lm_xy, weights=self.lm_cluster_weights)[0]
                x, y = x0 + rng.gauss(0.0, 0.6), y0 + rng.gauss(0.0, 0.6)
            elif r < 0.85:
                x, y = rng.gauss(0.0, 2.5), rng.gauss(0.0, 2.5)
            else:
                x, y = rng.gauss(0.0, 6.0), rng.gauss(0.0, 6.0)
            if math.hypot(x, y) <= _MAX_RADIUS_KM:
                return x, y
        return 0.0, 0.0  # practically unreachable

    def _ranked_landmarks(self, x: float, y: float) -> list[int]:
        dists = [(px - x) ** 2 + (py - y) ** 2 for px, py in self.lm_xy]
        return sorted(range(len(dists)), key=dists.__getitem__)

    def _nearest_landmark(self, x: float, y: float) -> int:
        best, best_d = 0, math.inf
        for i, (px, py) in enumerate(self.lm_xy):
            d = (px - x) ** 2 + (py - y) ** 2
            if d < best_d:
                best, best_d = i, d
        return best

    # -- attributes --------------------------------------------------------

    def _street_number(self) -> str:
        rng = self.rng
        n = rng.randint(1, 120) if rng.random() < 0.7 else rng.randint(121, 400)
        r = rng.random()
        if self.profile.area_code == "21" and r < 0.10:
            return f"{n}弄{rng.randint(1, 30)}号"
        if r < 0.08:
            return f"甲{n}号"
        if r < 0.11:
            return f"乙{n}号"
        return f"{n}号"

    def _mall_floor(self, category: str) -> str:
        rng = self.rng
        if category in _HIGH_FLOOR_CATEGORIES:
            return rng.choice(("4层", "5层", "6层", "B1层"))
        if category in _GROUND_FLOOR_CATEGORIES:
            return rng.choice(("1层", "1层", "B1层", "2层"))
        return rng.choices(("B1层", "1层", "2层", "3层", "4层", "5层"), weights=(3, 2, 2, 3, 3, 2))[0]

    def _office_floor(self, building_name: str) -> str:
        rng = self.rng
        r = rng.random()
        if building_name[-1].isascii():
            # "SOHO现代城B座1层" reads fine, "建外SOHOB座1层" / "银河SOHOB1层" do not.
            return rng.choice(("1层", "1层底商", "地下一层"))
        if r < 0.5:
            return f"{rng.choice('ABCD')}座1层"
        if r < 0.8:
            return "B1层"
        return "1层底商"

    def _place(self, lm: _Landmark, category: str, building_prob: float) -> tuple[str, _Building | None, str]:
        """Return (road, building-or-None, address tail after the district)."""
        rng = self.rng
        if lm.buildings and category not in _STANDALONE_CATEGORIES and rng.random() < building_prob:
            bld = rng.choice(lm.buildings)
            floor = self._mall_floor(category) if bld.kind == _MALL else self._office_floor(bld.name)
            return bld.road, bld, f"{bld.road}{bld.number}{bld.name}{floor}"
        road = rng.choice(lm.roads)
        suffix = rng.choices(("", "底商", "1层", "院内", "临街"), weights=(50, 22, 15, 5, 8))[0]
        if category in _STANDALONE_CATEGORIES:
            suffix = ""
        return road, None, f"{road}{self._street_number()}{suffix}"

    def _mobile(self) -> str:
        rng = self.rng
        return f"+86{rng.choice(_MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"

    def _landline(self) -> str:
        rng = self.rng
        first = rng.choice(self.profile.landline_first_digits)
        return f"+86{self.profile.area_code}{first}{rng.randrange(10**7):07d}"

    def _unique_phone(self, landline_prob: float) -> str:
        for _ in range(50):
            phone = self._landline() if self.rng.random() < landline_prob else self._mobile()
            if phone not in self.used_phones:
                self.used_phones.add(phone)
                return phone
        return phone  # pragma: no cover - astronomically unlikely

    def _source_channel(self) -> str:
        return self.rng.choices(_SOURCE_CHANNELS, weights=_SOURCE_WEIGHTS)[0]

    def _branch_name(
        self, brand: _Brand, x: float, y: float, lm_idx: int, road: str, bld: _Building | None
    ) -> str:
        """The nearest landmark's name, or a free variant if this brand already uses it."""
        lm = self.landmarks[lm_idx]
        candidates = [f"{lm.name}店"]
        if bld is not None:
            candidates.append(f"{bld.name}店")
        candidates.append(f"{road}店")
        second = self.landmarks[self._ranked_landmarks(x, y)[1]]
        candidates.append(f"{second.name}店")
        candidates.extend(f"{lm.name}{o}店" for o in _CHINESE_ORDINALS)
        candidates.extend(f"{road}{o}店" for o in _CHINESE_ORDINALS)
        for cand in candidates:
            if (brand.name, cand) not in self.used_branches:
                self.used_branches.add((brand.name, cand))
                return cand
        k = 11
        while (brand.name, f"{lm.name}{k}店") in self.used_branches:
            k += 1
        cand = f"{lm.name}{k}店"
        self.used_branches.add((brand.name, cand))
        return cand

    # -- POIs --------------------------------------------------------------

    def chain_poi(self) -> tuple[DemoPoi, _Building | None]:
        rng = self.rng
        brand = rng.choices(self.brands, weights=self.brand_weights)[0]
        x, y = self._point()
        lm_idx = self._nearest_landmark(x, y)
        lm = self.landmarks[lm_idx]
        road, bld, tail = self._place(lm, brand.category, 0.6)
        branch = self._branch_name(brand, x, y, lm_idx, road, bld)
        lat, lng = self._to_deg(x, y)
        return (
            DemoPoi(
                name=brand.name,
                branch_name=branch,
                brand=brand.brand,
                category=brand.category,
                address=f"{self.profile.city}{lm.district}{tail}",
                province=self.profile.province,
                city=self.profile.city,
                district=lm.district,
                phone=self._unique_phone(0.5),
                lat=round(lat, 6),
                lng=round(lng, 6),
                tags=("连锁", "top300") if brand.top else ("连锁",),
                source_channel=self._source_channel(),
            ),
            bld,
        )

    def indie_poi(self) -> tuple[DemoPoi, _Building | None]:
        rng = self.rng
        category, _, templates, _ = rng.choices(self.indie, weights=self.indie_weights)[0]
        x, y = self._point()
        lm = self.landmarks[self._nearest_landmark(x, y)]
        template = rng.choices(templates, weights=self.template_weights[category])[0]
        name = template.format(
            s=rng.choice(_SURNAMES), w=rng.choice(_WORDS), p=rng.choice(_REGIONS), lm=lm.name
        )
        _road, bld, tail = self._place(lm, category, 0.2)
        # A few small local "chains" of two or three shops name their outlets.
        branch = ""
        r = rng.random()
        if r < 0.02:
            branch = "总店"
        elif r < 0.04:
            branch = f"{lm.name}店"
        tags: tuple[str, ...] = ()
        if rng.random() < 0.10:
            tags += ("新店",)
        if rng.random() < 0.05:
            tags += ("有券",)
        lat, lng = self._to_deg(x, y)
        return (
            DemoPoi(
                name=name,
                branch_name=branch,
                brand="",
                category=category,
                address=f"{self.profile.city}{lm.district}{tail}",
                province=self.profile.province,
                city=self.profile.city,
                district=lm.district,
                phone=self._unique_phone(0.25),
                lat=round(lat, 6),
                lng=round(lng, 6),
                tags=tags,
                source_channel=self._source_channel(),
            ),
            bld,
        )

    def share_mall_phones(self, pois: list[DemoPoi], indie_buildings: dict[int, _Building]) -> None:
        """Let ~3% of independents in the same mall share the mall's switchboard landline."""
        rng = self.rng
        target = round(_SHARED_PHONE_SHARE * sum(1 for p in pois if not p.brand))
        by_mall: dict[str, list[int]] = {}
        for idx, bld in indie_buildings.items():
            if bld.kind == _MALL:
                by_mall.setdefault(bld.name, []).append(idx)
        groups = [idxs for idxs in by_mall.values() if len(idxs) >= 2]
        rng.shuffle(groups)
        remaining = target
        for idxs in groups:
            if remaining < 2:
                break
            size = min(len(idxs), rng.randint(2, 4), remaining)
            phone = self._unique_phone(1.0)
            for idx in rng.sample(idxs, size):
                pois[idx] = replace(pois[idx], phone=phone)
            remaining -= size


def generate_pois(n: int = 3000, *, seed: int = 2026, city: str = "北京市") -> list[DemoPoi]:
    """Generate exactly ``n`` demo POIs around ``city``'s centre, deterministically from ``seed``."""
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    profile = _PROFILES.get(city)
    if profile is None or city not in CITY_CENTRES:
        raise ValueError(f"unsupported city {city!r}; choose one of {', '.join(_PROFILES)}")
    # Mix the city into the seed so two cities of one tenant never share phone numbers.
    gen = _Generator(random.Random(f"{seed}:{city}"), profile, CITY_CENTRES[city])
    pois: list[DemoPoi] = []
    indie_buildings: dict[int, _Building] = {}
    for i in range(n):
        if gen.rng.random() < _CHAIN_SHARE:
            poi, _ = gen.chain_poi()
        else:
            poi, bld = gen.indie_poi()
            if bld is not None:
                indie_buildings[i] = bld
        pois.append(poi)
    gen.share_mall_phones(pois, indie_buildings)
    return pois


def main() -> None:
    for city in CITY_CENTRES:
        print(f"== {city} ==")
        for poi in generate_pois(10, city=city):
            branch = f" {poi.branch_name}" if poi.branch_name else ""
            tags = ",".join(poi.tags) or "-"
            print(
                f"{poi.name}{branch} [{poi.category}] {poi.address} {poi.phone} "
                f"({poi.lat:.5f},{poi.lng:.5f}) tags={tags} via={poi.source_channel}"
            )


if __name__ == "__main__":
    main()
