"""Business templates as data: what a new business line starts with (lead fields, lead types and custom
objects with their relations, stages, lost reasons, pool rules, visit radius, modules). The wizard, the API
and `leadsea onboard` show a template's content and apply it after the admin's adjustments."""

from __future__ import annotations

import copy
from typing import Any

from leadsea.pipeline.services import DEFAULT_LOST_REASONS, DEFAULT_STAGES


def _stages(rows: list[tuple[str, str, str, str, int]]) -> list[dict[str, Any]]:
    return [
        {"key": k, "name_zh": zh, "name_en": en, "kind": kind, "probability": p}
        for k, zh, en, kind, p in rows
    ]


def _reasons(rows: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    return [{"key": k, "label_zh": zh, "label_en": en} for k, zh, en in rows]


def _choices(*rows: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"value": v, "label_zh": zh, "label_en": en} for v, zh, en in rows]


def _field(key: str, label_zh: str, label_en: str, field_type: str, **options: Any) -> dict[str, Any]:
    """A field definition: what every field has, then its own options (required, min_value, choices, ...)."""
    return {"key": key, "label_zh": label_zh, "label_en": label_en, "field_type": field_type, **options}


def _object(
    key: str,
    label_zh: str,
    label_en: str,
    *,
    kind: str,
    description: str,
    display_field: str = "",
    fields: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "key": key,
        "label_zh": label_zh,
        "label_en": label_en,
        "kind": kind,
        "description": description,
        "display_field": display_field,
        "fields": fields,
    }


DEFAULT_STAGE_ROWS = [(k, zh, en, str(kind), p) for k, zh, en, kind, p in DEFAULT_STAGES]
_ALL_MODULES_ON = {"pool": True, "visits": True, "operations": True, "tasks": True, "intake": True}


def _template(
    key: str,
    label_zh: str,
    label_en: str,
    *,
    description_zh: str,
    description_en: str,
    visit_radius_m: int = 300,
    pool_policy: dict[str, int] | None = None,
    stages: list[tuple[str, str, str, str, int]] = DEFAULT_STAGE_ROWS,
    lost_reasons: list[tuple[str, str, str]] = DEFAULT_LOST_REASONS,
    lead_fields: list[dict[str, Any]] | None = None,
    object_types: list[dict[str, Any]] | None = None,
    modules: dict[str, bool] = _ALL_MODULES_ON,
) -> dict[str, Any]:
    """A template: each one states what differs from the default stages, lost reasons, pool rules (the
    tenant defaults when empty), visit radius and modules (all on); none has lead-page sections yet."""
    return {
        "key": key,
        "label_zh": label_zh,
        "label_en": label_en,
        "description_zh": description_zh,
        "description_en": description_en,
        "visit_radius_m": visit_radius_m,
        "pool_policy": dict(pool_policy or {}),
        "stages": _stages(stages),
        "lost_reasons": _reasons(lost_reasons),
        "lead_fields": list(lead_fields or []),
        "object_types": list(object_types or []),
        "modules": dict(modules),
        "lead_sections": {},
    }


BRAND = _object(
    "brand",
    "品牌",
    "Brand",
    kind="lead_type",
    description="连锁品牌（总部）/ A chain (its head office)",
    display_field="brand_name",
    fields=[
        _field("brand_name", "品牌名", "Brand name", "text", required=True),
        _field("store_count", "门店数", "Stores", "number", min_value=0),
        _field("hq_contact_phone", "总部联系电话", "Head office phone", "phone"),
    ],
)


def _store(extra: list[dict[str, Any]]) -> dict[str, Any]:
    """A store belongs to a brand: the `brand` reference field is the relation."""
    return _object(
        "store",
        "门店",
        "Store",
        kind="lead_type",
        description="门店，隶属于品牌 / A store, belongs to a brand",
        fields=[
            _field(
                "brand",
                "所属品牌",
                "Brand",
                "reference",
                target="brand",
                help_text="门店隶属的品牌 / The brand this store belongs to",
            ),
            *extra,
        ],
    )


GROUP_BUYING = _template(
    "group_buying",
    "团购",
    "Group buying",
    description_zh="到店餐饮、丽人、休闲娱乐的团购业务：品类、人均、头部商户、竞对合作。",
    description_en="Group-buying deals for restaurants, beauty and leisure: category, average spend, head "
    "merchants, competitor partnerships.",
    pool_policy=dict(
        claim_limit=200,
        daily_claim_limit=50,
        protection_days=45,
        no_visit_days=15,
        no_progress_days=30,
        reclaim_cooldown_days=7,
    ),
    lead_fields=[
        _field(
            "business_category",
            "经营品类",
            "Business category",
            "choice",
            choices=_choices(
                ("food", "餐饮", "Food"),
                ("beauty", "丽人", "Beauty"),
                ("leisure", "休闲娱乐", "Leisure"),
                ("family", "亲子", "Family"),
                ("wedding", "结婚", "Wedding"),
            ),
        ),
        _field("avg_spend", "人均消费", "Average spend", "money", min_value=0),
        _field("head_merchant", "头部商户", "Head merchant", "boolean"),
        _field(
            "competitor_partners",
            "合作竞对",
            "Competitor partners",
            "multi_choice",
            choices=_choices(
                ("dianping", "点评", "Dianping"),
                ("douyin", "抖音", "Douyin"),
                ("kuaishou", "快手", "Kuaishou"),
            ),
        ),
        _field("monthly_orders", "月订单量", "Monthly orders", "number", min_value=0),
    ],
    object_types=[
        BRAND,
        _store([_field("seats", "座位数", "Seats", "number", min_value=0)]),
        _object(
            "deal_package",
            "团购套餐",
            "Deal package",
            kind="custom",
            description="门店上线的团购套餐 / A deal package sold by a store",
            display_field="title",
            fields=[
                _field("title", "套餐名", "Title", "text", required=True),
                _field("store", "门店", "Store", "reference", target="lead"),
                _field("price", "售价", "Price", "money", min_value=0),
                _field("original_price", "原价", "Original price", "money", min_value=0),
                _field("valid_until", "有效期至", "Valid until", "date"),
            ],
        ),
    ],
)

HOTEL = _template(
    "hotel",
    "酒店",
    "Hotel",
    description_zh="酒店与民宿业务：星级、房量、间夜量、平均房价、OTA 合作；酒店集团与旗下酒店、房型。",
    description_en="Hotels and homestays: star rating, rooms, room nights, average daily rate, OTA partners; "
    "hotel groups with their hotels, room types.",
    visit_radius_m=500,
    pool_policy=dict(
        claim_limit=80,
        daily_claim_limit=20,
        protection_days=60,
        no_visit_days=20,
        no_progress_days=45,
        reclaim_cooldown_days=14,
    ),
    stages=[
        ("contact", "初步接触", "First contact", "open", 10),
        ("site_inspection", "实地考察", "Site inspection", "open", 30),
        ("rate_negotiation", "房价谈判", "Rate negotiation", "open", 55),
        ("contract", "合同签署", "Contract", "open", 80),
        ("online", "已上线", "Online", "won", 100),
        ("lost", "输单", "Lost", "lost", 0),
    ],
    lost_reasons=[
        ("commission", "佣金比例不合适", "Commission rate"),
        ("ota_exclusive", "已与其他 OTA 独家合作", "Exclusive with another OTA"),
        ("renovation", "酒店装修停业", "Closed for renovation"),
        ("unreachable", "联系不上关键人", "Key person unreachable"),
        ("other", "其他", "Other"),
    ],
    lead_fields=[
        _field(
            "star_rating",
            "星级",
            "Star rating",
            "choice",
            choices=_choices(
                ("1", "一星", "1 star"),
                ("2", "二星/经济型", "2 stars / economy"),
                ("3", "三星/舒适型", "3 stars / comfort"),
                ("4", "四星/高档型", "4 stars / upscale"),
                ("5", "五星/豪华型", "5 stars / luxury"),
            ),
        ),
        _field(
            "hotel_type",
            "酒店类型",
            "Hotel type",
            "choice",
            choices=_choices(
                ("chain", "连锁酒店", "Chain hotel"),
                ("independent", "单体酒店", "Independent hotel"),
                ("homestay", "民宿", "Homestay"),
                ("apartment", "公寓", "Serviced apartment"),
            ),
        ),
        _field("room_count", "房间数", "Rooms", "number", min_value=0),
        _field(
            "monthly_room_nights",
            "月间夜量",
            "Room nights per month",
            "number",
            min_value=0,
            help_text="近 30 天在本平台售出的间夜数 / Room nights sold on the platform in the last 30 days",
        ),
        _field("avg_daily_rate", "平均房价", "Average daily rate", "money", min_value=0),
        _field(
            "ota_partners",
            "合作 OTA",
            "OTA partners",
            "multi_choice",
            choices=_choices(
                ("ctrip", "携程", "Trip.com"),
                ("fliggy", "飞猪", "Fliggy"),
                ("booking", "缤客", "Booking.com"),
                ("qunar", "去哪儿", "Qunar"),
            ),
        ),
        _field("front_desk_phone", "前台电话", "Front desk phone", "phone"),
        _field("opened_on", "开业日期", "Opened on", "date"),
    ],
    object_types=[
        _object(
            "hotel_group",
            "酒店集团",
            "Hotel group",
            kind="lead_type",
            description="酒店集团或连锁品牌 / A hotel group or chain",
            display_field="group_name",
            fields=[
                _field("group_name", "集团名", "Group name", "text", required=True),
                _field("hotel_count", "旗下酒店数", "Hotels", "number"),
            ],
        ),
        _object(
            "hotel",
            "酒店",
            "Hotel",
            kind="lead_type",
            description="单家酒店，可隶属于酒店集团 / A hotel, may belong to a hotel group",
            fields=[
                _field("hotel_group", "所属集团", "Hotel group", "reference", target="hotel_group"),
                _field("room_nights_last_year", "去年间夜量", "Room nights last year", "number", min_value=0),
                _field(
                    "occupancy_rate",
                    "入住率(%)",
                    "Occupancy rate (%)",
                    "decimal",
                    min_value=0,
                    max_value=100,
                ),
            ],
        ),
        _object(
            "room_type",
            "房型",
            "Room type",
            kind="custom",
            description="酒店的房型与价格 / A hotel's room types and rates",
            display_field="name",
            fields=[
                _field("name", "房型名", "Name", "text", required=True),
                _field("hotel", "酒店", "Hotel", "reference", target="lead"),
                _field(
                    "bed_type",
                    "床型",
                    "Bed type",
                    "choice",
                    choices=_choices(
                        ("king", "大床", "King"), ("twin", "双床", "Twin"), ("family", "家庭房", "Family")
                    ),
                ),
                _field("rooms", "间数", "Rooms", "number", min_value=0),
                _field("base_rate", "门市价", "Rack rate", "money"),
            ],
        ),
    ],
)

FOOD_DELIVERY = _template(
    "food_delivery",
    "外卖",
    "Food delivery",
    description_zh="外卖业务：菜系、配送范围、客单价、日单量、自配送；品牌与门店。",
    description_en="Food delivery: cuisine, delivery range, order value, daily orders, own riders; brands "
    "and their stores.",
    visit_radius_m=200,
    pool_policy=dict(
        claim_limit=150,
        daily_claim_limit=40,
        protection_days=30,
        no_visit_days=10,
        no_progress_days=20,
        reclaim_cooldown_days=7,
    ),
    stages=[
        ("contact", "初步接触", "First contact", "open", 10),
        ("menu_collected", "菜单采集", "Menu collected", "open", 40),
        ("contract", "合同签署", "Contract", "open", 75),
        ("store_online", "门店上线", "Store online", "won", 100),
        ("lost", "输单", "Lost", "lost", 0),
    ],
    lost_reasons=[
        ("commission", "佣金或配送费不合适", "Commission or delivery fee"),
        ("competitor", "已与竞对独家合作", "Exclusive with a competitor"),
        ("no_license", "缺少食品经营许可证", "No food business licence"),
        ("closed", "门店已关闭", "Store closed"),
        ("other", "其他", "Other"),
    ],
    lead_fields=[
        _field(
            "cuisine",
            "菜系",
            "Cuisine",
            "choice",
            choices=_choices(
                ("chinese", "中餐", "Chinese"),
                ("fast_food", "快餐简餐", "Fast food"),
                ("tea", "奶茶饮品", "Tea and drinks"),
                ("bakery", "甜点烘焙", "Bakery"),
                ("western", "西餐", "Western"),
            ),
        ),
        _field(
            "delivery_range_km",
            "配送范围(公里)",
            "Delivery range (km)",
            "decimal",
            min_value=0,
            max_value=20,
        ),
        _field("avg_order_value", "客单价", "Average order value", "money"),
        _field("daily_orders", "日单量", "Orders per day", "number", min_value=0),
        _field("own_riders", "自配送", "Own riders", "boolean"),
        _field("food_licence_no", "食品经营许可证号", "Food licence number", "text", max_length=40),
    ],
    object_types=[
        BRAND,
        _store(
            [
                _field(
                    "kitchen_type",
                    "门店形态",
                    "Kitchen type",
                    "choice",
                    choices=_choices(
                        ("dine_in", "堂食+外卖", "Dine-in and delivery"),
                        ("delivery_only", "纯外卖", "Delivery only"),
                    ),
                )
            ]
        ),
    ],
)

BLANK = _template(
    "blank",
    "空白",
    "Blank",
    description_zh="从空白开始：默认阶段、输单原因和公海规则，没有自定义字段和对象。",
    description_en="Start blank: the default stages, lost reasons and pool rules; "
    "no custom fields or objects.",
    modules={},
)

TEMPLATES: dict[str, dict[str, Any]] = {t["key"]: t for t in (GROUP_BUYING, HOTEL, FOOD_DELIVERY, BLANK)}
# What a spec may adjust: these keys, given in a spec, replace the template's.
CONTENT_KEYS = (
    "visit_radius_m",
    "pool_policy",
    "stages",
    "lost_reasons",
    "lead_fields",
    "object_types",
    "modules",
    "lead_sections",
)


def template_keys() -> list[str]:
    return list(TEMPLATES)


def template_content(key: str) -> dict[str, Any] | None:
    """A deep copy of a template's content (the caller may adjust it), or None for an unknown key."""
    template = TEMPLATES.get(key)
    return copy.deepcopy(template) if template is not None else None


def template_label(template: dict[str, Any], language: str | None) -> str:
    return template["label_en"] if (language or "").startswith("en") else template["label_zh"]


def template_description(template: dict[str, Any], language: str | None) -> str:
    return template["description_en"] if (language or "").startswith("en") else template["description_zh"]
