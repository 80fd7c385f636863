"""The fixed lists the operator picks from: stable codes, stored and sent as they are, each
labelled in the message catalogue (`<Class>.<code>`), so a page says them in its reader's language
and the determination document in Chinese."""

from kuaichu.messages import Labelled


class AccidentType(Labelled):
    """事故形态/成因 the simplified procedure distinguishes; where a statutory rule decides one,
    the code is that rule's (kuaichu.liability.rules)."""

    REAR_END = "rear_end"  # 追尾
    LANE_CHANGE = "lane_change"  # 变更车道
    REVERSING = "reversing"  # 倒车
    ROLLING = "rolling"  # 溜车
    DOOR = "door"  # 开关车门
    WRONG_WAY = "wrong_way"  # 逆行
    SIGNAL = "signal"  # 闯红灯
    FAIL_TO_YIELD = "fail_to_yield"  # 未按规定让行
    ILLEGAL_PARKING = "illegal_parking"  # 违法停车
    U_TURN = "u_turn"  # 掉头
    SINGLE_VEHICLE = "single_vehicle"  # 单方事故
    OTHER = "other"  # 其他


class Weather(Labelled):
    CLEAR = "clear"  # 晴
    OVERCAST = "overcast"  # 阴
    RAIN = "rain"  # 雨
    SNOW = "snow"  # 雪
    FOG = "fog"  # 雾
    STRONG_WIND = "strong_wind"  # 大风
    SAND_DUST = "sand_dust"  # 沙尘
    HAIL = "hail"  # 冰雹


class PlateType(Labelled):
    """号牌种类, by their GA 24.7 codes."""

    LARGE = "01"  # 大型汽车
    SMALL = "02"  # 小型汽车
    MOTORCYCLE = "07"  # 普通摩托车
    TRAILER = "15"  # 挂车
    DRIVING_SCHOOL = "16"  # 教练汽车
    LARGE_NEW_ENERGY = "51"  # 大型新能源汽车
    SMALL_NEW_ENERGY = "52"  # 小型新能源汽车


NEW_ENERGY_PLATE_TYPES = frozenset({PlateType.LARGE_NEW_ENERGY, PlateType.SMALL_NEW_ENERGY})


class VehicleType(Labelled):
    """机动车车辆类型, by their GA 24.4 (GA/T 16.4) codes, the ones the vehicle registry records;
    the most common first, as the operator's list shows them."""

    SMALL_CAR = "K33"  # 小型轿车
    SMALL_BUS = "K31"  # 小型普通客车
    SMALL_OFF_ROAD = "K32"  # 小型越野客车
    MEDIUM_BUS = "K21"  # 中型普通客车
    LARGE_BUS = "K11"  # 大型普通客车
    LIGHT_TRUCK = "H31"  # 轻型普通货车
    MEDIUM_TRUCK = "H21"  # 中型普通货车
    HEAVY_TRUCK = "H11"  # 重型普通货车
    HEAVY_SEMI_TRAILER_TRACTOR = "Q11"  # 重型半挂牵引车
    MOTORCYCLE = "M21"  # 普通二轮摩托车


def as_vehicle_type(code: str) -> VehicleType | str:
    """A vehicle type's code as the member (said by its label wherever it is said); a code from
    outside the list as it is (a registry knows vehicle types the operator never picks)."""
    try:
        return VehicleType(code)
    except ValueError:
        return code
