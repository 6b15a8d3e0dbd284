"""The SSRF rules: which addresses are public, and how a refusal reads."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from service.analyses.sources import (
    HostNotResolved,
    UnsafeSourceUrl,
    check_source_url,
    is_public,
    not_fetchable,
    where,
)
from tests.media_in.network import ScriptedDns


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::a00:1",  # local-use NAT64
        "64:ff9b:1::5db8:d822",  # local-use NAT64, even of a public IPv4
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:c0a8:1::1",  # 6to4 of 192.168.0.1
        "::7f00:1",  # IPv4-compatible
        "::5db8:d822",  # IPv4-compatible, even of a public IPv4
        "::ffff:0:7f00:1",  # IPv4-translated
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "fec0::1",  # site-local
        "fc00::1",
        "fe80::1",
        "::1",
        "::",
        "ff02::1",
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
    ],
)
def test_non_global_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "2606:4700:4700::1111",
        "64:ff9b::5db8:d822",  # NAT64 of a public IPv4 (an IPv6-only network's DNS64)
        "2002:5db8:d822::1",  # 6to4 of a public IPv4
        "::ffff:93.184.216.34",
    ],
)
def test_global_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


async def test_a_private_host_and_an_unresolvable_one_are_refused_alike() -> None:
    dns = ScriptedDns(
        {"intranet.example": [["10.0.0.5"]], "mixed.example": [["93.184.216.34", "127.0.0.1"]]}
    )
    texts = []
    for url, refusal in [
        ("http://intranet.example/v.mp4", UnsafeSourceUrl),
        ("http://mixed.example/v.mp4", UnsafeSourceUrl),
        ("http://nowhere.example/v.mp4", HostNotResolved),
    ]:
        with pytest.raises(refusal) as refused:
            await check_source_url(url, allow_private=False, resolver=dns)
        assert str(refused.value) == not_fetchable(url)
        texts.append(str(refused.value).replace(url, ""))
    assert "10.0.0.5" not in texts[0]
    assert len({text.split(" cannot")[1] for text in texts}) == 1


async def test_allowing_private_sources_checks_only_the_form() -> None:
    dns = ScriptedDns({})
    await check_source_url("http://127.0.0.1:8080/v.mp4", allow_private=True, resolver=dns)
    await check_source_url("http://intranet/v.mp4", allow_private=True, resolver=dns)
    assert dns.lookups == []
    with pytest.raises(UnsafeSourceUrl, match="only http:// and https://"):
        await check_source_url("ftp://x/v.mp4", allow_private=True)


def test_urls_are_named_without_credentials_or_query() -> None:
    assert where("https://user:pw@media.example:8443/a/v.mp4?X-Amz-Signature=abc#t") == (
        "https://media.example:8443/a/v.mp4"
    )
    assert where("http://[::1]/v.mp4") == "http://[::1]/v.mp4"


@pytest.mark.parametrize(
    "source_url",
    [
        "http://[64:ff9b::7f00:1]/v.mp4",
        "http://[64:ff9b:1::a00:1]/v.mp4",
        "http://[2002:7f00:1::]/v.mp4",
        "http://[::7f00:1]/v.mp4",
        "http://[::ffff:0:7f00:1]/v.mp4",
        "http://localhost:8080/v.mp4",
    ],
)
async def test_the_api_refuses_ipv4_hidden_in_ipv6_and_names_no_address(
    app_client: httpx.AsyncClient, auth_headers: dict[str, str], source_url: str
) -> None:
    body = {"customer_media_id": "m", "source_url": source_url}
    response = await app_client.post("/v1/analyses", json=body, headers=auth_headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == not_fetchable(source_url)
    assert "127.0.0.1" not in response.json()["detail"]
    listed = await app_client.get("/v1/analyses", headers=auth_headers)
    assert listed.json()["items"] == []
