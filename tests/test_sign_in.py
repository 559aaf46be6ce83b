"""Signing in on the page, the session it makes, and the forms it protects."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from dialajoke import keys
from dialajoke.app import NoUserYet, create_app
from dialajoke.config import AuthConfig, HttpConfig
from dialajoke.web.sessions import COOKIE_NAME

from .service import ADMIN, PASSWORD, Service, csrf_token, quick_telnyx, service_config

FORM = {"to": "+12025550142", "date": "2026-11-24", "time": "10:00", "timezone": "UTC"}
LIVE = {
    "api_key": "KEY0123",
    "connection_id": "conn",
    "from_number": "+13125550100",
    "public_key": "A" * 43 + "=",
}


async def attempt(service: Service, name: str, password: str, client: Any = None) -> Any:
    client = client or await service.new_client()
    token = csrf_token(await (await client.get("/login")).text())
    form = {"name": name, "password": password, "csrf_token": token}
    return await client.post("/login", data=form, allow_redirects=False)


async def test_signing_in_leads_to_the_page_asked_for(service: Service) -> None:
    client = await service.new_client()
    page = await (await client.get("/login?next=/account")).text()

    response = await client.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": csrf_token(page), "next": "/account"},
        allow_redirects=False,
    )

    assert response.status == 303
    assert response.headers["Location"] == "/account"
    account = await client.get("/account")
    assert "Signed in as <strong>alice</strong>" in await account.text()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"])
async def test_signing_in_never_sends_anyone_elsewhere(service: Service, target: str) -> None:
    client = await service.new_client()
    token = csrf_token(await (await client.get("/login")).text())

    response = await client.post(
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": token, "next": target},
        allow_redirects=False,
    )

    assert response.headers["Location"] == "/"


async def test_the_session_cookie_is_http_only_and_same_site(service: Service) -> None:
    response = await attempt(service, "alice", PASSWORD)

    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # public_url is http here; https gets Secure (next test)


async def test_the_session_cookie_is_secure_when_the_service_is_reached_over_https(start_service: Any) -> None:
    service: Service = await start_service(public_url="https://jokes.example.com")

    response = await service.anonymous.get("/login")

    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Set-Cookie"].startswith("__Host-dialajoke_session=")


async def test_a_wrong_password_and_an_unknown_name_read_the_same(service: Service) -> None:
    wrong = await attempt(service, "alice", "not her password at all")
    unknown = await attempt(service, "nobody-at-all", "not her password at all")

    assert wrong.status == unknown.status == 400
    for response in (wrong, unknown):
        assert "The name or the password is wrong." in await response.text()
        assert "Set-Cookie" not in response.headers or "uid" not in response.headers["Set-Cookie"]


async def test_failed_sign_ins_are_limited_per_name_then_let_through_after_the_window(service: Service) -> None:
    for _ in range(5):
        assert (await attempt(service, "alice", "guess guess guess")).status == 400

    refused = await attempt(service, "alice", PASSWORD)

    assert refused.status == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    assert "Too many failed sign-ins" in await refused.text()
    service.clock.advance(901)
    assert (await attempt(service, "alice", PASSWORD)).status == 303


async def test_failed_sign_ins_are_limited_per_address_whatever_the_name(service: Service) -> None:
    for number in range(5):
        await attempt(service, f"someone{number}", "guess guess guess")

    assert (await attempt(service, "alice", PASSWORD)).status == 429


async def test_a_disabled_user_is_signed_out_and_cannot_sign_in(start_service: Any) -> None:
    service: Service = await start_service(auth=AuthConfig(login_failure_delay_s=0.0, key_cache_s=0.0))

    await service.accounts.disable_user("alice")

    assert (await service.pages.get("/", allow_redirects=False)).status == 303
    assert (await service.client.get("/api/calls")).status == 401
    assert (await attempt(service, "alice", PASSWORD)).status == 400


async def test_changing_the_password_ends_every_other_sign_in(service: Service) -> None:
    other = await service.new_client()
    await service.sign_in(other, "alice", PASSWORD)
    new = "another password, long enough"

    changed = await service.post_form("/account/password", {"current": PASSWORD, "new": new, "again": new})

    assert changed.status == 303
    assert (await service.pages.get("/", allow_redirects=False)).status == 200
    service.clock.advance(service.config.auth.key_cache_s + 1)
    assert (await other.get("/", allow_redirects=False)).status == 303
    assert (await attempt(service, "alice", new)).status == 303


async def test_a_wrong_current_password_changes_nothing(service: Service) -> None:
    new = "another password, long enough"

    response = await service.post_form("/account/password", {"current": "wrong one", "new": new, "again": new})

    assert response.status == 400
    assert "The current password is wrong." in await response.text()
    assert (await attempt(service, "alice", PASSWORD)).status == 303


async def test_guesses_at_the_current_password_are_limited_then_answered_429(service: Service) -> None:
    new = "another password, long enough"
    for _ in range(5):
        response = await service.post_form("/account/password", {"current": "a guess", "new": new, "again": new})
        assert response.status == 400

    refused = await service.post_form("/account/password", {"current": PASSWORD, "new": new, "again": new})

    assert refused.status == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    assert "Too many failed sign-ins" in await refused.text()
    service.clock.advance(901)
    assert (await attempt(service, "alice", PASSWORD)).status == 303


async def test_signing_out_ends_the_session(service: Service) -> None:
    response = await service.post_form("/logout", {})

    assert response.status == 303
    assert (await service.pages.get("/", allow_redirects=False)).status == 303


async def copy_of_the_session(service: Service) -> Any:
    """Another client holding a copy of the cookie of ``service.pages``, as someone who took it would."""
    copy = await service.new_client()
    cookie = service.pages.session.cookie_jar.filter_cookies(service.pages.make_url("/"))[COOKIE_NAME].value
    copy.session.cookie_jar.update_cookies({COOKIE_NAME: cookie}, service.pages.make_url("/"))
    assert (await copy.get("/", allow_redirects=False)).status == 200
    return copy


async def test_a_copy_of_the_cookie_kept_after_signing_out_no_longer_signs_in(service: Service) -> None:
    copy = await copy_of_the_session(service)

    assert (await service.post_form("/logout", {})).status == 303

    replayed = await copy.get("/account", allow_redirects=False)
    assert replayed.status == 303
    assert replayed.headers["Location"].startswith("/login")
    assert (await copy.get("/", allow_redirects=False)).status == 303


async def test_signing_in_again_ends_the_session_before(service: Service) -> None:
    copy = await copy_of_the_session(service)
    await service.add_user("bob", PASSWORD)

    await service.sign_in(service.pages, "bob", PASSWORD)

    assert (await copy.get("/", allow_redirects=False)).status == 303


async def test_a_sign_in_lasts_no_longer_than_its_maximum_age(service: Service) -> None:
    service.clock.advance(service.config.auth.session_max_age_s + 1)

    assert (await service.pages.get("/", allow_redirects=False)).status == 303


async def test_a_form_without_its_token_books_nothing(service: Service) -> None:
    for data in (FORM, {**FORM, "csrf_token": "forged"}):
        response = await service.pages.post("/", data=data, allow_redirects=False)

        assert response.status == 403
        assert "Form expired" in await response.text()
    assert (await (await service.client.get("/api/calls")).json())["calls"] == []


async def test_a_token_from_another_session_is_refused(service: Service) -> None:
    other = await service.new_client()
    await service.add_user("bob", PASSWORD)
    bobs_token = await service.sign_in(other, "bob", PASSWORD)

    response = await service.pages.post("/", data={**FORM, "csrf_token": bobs_token}, allow_redirects=False)

    assert response.status == 403


async def test_an_api_key_made_on_the_page_is_shown_once_and_works(service: Service) -> None:
    made = await service.post_form("/account/keys", {"name": "my script"})
    page = await made.text()
    key = page.split('<code id="new-key">', 1)[1].split("</code>", 1)[0]

    client = await service.new_client(key)
    assert (await client.get("/api/calls")).status == 200
    account = await (await service.pages.get("/account")).text()
    assert "my script" in account
    assert key not in account

    key_id = key.split("_")[1]
    revoked = await service.post_form(f"/account/keys/{key_id}/revoke", {})
    assert revoked.status == 303
    assert (await client.get("/api/calls")).status == 401


async def test_a_user_cannot_revoke_another_users_key(service: Service) -> None:
    await service.add_user("bob", PASSWORD)
    bobs_key = await service.add_key("bob")

    response = await service.post_form(f"/account/keys/{bobs_key.split('_')[1]}/revoke", {})

    assert response.status == 404
    assert (await (await service.new_client(bobs_key)).get("/api/calls")).status == 200


async def test_an_admin_adds_and_disables_users_on_the_users_page(service: Service) -> None:
    admin = await service.new_client()
    await service.accounts.set_password(ADMIN, PASSWORD)
    token = await service.sign_in(admin, ADMIN, PASSWORD)

    added = await admin.post(
        "/users", data={"name": "carol", "password": PASSWORD, "csrf_token": token}, allow_redirects=False
    )
    assert added.status == 201
    assert (await attempt(service, "carol", PASSWORD)).status == 303

    disabled = await admin.post("/users/carol/disable", data={"csrf_token": token}, allow_redirects=False)
    assert disabled.status == 303
    assert "disabled" in await (await admin.get("/users")).text()
    assert (await service.pages.get("/users")).status == 403


async def test_the_users_page_will_not_disable_the_last_enabled_admin(service: Service) -> None:
    """An admin disabled from the command line a moment ago is still trusted here for auth.key_cache_s."""
    admin = await service.new_client()
    await service.accounts.set_password(ADMIN, PASSWORD)
    token = await service.sign_in(admin, ADMIN, PASSWORD)
    carol = await service.add_user("carol", admin=True)
    await service.app[keys.STORE].disable_user((await service.accounts.user_named(ADMIN)).id)

    refused = await admin.post("/users/carol/disable", data={"csrf_token": token}, allow_redirects=False)

    assert refused.status == 409
    assert "make another admin first" in await refused.text()
    assert await service.accounts.user_named("carol") == carol


async def test_the_first_start_on_this_machine_makes_an_admin_once(service: Service) -> None:
    name, password = service.app[keys.FIRST_ADMIN]

    assert name == ADMIN
    assert len(password) >= 16
    assert (await attempt(service, ADMIN, password)).status == 303


async def test_a_restart_makes_no_second_admin(start_service: Any) -> None:
    first: Service = await start_service()
    await first.stop()

    again: Service = await start_service()

    assert keys.FIRST_ADMIN not in again.app
    assert [user.name for user in await again.accounts.list_users()] == ["admin", "alice"]


async def test_beyond_this_machine_it_refuses_to_start_without_a_user(database: Any) -> None:
    config = service_config(database, http=HttpConfig(host="0.0.0.0", port=0), telnyx=quick_telnyx(**LIVE))
    runner = web.AppRunner(create_app(config))

    with pytest.raises(NoUserYet, match="users add NAME --admin"):
        await runner.setup()
    await runner.cleanup()


async def test_behind_a_proxy_it_refuses_to_start_without_a_user(database: Any) -> None:
    config = service_config(database, public_url="https://jokes.example.com", telnyx=quick_telnyx(**LIVE))
    runner = web.AppRunner(create_app(config))

    with pytest.raises(NoUserYet, match=r"public_url https://jokes\.example\.com"):
        await runner.setup()
    await runner.cleanup()


async def test_a_failed_sign_in_still_leads_where_it_was_going(service: Service) -> None:
    client = await service.new_client()
    token = csrf_token(await (await client.get("/login?next=/account")).text())

    form = {"name": "alice", "password": "not it at all", "csrf_token": token, "next": "/account"}
    page = await (await client.post("/login", data=form, allow_redirects=False)).text()

    assert 'name="next" value="/account"' in page


async def test_a_user_disabled_elsewhere_making_a_key_is_signed_out_not_failed(service: Service) -> None:
    await service.app[keys.STORE].disable_user(service.user.id)  # as the command line does, past this cache

    response = await service.post_form("/account/keys", {"name": "late"})

    assert response.status == 303
    assert response.headers["Location"] == "/login"
    assert [key.name for key in await service.accounts.list_keys(service.user.id)] == ["tests"]
