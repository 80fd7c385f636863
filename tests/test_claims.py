"""定损理赔 and the insurer's view of it, through API keys."""

from conftest import Api
from flows import determined_case, evacuated_case
from sqlalchemy.orm import Session

from kuaichu.auth.models import Insurer
from kuaichu.auth.service import create_api_key


async def _insurer_key(api: Api, code: str, name: str) -> dict[str, str]:
    def create(session: Session) -> str:
        insurer = Insurer(code=code, name=name)
        session.add(insurer)
        session.flush()
        return create_api_key(session, insurer, api.context.clock.now())

    return {"X-API-Key": await api.context.database.write(create)}


async def test_a_claim_reaches_only_the_insurer_it_was_pushed_to(api: Api) -> None:
    case = await determined_case(api)  # 李娜, insured with CPIC, bears full responsibility
    picc = await _insurer_key(api, "PICC", "中国人民财产保险")
    cpic = await _insurer_key(api, "CPIC", "中国太平洋财产保险")
    assert (await api.client.get("/api/insurer/claims", headers=cpic)).json() == []

    response = await api.client.post(f"/api/cases/{case.id}/claim", headers=case.reporter)
    assert response.status_code == 201, response.text
    assert response.json()["insurer_code"] == "CPIC"

    claims = (await api.client.get("/api/insurer/claims", headers=cpic)).json()
    assert [c["case_id"] for c in claims] == [case.id]
    assert (await api.client.get("/api/insurer/claims", headers=picc)).json() == []
    seen = await api.client.get(f"/api/cases/{case.id}", headers=cpic)
    assert seen.status_code == 200
    assert all("*" in p["id_number"] for p in seen.json()["parties"])
    assert (await api.client.get(f"/api/cases/{case.id}", headers=picc)).status_code == 404


async def test_both_parties_may_claim_and_each_only_once(api: Api) -> None:
    case = await determined_case(api)
    assert (await api.client.post(f"/api/cases/{case.id}/claim", headers=case.reporter)).status_code == 201
    assert (await api.client.post(f"/api/cases/{case.id}/claim", headers=case.other)).status_code == 201
    again = await api.client.post(f"/api/cases/{case.id}/claim", headers=case.other)
    assert again.status_code == 409
    timeline = (await api.client.get(f"/api/cases/{case.id}/timeline", headers=case.other)).json()
    assert [e["kind"] for e in timeline][-2:] == ["push_claim", "push_claim"]


async def test_no_claim_before_the_determination(api: Api) -> None:
    case = await evacuated_case(api)
    response = await api.client.post(f"/api/cases/{case.id}/claim", headers=case.reporter)
    assert response.status_code == 409


async def test_an_unknown_api_key_is_refused(api: Api) -> None:
    response = await api.client.get("/api/insurer/claims", headers={"X-API-Key": "kci_nope"})
    assert response.status_code == 401


async def test_the_claim_goes_to_the_insurer_the_registry_found(api: Api) -> None:
    """The claim goes where the registry check found 李娜's compulsory insurance."""
    case = await determined_case(api)  # 李娜 (party 2) bears full responsibility
    response = await api.client.post(f"/api/cases/{case.id}/claim", headers=case.reporter)
    assert response.status_code == 201, response.text
    assert response.json()["insurer_code"] == "CPIC"
    # 李娜 herself bears the fault: her claim goes to her own insurer.
    own = await api.client.post(f"/api/cases/{case.id}/claim", headers=case.other)
    assert own.json()["insurer_code"] == "CPIC"


async def test_a_claim_within_the_review_period_leaves_the_other_partys_review_right(api: Api) -> None:
    case = await determined_case(api)
    assert (await api.client.post(f"/api/cases/{case.id}/claim", headers=case.reporter)).status_code == 201
    review = await api.client.post(
        f"/api/cases/{case.id}/review", json={"reasons": "对方突然变道，并非追尾"}, headers=case.other
    )
    assert review.status_code == 200, review.text
    assert review.json()["state"] == "under_review"
