"""Fictional reference data of the demo distributor: channels, regions, brands, price
bands, the CRM tier scheme and the rates that drive the simulation.

Nothing here is a real shop or a real cigarette brand.
"""

from __future__ import annotations

import numpy as np

# --- customers: channels, names, regions, order weekdays -----------------------------
CHANNELS = ("便利店", "超市", "烟酒店", "食杂店", "娱乐餐饮")
CHANNEL_SHARE = np.array([0.25, 0.10, 0.22, 0.33, 0.10])
# Shift of the volume band by channel (supermarkets and tobacco shops sell more).
CHANNEL_VOLUME_SHIFT = np.array([0.0, 1.5, 1.0, -0.7, -0.5])
# Probability of the low / mid / high average-price band by channel.
CHANNEL_PRICE_MIX = np.array(
    [
        [0.30, 0.45, 0.25],
        [0.30, 0.45, 0.25],
        [0.15, 0.40, 0.45],
        [0.55, 0.35, 0.10],
        [0.20, 0.40, 0.40],
    ]
)
CHANNEL_NAME_SUFFIX = {
    "便利店": ("便利店", "便利店", "便民店", "24小时便利店"),
    "超市": ("超市", "购物中心", "生活超市", "平价超市"),
    "烟酒店": ("烟酒店", "烟酒行", "名烟名酒", "烟酒商行"),
    "食杂店": ("食杂店", "商店", "小卖部", "副食店"),
    "娱乐餐饮": ("饭店", "酒楼", "茶楼", "KTV", "农家乐", "宾馆"),
}
NAME_PREFIXES = (
    "鑫源",
    "福来",
    "顺达",
    "金鼎",
    "宏发",
    "隆盛",
    "家和",
    "万佳",
    "百姓",
    "老街",
    "幸福",
    "阳光",
    "如意",
    "吉祥",
    "永盛",
    "嘉禾",
    "和顺",
    "兴旺",
    "惠民",
    "利民",
    "恒通",
    "康乐",
    "东方",
    "明珠",
    "春风",
    "福满",
    "祥瑞",
    "聚源",
    "德润",
    "广源",
    "王记",
    "李记",
    "张记",
    "刘记",
    "陈记",
    "杨记",
    "赵记",
    "周记",
    "吴记",
    "郑记",
    "胜利",
    "团结",
    "友谊",
    "新村",
    "河畔",
    "桥头",
    "站前",
    "学府",
    "花园",
    "湖滨",
)
REGIONS = ("城东区", "城西区", "城南区", "城北区", "青山县", "临河县")
REGION_SHARE = np.array([0.20, 0.18, 0.14, 0.12, 0.20, 0.16])
WEEKDAY_SHARE = np.array([0.19, 0.19, 0.19, 0.19, 0.18, 0.04, 0.02])  # Mon..Sun

# --- products: price bands, brands, variants ------------------------------------------
PRICE_BANDS = ("一类", "二类", "三类", "四类", "五类")
PRICE_BAND_RANGE = ((250.0, 700.0), (160.0, 250.0), (100.0, 160.0), (60.0, 100.0), (30.0, 60.0))
PRICE_BAND_SKU_SHARE = np.array([0.18, 0.24, 0.26, 0.19, 0.13])
# Quantity share of each price band in a basket, by the customer's price tier band
# (low <120, mid 120-250, high >250 CNY average per carton).
BASKET_BAND_MIX = np.array(
    [
        [0.03, 0.10, 0.30, 0.35, 0.22],
        [0.15, 0.30, 0.30, 0.18, 0.07],
        [0.45, 0.30, 0.15, 0.07, 0.03],
    ]
)
# Fictional brand names (none is a real cigarette brand). The last two are the slow
# brands (niche products with intermittent, lumpy demand).
BRANDS = (
    "青岚",
    "星河",
    "晨曦",
    "远帆",
    "松韵",
    "雅竹",
    "澄湖",
    "朗月",
    "锦程",
    "望岳",
    "清泉",
    "逸风",
    "和畅",
    "瑞禾",
    "嘉木",
)
VARIANTS = (
    "硬",
    "软",
    "细支",
    "中支",
    "精品",
    "典藏",
    "金",
    "蓝",
    "红",
    "新版",
    "短支",
    "爆珠",
    "醇香",
    "天韵",
    "如意",
    "长嘴",
    "特制",
    "珍品",
    "和韵",
    "峰景",
)
VARIANT_CATEGORY = {"细支": "细支烟", "中支": "中支烟", "短支": "短支烟", "爆珠": "爆珠烟"}

# --- CRM tiers ----------------------------------------------------------------------------
# Tier scheme: the defaults of restock.yaml (tiers: volume_band_edges, price_band_edges).
TIER_VOLUME_EDGES = np.array([2, 4, 7, 11, 16, 23, 32, 45, 65], dtype=float)
TIER_PRICE_EDGES = np.array([120, 250], dtype=float)
VOLUME_BAND_RANGE = np.array(
    [[0.8, 2], [2, 4], [4, 7], [7, 11], [11, 16], [16, 23], [23, 32], [32, 45], [45, 65], [65, 160]]
)
VOLUME_BAND_SHARE = np.array([0.06, 0.09, 0.12, 0.14, 0.15, 0.14, 0.11, 0.08, 0.06, 0.05])
NEW_SHOP_MAX_TIER = 10
NEW_SHOP_CAP_DAYS = 91


def crm_tier(volume: np.ndarray, avg_price: np.ndarray) -> np.ndarray:
    """Tier 1..30 from weekly volume (10 bands) and average carton price (3 bands)."""
    volume_band = np.searchsorted(TIER_VOLUME_EDGES, volume, side="right")
    price_band = np.searchsorted(TIER_PRICE_EDGES, avg_price, side="right")
    return (volume_band * 3 + price_band + 1).astype(np.int64)


# --- rates of events and the stock policy ------------------------------------------------
EMPTY_TIER_SHARE = 0.10
CANCEL_RATE = 0.01
OPEN_RATE_PER_YEAR = 0.06
CLOSE_RATE_PER_YEAR = 0.035
SUSPEND_RATE_PER_YEAR = 0.03
PROMOTIONS_PER_SKU_YEAR = 0.12
PROMO_ANNOUNCE_DAYS = 14
PROMO_LIFT_PER_PCT = 0.06  # 5% off -> x1.3
CATCH_UP_PER_MISSED = 0.6  # next order after a skipped (non Spring Festival) holiday

SERVICE_Z = 1.65  # ~95% cycle service for the regular SKUs
REORDER_CYCLE_DAYS = 7
# A batch is pulled from sale and written off this many days before it expires, on at
# most WRITE_OFF_MAX_ROW_SHARE of the inventory extract's rows a day (the earliest
# expiries first, the others on the next days, still before they expire). A write-off
# breaks the stock identity the ingest plausibility gate checks (restock.yaml
# quality.plausibility: a day fails with more than 20 % of its rows off by default), so
# that no day of the demo comes near that limit.
WRITE_OFF_DAYS_BEFORE_EXPIRY = 7
WRITE_OFF_MAX_ROW_SHARE = 0.05

STATUS_ACTIVE, STATUS_SUSPENDED, STATUS_CLOSED = 0, 1, 2
CUSTOMER_STATUS = ("active", "suspended", "closed")
FAR = 10**7  # a day index "never"
