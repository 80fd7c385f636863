"""The fixed catalogues the operator picks from."""

# Accident types (事故形态/成因) the simplified procedure distinguishes.
ACCIDENT_TYPES = (
    "追尾",
    "变更车道",
    "倒车",
    "溜车",
    "开关车门",
    "逆行",
    "闯红灯",
    "未按规定让行",
    "违法停车",
    "掉头",
    "单方事故",
    "其他",
)

WEATHER = ("晴", "阴", "雨", "雪", "雾", "大风", "沙尘", "冰雹")

# Plate types (号牌种类), GA 24.7 codes.
PLATE_TYPES = {
    "01": "大型汽车",
    "02": "小型汽车",
    "07": "普通摩托车",
    "15": "挂车",
    "16": "教练汽车",
    "51": "大型新能源汽车",
    "52": "小型新能源汽车",
}
NEW_ENERGY_PLATE_TYPES = frozenset({"51", "52"})

VEHICLE_TYPES = (
    "小型轿车",
    "小型普通客车",
    "小型越野客车",
    "中型普通客车",
    "大型普通客车",
    "轻型普通货车",
    "中型普通货车",
    "重型普通货车",
    "重型半挂牵引车",
    "普通二轮摩托车",
)
