"""The client's address behind a reverse proxy: what sign-in limits count and the simulator trusts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .service import PASSWORD, Service, csrf_token, service_config

FAILURES = 5


async def sign_in_from(service: Service, address: str, name: str, password: str) -> int:
    client = await service.new_client()
    forwarded = {"X-Forwarded-For": f"203.0.113.250, {address}"}
    token = csrf_token(await (await client.get("/login", headers=forwarded)).text())
    form = {"name": name, "password": password, "csrf_token": token}
    response = await client.post("/login", data=form, headers=forwarded, allow_redirects=False)
    return response.status


async def test_behind_the_proxy_each_client_address_is_limited_on_its_own(service: Service) -> None:
    for number in range(FAILURES):
        assert await sign_in_from(service, "198.51.100.7", f"nobody{number}", "guess guess guess") == 400

    assert await sign_in_from(service, "198.51.100.7", "alice", PASSWORD) == 429
    assert await sign_in_from(service, "198.51.100.8", "alice", PASSWORD) == 303


async def test_a_client_not_behind_a_trusted_proxy_cannot_pick_its_address(start_service: Any, database: Path) -> None:
    config = service_config(database)
    http = config.http.model_copy(update={"trusted_proxies": ("10.0.0.0/8",)})
    service: Service = await start_service(config.model_copy(update={"http": http}))
    for number in range(FAILURES):
        await sign_in_from(service, f"198.51.100.{number}", f"nobody{number}", "guess guess guess")

    assert await sign_in_from(service, "198.51.100.99", "alice", PASSWORD) == 429


@pytest.mark.parametrize("forwarded", ["198.51.100.7", "127.0.0.1, 198.51.100.7"])
async def test_the_simulator_refuses_a_client_forwarded_from_elsewhere(service: Service, forwarded: str) -> None:
    response = await service.anonymous.get("/simulator/calls", headers={"X-Forwarded-For": forwarded})

    assert response.status == 403


async def test_the_simulator_serves_this_machine(service: Service) -> None:
    assert (await service.anonymous.get("/simulator/calls")).status == 200
    assert (await service.anonymous.get("/simulator/calls", headers={"X-Forwarded-For": "::1"})).status == 200
