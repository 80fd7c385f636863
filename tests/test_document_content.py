"""What the determination document says (issue 8): the parties named 甲/乙 as the facts text
names them, the policy number the insurance registry found, the officer's 认定理由, and a
verify address on the server's own public URL."""

import subprocess
from pathlib import Path

import pytest
from casework import REASONING, SAID_POLICY, determined
from conftest import Api

from kuaichu.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Served on another port, with no public URL set: the document follows the port.
    return settings.model_copy(update={"port": 9123, "public_base_url": ""})


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


async def test_the_document_names_the_parties_prints_the_reasoning_and_the_registry_policy(
    api: Api, tmp_path: Path
) -> None:
    case = await determined(api)
    [document] = (await api.client.get(f"/api/cases/{case.id}/documents", headers=case.li)).json()
    pdf = (await api.client.get(document["download_url"], headers=case.li)).content
    text = pdf_text(pdf, tmp_path)

    named = (["甲", "张伟"], ["乙", "李娜"])
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()[:2] in named}
    assert set(rows) == {"甲", "乙"}
    assert "无责任" in rows["甲"] and "全部责任" in rows["乙"]
    # 李娜 gave a policy number the registry does not know; the document prints the registry's.
    assert "PDZA202633010600001" in text  # 张伟's, as the registry has it
    assert "PDZA202633010600002" in text  # 李娜's, as the registry has it
    assert SAID_POLICY not in text
    assert "中国太平洋财产保险" in text  # 李娜's insurer, by the registry

    flat = "".join(text.split())
    assert f"认定理由：{REASONING}" in flat
    assert f"http://127.0.0.1:9123/verify/{document['number']}" in flat


def test_the_public_address_follows_the_port_unless_one_is_set() -> None:
    assert Settings(port=8123, public_base_url="").effective_public_base_url == "http://127.0.0.1:8123"
    assert (
        Settings(host="0.0.0.0", port=80, public_base_url="").effective_public_base_url
        == "http://127.0.0.1:80"
    )
    configured = Settings(port=8123, public_base_url="https://kuaichu.example/")
    assert configured.effective_public_base_url == "https://kuaichu.example"
