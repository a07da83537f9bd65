"""The dashboard in a real browser (headless Chromium), against a real instance."""

import asyncio

import pytest
from browser import BROWSER, Browser

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="Debian's chromium is not installed and could not be "
                            "(.ci/run installs it with apt-get)")


def running_row(job_id):
    return f"document.querySelector('#running tr[data-job=\"{job_id}\"]')"


def recent_result(job_id):
    return f"document.querySelector('#recent tr[data-job=\"{job_id}\"]')?.dataset.result"


def test_dashboard_shows_a_new_job_then_its_cancellation(make_instance, make_web,
                                                          owner_token):
    inst = make_instance(test_size=2)
    web = make_web(inst)
    token = owner_token(inst)

    async def scenario():
        loop = asyncio.get_running_loop()
        async with Browser() as page:
            await page.open(f"{web.url}#token={token}")
            await page.wait_for("document.querySelectorAll('#nodes .node.idle').length === 2",
                                timeout=20)
            assert await page.evaluate("location.hash") == ""  # the token left the address
            assert "instance owner" in await page.evaluate(
                "document.getElementById('who').textContent")
            job_id = await asyncio.to_thread(inst.submit, "sleep", "60")
            submitted = loop.time()
            await page.wait_for(f"{running_row(job_id)} !== null", timeout=2)
            assert loop.time() - submitted <= 2
            assert await page.evaluate("document.querySelectorAll('#nodes .node.allocated')"
                                       ".length") == 1
            await asyncio.to_thread(inst.corral, "cancel", job_id)
            await page.wait_for(f"{recent_result(job_id)} === 'CANCELED'", timeout=5)
            assert await page.evaluate(f"{running_row(job_id)}") is None
            await page.wait_for("document.querySelectorAll('#nodes .node.idle').length === 2")

    asyncio.run(scenario())


def test_job_page_shows_eventlog_timeline_and_output(instance, make_web, owner_token):
    web = make_web(instance)
    token = owner_token(instance)
    job_id = instance.submit("echo", "hello from the dashboard")
    instance.wait_inactive(job_id)
    with instance.client() as client:
        names = [event["name"] for event in client.eventlog(job_id)]

    async def scenario():
        async with Browser() as page:
            await page.open(f"{web.url}#token={token}")
            await page.wait_for(f"{recent_result(job_id)} === 'COMPLETED'", timeout=20)
            await page.evaluate(f"{running_row(job_id).replace('#running', '#recent')}"
                                ".click()")
            timeline = "[...document.querySelectorAll('#timeline li')].map(li => li.dataset.event)"
            await page.wait_for(f"{timeline}.length === {len(names)}")
            assert await page.evaluate(timeline) == names
            assert await page.evaluate("document.getElementById('output').textContent") == \
                "hello from the dashboard\n"
            assert await page.evaluate("document.getElementById('overview').hidden") is True

    asyncio.run(scenario())


def test_dashboard_without_a_token_says_what_is_missing(instance, make_web):
    web = make_web(instance)

    async def scenario():
        async with Browser() as page:
            await page.open(web.url)
            status = await page.wait_for("document.getElementById('status')?.textContent",
                                         timeout=20)
            assert "Authorization: Bearer TOKEN" in status

    asyncio.run(scenario())
