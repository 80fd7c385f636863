"""The lists the operator picks from: codes stored and sent, labels read in the reader's language."""

from conftest import Api
from factories import FACTS, party_body

ENGLISH = {"Accept-Language": "en"}


async def test_the_catalogue_lists_each_code_with_its_label_in_the_readers_language(api: Api) -> None:
    chinese = (await api.client.get("/api/catalogue")).json()
    english = (await api.client.get("/api/catalogue", headers=ENGLISH)).json()
    assert chinese["accident_types"][0] == {"code": "rear_end", "label": "追尾"}
    assert english["accident_types"][0] == {"code": "rear_end", "label": "Rear-end collision"}
    assert {"code": "strong_wind", "label": "Strong wind"} in english["weather"]
    assert {"code": "52", "label": "小型新能源汽车"} in chinese["plate_types"]
    assert english["vehicle_types"][0] == {"code": "K33", "label": "Small saloon car"}
    # The same codes in the same order, whoever reads them.
    for name in ("accident_types", "weather", "plate_types", "vehicle_types"):
        assert [c["code"] for c in chinese[name]] == [c["code"] for c in english[name]]


async def test_a_case_stores_the_codes_and_reads_their_labels_in_the_readers_language(
    api: Api, taken_call: tuple[int, dict[str, str]]
) -> None:
    case_id, operator = taken_call
    await api.client.put(f"/api/cases/{case_id}/facts", json=FACTS, headers=operator)
    parties = {"parties": [party_body("13800000001", "浙A12345")]}
    await api.client.put(f"/api/cases/{case_id}/parties", json=parties, headers=operator)

    chinese = (await api.client.get(f"/api/cases/{case_id}", headers=operator)).json()
    english = (await api.client.get(f"/api/cases/{case_id}", headers=operator | ENGLISH)).json()
    assert (chinese["accident_type"], chinese["weather"]) == ("rear_end", "clear")
    assert (chinese["accident_type_label"], chinese["weather_label"]) == ("追尾", "晴")
    assert (english["accident_type_label"], english["weather_label"]) == ("Rear-end collision", "Clear")
    (party,) = chinese["parties"]
    assert (party["plate_type"], party["plate_type_label"]) == ("02", "小型汽车")
    assert (party["vehicle_type"], party["vehicle_type_label"]) == ("K33", "小型轿车")
    assert english["parties"][0]["vehicle_type_label"] == "Small saloon car"
