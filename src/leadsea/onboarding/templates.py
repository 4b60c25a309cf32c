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


DEFAULT_STAGE_ROWS = [(k, zh, en, str(kind), p) for k, zh, en, kind, p in DEFAULT_STAGES]

BRAND = {
    "key": "brand",
    "label_zh": "品牌",
    "label_en": "Brand",
    "kind": "lead_type",
    "description": "连锁品牌（总部）/ A chain (its head office)",
    "display_field": "brand_name",
    "fields": [
        {
            "key": "brand_name",
            "label_zh": "品牌名",
            "label_en": "Brand name",
            "field_type": "text",
            "required": True,
        },
        {
            "key": "store_count",
            "label_zh": "门店数",
            "label_en": "Stores",
            "field_type": "number",
            "min_value": 0,
        },
        {
            "key": "hq_contact_phone",
            "label_zh": "总部联系电话",
            "label_en": "Head office phone",
            "field_type": "phone",
        },
    ],
}


def _store(extra: list[dict[str, Any]]) -> dict[str, Any]:
    """A store belongs to a brand: the `brand` reference field is the relation."""
    return {
        "key": "store",
        "label_zh": "门店",
        "label_en": "Store",
        "kind": "lead_type",
        "description": "门店，隶属于品牌 / A store, belongs to a brand",
        "display_field": "",
        "fields": [
            {
                "key": "brand",
                "label_zh": "所属品牌",
                "label_en": "Brand",
                "field_type": "reference",
                "target": "brand",
                "help_text": "门店隶属的品牌 / The brand this store belongs to",
            },
            *extra,
        ],
    }


GROUP_BUYING: dict[str, Any] = {
    "key": "group_buying",
    "label_zh": "团购",
    "label_en": "Group buying",
    "description_zh": "到店餐饮、丽人、休闲娱乐的团购业务：品类、人均、头部商户、竞对合作。",
    "description_en": "Group-buying deals for restaurants, beauty and leisure: category, average spend, head "
    "merchants, competitor partnerships.",
    "visit_radius_m": 300,
    "pool_policy": {
        "claim_limit": 200,
        "daily_claim_limit": 50,
        "protection_days": 45,
        "no_visit_days": 15,
        "no_progress_days": 30,
        "reclaim_cooldown_days": 7,
    },
    "stages": _stages(DEFAULT_STAGE_ROWS),
    "lost_reasons": _reasons(DEFAULT_LOST_REASONS),
    "lead_fields": [
        {
            "key": "business_category",
            "label_zh": "经营品类",
            "label_en": "Business category",
            "field_type": "choice",
            "choices": _choices(
                ("food", "餐饮", "Food"),
                ("beauty", "丽人", "Beauty"),
                ("leisure", "休闲娱乐", "Leisure"),
                ("family", "亲子", "Family"),
                ("wedding", "结婚", "Wedding"),
            ),
        },
        {
            "key": "avg_spend",
            "label_zh": "人均消费",
            "label_en": "Average spend",
            "field_type": "money",
            "min_value": 0,
        },
        {
            "key": "head_merchant",
            "label_zh": "头部商户",
            "label_en": "Head merchant",
            "field_type": "boolean",
        },
        {
            "key": "competitor_partners",
            "label_zh": "合作竞对",
            "label_en": "Competitor partners",
            "field_type": "multi_choice",
            "choices": _choices(
                ("dianping", "点评", "Dianping"),
                ("douyin", "抖音", "Douyin"),
                ("kuaishou", "快手", "Kuaishou"),
            ),
        },
        {
            "key": "monthly_orders",
            "label_zh": "月订单量",
            "label_en": "Monthly orders",
            "field_type": "number",
            "min_value": 0,
        },
    ],
    "object_types": [
        BRAND,
        _store(
            [
                {
                    "key": "seats",
                    "label_zh": "座位数",
                    "label_en": "Seats",
                    "field_type": "number",
                    "min_value": 0,
                }
            ]
        ),
        {
            "key": "deal_package",
            "label_zh": "团购套餐",
            "label_en": "Deal package",
            "kind": "custom",
            "description": "门店上线的团购套餐 / A deal package sold by a store",
            "display_field": "title",
            "fields": [
                {
                    "key": "title",
                    "label_zh": "套餐名",
                    "label_en": "Title",
                    "field_type": "text",
                    "required": True,
                },
                {
                    "key": "store",
                    "label_zh": "门店",
                    "label_en": "Store",
                    "field_type": "reference",
                    "target": "lead",
                },
                {
                    "key": "price",
                    "label_zh": "售价",
                    "label_en": "Price",
                    "field_type": "money",
                    "min_value": 0,
                },
                {
                    "key": "original_price",
                    "label_zh": "原价",
                    "label_en": "Original price",
                    "field_type": "money",
                    "min_value": 0,
                },
                {
                    "key": "valid_until",
                    "label_zh": "有效期至",
                    "label_en": "Valid until",
                    "field_type": "date",
                },
            ],
        },
    ],
    "modules": {"pool": True, "visits": True, "operations": True, "tasks": True, "intake": True},
    "lead_sections": {},
}

HOTEL: dict[str, Any] = {
    "key": "hotel",
    "label_zh": "酒店",
    "label_en": "Hotel",
    "description_zh": "酒店与民宿业务：星级、房量、间夜量、平均房价、OTA 合作；酒店集团与旗下酒店、房型。",
    "description_en": "Hotels and homestays: star rating, rooms, room nights, average daily rate, "
    "OTA partners; "
    "hotel groups with their hotels, room types.",
    "visit_radius_m": 500,
    "pool_policy": {
        "claim_limit": 80,
        "daily_claim_limit": 20,
        "protection_days": 60,
        "no_visit_days": 20,
        "no_progress_days": 45,
        "reclaim_cooldown_days": 14,
    },
    "stages": _stages(
        [
            ("contact", "初步接触", "First contact", "open", 10),
            ("site_inspection", "实地考察", "Site inspection", "open", 30),
            ("rate_negotiation", "房价谈判", "Rate negotiation", "open", 55),
            ("contract", "合同签署", "Contract", "open", 80),
            ("online", "已上线", "Online", "won", 100),
            ("lost", "输单", "Lost", "lost", 0),
        ]
    ),
    "lost_reasons": _reasons(
        [
            ("commission", "佣金比例不合适", "Commission rate"),
            ("ota_exclusive", "已与其他 OTA 独家合作", "Exclusive with another OTA"),
            ("renovation", "酒店装修停业", "Closed for renovation"),
            ("unreachable", "联系不上关键人", "Key person unreachable"),
            ("other", "其他", "Other"),
        ]
    ),
    "lead_fields": [
        {
            "key": "star_rating",
            "label_zh": "星级",
            "label_en": "Star rating",
            "field_type": "choice",
            "choices": _choices(
                ("1", "一星", "1 star"),
                ("2", "二星/经济型", "2 stars / economy"),
                ("3", "三星/舒适型", "3 stars / comfort"),
                ("4", "四星/高档型", "4 stars / upscale"),
                ("5", "五星/豪华型", "5 stars / luxury"),
            ),
        },
        {
            "key": "hotel_type",
            "label_zh": "酒店类型",
            "label_en": "Hotel type",
            "field_type": "choice",
            "choices": _choices(
                ("chain", "连锁酒店", "Chain hotel"),
                ("independent", "单体酒店", "Independent hotel"),
                ("homestay", "民宿", "Homestay"),
                ("apartment", "公寓", "Serviced apartment"),
            ),
        },
        {
            "key": "room_count",
            "label_zh": "房间数",
            "label_en": "Rooms",
            "field_type": "number",
            "min_value": 0,
        },
        {
            "key": "monthly_room_nights",
            "label_zh": "月间夜量",
            "label_en": "Room nights per month",
            "field_type": "number",
            "min_value": 0,
            "help_text": "近 30 天在本平台售出的间夜数 / Room nights sold on the platform in the last "
            "30 days",
        },
        {
            "key": "avg_daily_rate",
            "label_zh": "平均房价",
            "label_en": "Average daily rate",
            "field_type": "money",
            "min_value": 0,
        },
        {
            "key": "ota_partners",
            "label_zh": "合作 OTA",
            "label_en": "OTA partners",
            "field_type": "multi_choice",
            "choices": _choices(
                ("ctrip", "携程", "Trip.com"),
                ("fliggy", "飞猪", "Fliggy"),
                ("booking", "缤客", "Booking.com"),
                ("qunar", "去哪儿", "Qunar"),
            ),
        },
        {
            "key": "front_desk_phone",
            "label_zh": "前台电话",
            "label_en": "Front desk phone",
            "field_type": "phone",
        },
        {"key": "opened_on", "label_zh": "开业日期", "label_en": "Opened on", "field_type": "date"},
    ],
    "object_types": [
        {
            "key": "hotel_group",
            "label_zh": "酒店集团",
            "label_en": "Hotel group",
            "kind": "lead_type",
            "description": "酒店集团或连锁品牌 / A hotel group or chain",
            "display_field": "group_name",
            "fields": [
                {
                    "key": "group_name",
                    "label_zh": "集团名",
                    "label_en": "Group name",
                    "field_type": "text",
                    "required": True,
                },
                {
                    "key": "hotel_count",
                    "label_zh": "旗下酒店数",
                    "label_en": "Hotels",
                    "field_type": "number",
                },
            ],
        },
        {
            "key": "hotel",
            "label_zh": "酒店",
            "label_en": "Hotel",
            "kind": "lead_type",
            "description": "单家酒店，可隶属于酒店集团 / A hotel, may belong to a hotel group",
            "display_field": "",
            "fields": [
                {
                    "key": "hotel_group",
                    "label_zh": "所属集团",
                    "label_en": "Hotel group",
                    "field_type": "reference",
                    "target": "hotel_group",
                },
                {
                    "key": "room_nights_last_year",
                    "label_zh": "去年间夜量",
                    "label_en": "Room nights last year",
                    "field_type": "number",
                    "min_value": 0,
                },
                {
                    "key": "occupancy_rate",
                    "label_zh": "入住率(%)",
                    "label_en": "Occupancy rate (%)",
                    "field_type": "decimal",
                    "min_value": 0,
                    "max_value": 100,
                },
            ],
        },
        {
            "key": "room_type",
            "label_zh": "房型",
            "label_en": "Room type",
            "kind": "custom",
            "description": "酒店的房型与价格 / A hotel's room types and rates",
            "display_field": "name",
            "fields": [
                {
                    "key": "name",
                    "label_zh": "房型名",
                    "label_en": "Name",
                    "field_type": "text",
                    "required": True,
                },
                {
                    "key": "hotel",
                    "label_zh": "酒店",
                    "label_en": "Hotel",
                    "field_type": "reference",
                    "target": "lead",
                },
                {
                    "key": "bed_type",
                    "label_zh": "床型",
                    "label_en": "Bed type",
                    "field_type": "choice",
                    "choices": _choices(
                        ("king", "大床", "King"), ("twin", "双床", "Twin"), ("family", "家庭房", "Family")
                    ),
                },
                {
                    "key": "rooms",
                    "label_zh": "间数",
                    "label_en": "Rooms",
                    "field_type": "number",
                    "min_value": 0,
                },
                {"key": "base_rate", "label_zh": "门市价", "label_en": "Rack rate", "field_type": "money"},
            ],
        },
    ],
    "modules": {"pool": True, "visits": True, "operations": True, "tasks": True, "intake": True},
    "lead_sections": {},
}

FOOD_DELIVERY: dict[str, Any] = {
    "key": "food_delivery",
    "label_zh": "外卖",
    "label_en": "Food delivery",
    "description_zh": "外卖业务：菜系、配送范围、客单价、日单量、自配送；品牌与门店。",
    "description_en": "Food delivery: cuisine, delivery range, order value, daily orders, own riders; brands "
    "and their stores.",
    "visit_radius_m": 200,
    "pool_policy": {
        "claim_limit": 150,
        "daily_claim_limit": 40,
        "protection_days": 30,
        "no_visit_days": 10,
        "no_progress_days": 20,
        "reclaim_cooldown_days": 7,
    },
    "stages": _stages(
        [
            ("contact", "初步接触", "First contact", "open", 10),
            ("menu_collected", "菜单采集", "Menu collected", "open", 40),
            ("contract", "合同签署", "Contract", "open", 75),
            ("store_online", "门店上线", "Store online", "won", 100),
            ("lost", "输单", "Lost", "lost", 0),
        ]
    ),
    "lost_reasons": _reasons(
        [
            ("commission", "佣金或配送费不合适", "Commission or delivery fee"),
            ("competitor", "已与竞对独家合作", "Exclusive with a competitor"),
            ("no_license", "缺少食品经营许可证", "No food business licence"),
            ("closed", "门店已关闭", "Store closed"),
            ("other", "其他", "Other"),
        ]
    ),
    "lead_fields": [
        {
            "key": "cuisine",
            "label_zh": "菜系",
            "label_en": "Cuisine",
            "field_type": "choice",
            "choices": _choices(
                ("chinese", "中餐", "Chinese"),
                ("fast_food", "快餐简餐", "Fast food"),
                ("tea", "奶茶饮品", "Tea and drinks"),
                ("bakery", "甜点烘焙", "Bakery"),
                ("western", "西餐", "Western"),
            ),
        },
        {
            "key": "delivery_range_km",
            "label_zh": "配送范围(公里)",
            "label_en": "Delivery range (km)",
            "field_type": "decimal",
            "min_value": 0,
            "max_value": 20,
        },
        {
            "key": "avg_order_value",
            "label_zh": "客单价",
            "label_en": "Average order value",
            "field_type": "money",
        },
        {
            "key": "daily_orders",
            "label_zh": "日单量",
            "label_en": "Orders per day",
            "field_type": "number",
            "min_value": 0,
        },
        {"key": "own_riders", "label_zh": "自配送", "label_en": "Own riders", "field_type": "boolean"},
        {
            "key": "food_licence_no",
            "label_zh": "食品经营许可证号",
            "label_en": "Food licence number",
            "field_type": "text",
            "max_length": 40,
        },
    ],
    "object_types": [
        BRAND,
        _store(
            [
                {
                    "key": "kitchen_type",
                    "label_zh": "门店形态",
                    "label_en": "Kitchen type",
                    "field_type": "choice",
                    "choices": _choices(
                        ("dine_in", "堂食+外卖", "Dine-in and delivery"),
                        ("delivery_only", "纯外卖", "Delivery only"),
                    ),
                }
            ]
        ),
    ],
    "modules": {"pool": True, "visits": True, "operations": True, "tasks": True, "intake": True},
    "lead_sections": {},
}

BLANK: dict[str, Any] = {
    "key": "blank",
    "label_zh": "空白",
    "label_en": "Blank",
    "description_zh": "从空白开始：默认阶段、输单原因和公海规则，没有自定义字段和对象。",
    "description_en": "Start blank: the default stages, lost reasons and pool rules; "
    "no custom fields or objects.",
    "visit_radius_m": 300,
    "pool_policy": {},
    "stages": _stages(DEFAULT_STAGE_ROWS),
    "lost_reasons": _reasons(DEFAULT_LOST_REASONS),
    "lead_fields": [],
    "object_types": [],
    "modules": {},
    "lead_sections": {},
}

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
