"""A party who chose English on the party page gets official SMS in English, with the Chinese
legal sentence kept; the choice is personal data that retention deletes."""

from casework import LI, ZHANG, collected_case, rear_end
from conftest import Api
from sqlalchemy import select

from kuaichu.notify.models import PartyLocale
from kuaichu.retention.personal import purge_personal_data

REVIEW_RIGHT = "如对认定有异议，可自送达之日起三日内提出书面复核申请。"


async def test_the_determination_sms_follows_the_language_each_party_chose(api: Api) -> None:
    case = await collected_case(api)
    chosen = await api.client.put("/api/me/locale", json={"locale": "en"}, headers=case.li)
    assert chosen.status_code == 200, chosen.text

    determined = await api.client.post(
        f"/api/cases/{case.id}/determination", json=rear_end(case), headers=case.officer
    )
    assert determined.status_code == 200, determined.text
    await api.documents_made()  # the SMS goes out with the signed document

    english = (await api.sms_to(LI))[-1]
    assert english.startswith(f"【快处】The determination of accident {case.number} is made")
    assert "/party. You may apply for a review" in english
    assert english.endswith(REVIEW_RIGHT)
    chinese = (await api.sms_to(ZHANG))[-1]
    assert chinese.startswith(f"【快处】事故{case.number}已作出认定，电子事故认定书编号{case.number}-")
    assert chinese.endswith("中查看各方责任并下载。" + REVIEW_RIGHT)


async def test_only_a_known_locale_can_be_chosen_and_only_by_a_party(api: Api) -> None:
    case = await collected_case(api)

    unknown = await api.client.put("/api/me/locale", json={"locale": "fr"}, headers=case.li)
    staff = await api.client.put("/api/me/locale", json={"locale": "en"}, headers=case.operator)

    assert unknown.status_code == 422
    assert staff.status_code == 404
    assert await _locales(api) == {}


async def test_retention_forgets_the_chosen_language_with_the_phone(api: Api) -> None:
    case = await collected_case(api)
    await api.client.put("/api/me/locale", json={"locale": "en"}, headers=case.li)
    assert await _locales(api) == {LI: "en"}
    secret = api.context.settings.effective_phone_key_secret

    touched = await api.context.database.write(
        lambda s: purge_personal_data(s, case.id, secret, api.context.clock.now())
    )

    assert touched["party_locales"] == 1
    assert await _locales(api) == {}


async def _locales(api: Api) -> dict[str, str]:
    return await api.context.database.read(
        lambda s: {row.phone: row.locale for row in s.scalars(select(PartyLocale))}
    )
