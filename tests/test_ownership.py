"""Each user sees and changes only their own calls; admins see and manage all of them."""

from __future__ import annotations

import html

from .service import PASSWORD, Service

NUMBER = "+12025550142"
NUMBER_ON_PAGE = "+1 202-555-0142"
BOBS_ON_PAGE = "+1 202-555-0177"
"""Bob's number (+12025550177) as the page writes numbers, for people."""


async def test_another_users_call_answers_exactly_as_an_unknown_one(service: Service) -> None:
    call = await service.book(NUMBER)
    await service.add_user("bob", PASSWORD)
    bob = await service.new_client(await service.add_key("bob"))

    for path in (f"/api/calls/{call['id']}", "/api/calls/999"):
        seen, cancelled = await bob.get(path), await bob.delete(path)
        assert (seen.status, cancelled.status) == (404, 404)
        assert (await seen.json())[
            "detail"
        ] == f"There is no call {path.rsplit('/', 1)[1]}; list calls with GET /api/calls."
    assert (await service.call(call["id"]))["status"] == "scheduled"
    assert (await (await bob.get("/api/calls")).json())["calls"] == []


async def test_a_call_belongs_to_whoever_booked_it(service: Service) -> None:
    call = await service.book(NUMBER)

    assert call["owner_id"] == service.user.id
    listed = (await (await service.client.get("/api/calls")).json())["calls"]
    assert [entry["id"] for entry in listed] == [call["id"]]


async def test_an_admin_sees_every_call_and_can_narrow_to_one_owner(service: Service) -> None:
    alices = await service.book(NUMBER)
    await service.add_user("bob", PASSWORD)
    bob = await service.new_client(await service.add_key("bob"))
    bobs = await (await bob.post("/api/calls", json={"to": NUMBER, "at": service.iso_in(120)})).json()

    everyone = await (await service.admin_client.get("/api/calls")).json()
    only_bob = await (await service.admin_client.get("/api/calls?owner=bob")).json()
    nobody = await service.admin_client.get("/api/calls?owner=carol")

    assert {entry["id"] for entry in everyone["calls"]} == {alices["id"], bobs["id"]}
    assert [entry["id"] for entry in only_bob["calls"]] == [bobs["id"]]
    assert nobody.status == 400
    assert (await nobody.json())["errors"][0]["field"] == "owner"
    cancelled = await service.admin_client.delete(f"/api/calls/{alices['id']}")
    assert (await cancelled.json())["status"] == "cancelled"


async def test_a_user_cannot_list_another_users_calls_by_asking(service: Service) -> None:
    response = await service.client.get("/api/calls?owner=admin")

    assert response.status == 400


async def test_the_page_lists_only_the_signed_in_users_calls(service: Service) -> None:
    await service.add_user("bob", PASSWORD)
    bob = await service.new_client(await service.add_key("bob"))
    await bob.post("/api/calls", json={"to": "+12025550177", "at": service.iso_in(120)})
    await service.book(NUMBER)

    page = await (await service.pages.get("/")).text()
    table = await (await service.pages.get("/calls/table")).text()

    for shown in (page, table):
        assert NUMBER_ON_PAGE in shown
        assert BOBS_ON_PAGE not in shown


async def test_a_call_is_cancelled_from_the_page_by_its_owner_only(service: Service) -> None:
    call = await service.book(NUMBER)
    await service.add_user("bob", PASSWORD)
    bob_pages = await service.new_client()
    bob_csrf = await service.sign_in(bob_pages, "bob", PASSWORD)

    by_bob = await bob_pages.post(f"/calls/{call['id']}/cancel", data={"csrf_token": bob_csrf}, allow_redirects=False)
    assert by_bob.status == 404
    assert (await service.call(call["id"]))["status"] == "scheduled"

    by_alice = await service.post_form(f"/calls/{call['id']}/cancel", {})
    assert by_alice.status == 303
    assert (await service.call(call["id"]))["status"] == "cancelled"


async def test_booked_shows_only_a_call_id(service: Service) -> None:
    injected = '"><script>alert(1)</script>'
    for query in (f"?booked={injected}", "?booked=1e3", "?booked=-1", f"?booked={'9' * 30}"):
        page = await (await service.pages.get("/" + query)).text()
        table = await (await service.pages.get("/calls/table" + query)).text()

        assert "is booked" not in page
        assert "alert(1)" not in html.unescape(page + table)


async def test_an_admins_page_shows_everyones_calls_or_one_users(service: Service) -> None:
    await service.add_user("bob", PASSWORD)
    bob = await service.new_client(await service.add_key("bob"))
    await bob.post("/api/calls", json={"to": "+12025550177", "at": service.iso_in(120)})
    await service.book(NUMBER)
    admin = await service.new_client()
    await service.accounts.set_password("admin", PASSWORD)
    await service.sign_in(admin, "admin", PASSWORD)

    everyone = await (await admin.get("/")).text()
    only_bob = await (await admin.get("/?owner=bob")).text()
    refreshed = await (await admin.get("/calls/table?owner=bob")).text()
    alice_asking = await (await service.pages.get("/?owner=bob")).text()

    assert NUMBER_ON_PAGE in everyone
    assert BOBS_ON_PAGE in everyone
    for page in (only_bob, refreshed):
        assert BOBS_ON_PAGE in page
        assert NUMBER_ON_PAGE not in page
    assert 'data-refresh="/calls/table?owner=bob"' in only_bob
    assert NUMBER_ON_PAGE in alice_asking
    assert BOBS_ON_PAGE not in alice_asking


async def test_an_unknown_owner_shows_everyone_and_is_not_echoed(service: Service) -> None:
    admin = await service.new_client()
    await service.accounts.set_password("admin", PASSWORD)
    await service.sign_in(admin, "admin", PASSWORD)

    page = await (await admin.get('/?owner="><b>nobody</b>')).text()

    assert "nobody</b>" not in html.unescape(page)
    assert 'data-refresh="/calls/table"' in page


async def test_a_call_id_too_large_for_any_call_is_not_found_on_the_page(service: Service) -> None:
    response = await service.post_form("/calls/9999999999999999999/cancel", {})

    assert response.status == 404


async def test_an_admin_asking_for_an_owner_no_name_could_be_is_told_so(service: Service) -> None:
    for owner in ("x" * 5000, "<b>", ""):
        response = await service.admin_client.get("/api/calls", params={"owner": owner})

        assert response.status == 400
        assert (await response.json())["errors"][0]["field"] == "owner"
