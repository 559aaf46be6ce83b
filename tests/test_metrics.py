"""GET /metrics: what an operator graphs, in Prometheus' text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from .service import Service
from .webhooks import envelope, post_webhook


async def scrape(service: Service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await service.admin_client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(await response.text())
        for sample in family.samples
    }


async def test_calls_by_status_and_pending_come_from_the_store(service: Service) -> None:
    done = await service.book("+12025550142", in_s=60)
    await service.book("+12025550143", in_s=3600)
    await service.run_until_final(done["id"], advance_s=60)

    samples = await scrape(service)

    assert samples[("dialajoke_calls", (("status", "completed"),))] == 1
    assert samples[("dialajoke_calls", (("status", "scheduled"),))] == 1
    assert samples[("dialajoke_calls", (("status", "failed"),))] == 0
    assert samples[("dialajoke_pending_calls", ())] == 1


async def test_webhooks_are_counted_by_result(service: Service) -> None:
    event = envelope("call.cost", event_id="evt-42")
    await post_webhook(service, event)
    await post_webhook(service, event)
    await service.client.post("/webhook", json=event)

    samples = await scrape(service)

    assert samples[("dialajoke_webhooks_total", (("result", "accepted"),))] == 1
    assert samples[("dialajoke_webhooks_total", (("result", "duplicate"),))] == 1
    assert samples[("dialajoke_webhooks_total", (("result", "refused"),))] == 1


async def test_requests_are_counted_by_route_pattern_not_raw_path(service: Service) -> None:
    await service.client.get("/api/calls/12345")
    await service.client.get("/no/such/page/12345")

    samples = await scrape(service)

    route_of_a_call = (("method", "GET"), ("route", "/api/calls/{call_id}"), ("status", "404"))
    assert samples[("dialajoke_http_requests_total", route_of_a_call)] == 1
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples[("dialajoke_http_requests_total", unmatched)] == 1
    assert not any("12345" in str(labels) for _, labels in samples)
