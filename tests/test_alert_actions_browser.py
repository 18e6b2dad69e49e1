"""A supervisor acts from the alert itself, in a real headless Chromium, against a real worker.

Two critical alerts (units dispatched before a commanding officer was notified)
go through a worker on the shared test Kafka and Elasticsearch to Alertmanager
(the Debian package), an SMTP server, a generic webhook, Slack and Teams
receivers. Then, in Debian's Chromium driven by Selenium (``/usr/bin/chromedriver``,
no browser download):

- the "I'm taking it" link from the delivered e-mail opens the call page with its
  timeline (events, findings, alerts) and no personal data; the supervisor
  acknowledges; the page says so; the acknowledgement is announced on Slack, Teams,
  the webhook and by e-mail, Alertmanager gets a silence, and the alert never
  escalates while the other one can;
- a reused link, a forged signature, an expired link and a cross-site POST are each
  refused, and say so plainly;
- "escalate now" from the second alert's webhook payload pages the next tier at once;
- the finding resolving expires the Alertmanager silence; the deliveries index
  records who was paged, acknowledged and escalated when.

Screenshots of each page are saved under pytest's temporary folder (paths printed).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from elasticsearch import Elasticsearch
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from callwatch.producer import publish
from streams.alerting import links
from tests.conftest import Services, free_port
from tests.engine_helpers import LT, PO, ev
from tests.test_alerts_integration import AM_NOTIFY, COMMANDER, HOOK, Stack
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SLACK, TEAMS = "/slack", "/teams"
ESCALATE_AFTER_S = 40
REMIND_AFTER_S = 18
LINK_KEY = "link-key-for-tests-" + "0123456789abcdef" * 2
RULE = "commander-notified"
CALLER = {"agency": "ICE", "name": "Jordan Examplename", "phone": "502-555-0142"}


def _require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise AssertionError(
            f"{', '.join(missing)} missing: run `sudo bash deploy/local/install-debian-packages.sh`"
            " (installs Debian's chromium and chromium-driver)"
        )


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    _require_browser()
    profile = tempfile.mkdtemp(prefix="callwatch-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 "--window-size=412,915"):  # a phone's width
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: webdriver.Chrome, folder: Path, name: str) -> Path:
    """The whole page at phone width, saved as a test artefact."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(412, max(915, min(int(height) + 120, 6000)))
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(412, 915)
    print(f"\n[screenshot] {path}")
    return path


def page_text(driver: webdriver.Chrome) -> str:
    """The page's visible text; "" while a navigation replaces the page under us."""
    try:
        return str(driver.find_element(By.TAG_NAME, "body").text)
    except (StaleElementReferenceException, NoSuchElementException):
        return ""


class AttackerSite:
    """A page on another site (localhost, not 127.0.0.1) with a form aimed at a link."""

    def __init__(self, target: str) -> None:
        form = (
            "<!doctype html><title>win a prize</title>"
            f'<form method=post action="{target}">'
            '<input type=hidden name=by value="Mallory">'
            '<input type=hidden name=csrf value="guessed">'
            "<button id=go type=submit>Claim your prize</button></form>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(form)))
                self.end_headers()
                self.wfile.write(form)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://localhost:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def configure(stack: Stack) -> None:
    """Critical alerts to five channels at once and to the commander after a while."""
    stack.configure([{"channels": ["log"]}])  # receivers, tokens and env; routes below
    assert stack.smtp is not None and stack.am is not None
    key_file = stack.folder / "link-key"
    key_file.write_text(LINK_KEY)
    alerts_file = Path(stack.env["CALLWATCH_ALERTS_FILE"])
    config = yaml.safe_load(alerts_file.read_text())
    config["dashboard"]["timezone"] = "America/Kentucky/Louisville"
    config["channels"]["slack"] = {"type": "webhook", "format": "slack",
                                   "url": stack.hooks.url(SLACK)}
    config["channels"]["teams"] = {"type": "webhook", "format": "teams",
                                   "url": stack.hooks.url(TEAMS)}
    # the commanders' schedule: Lt. Diaz, reached on the commander channel, around the clock
    (stack.folder / "oncall.yaml").write_text(yaml.safe_dump({
        "version": 1, "timezone": "America/Kentucky/Louisville",
        "people": {"lt-diaz": {"name": "Lt. Diaz", "channels": ["commander"]}},
        "schedules": {"commanders": {"rotations": [
            {"name": "all-week", "people": ["lt-diaz"], "start": "2020-01-06T07:00",
             "shift_hours": 168}]}},
    }))
    config["oncall_file"] = "oncall.yaml"
    config["routes"] = [
        {"match": {"severity": ["critical"]},
         "renotify_minutes": REMIND_AFTER_S / 60,
         "escalation": [
             {"after_minutes": 0,
              "channels": ["alertmanager", "webhook", "email", "slack", "teams"]},
             {"after_minutes": ESCALATE_AFTER_S / 60, "oncall": "commanders"},
         ]},
        {"channels": ["log"]},
    ]
    alerts_file.write_text(yaml.safe_dump(config))
    stack.env["CALLWATCH_LINK_KEY_FILE"] = str(key_file)
    stack.env["CALLWATCH_LINK_TTL_MINUTES"] = "30"


def dispatched_before_a_commander(call_id: str) -> list[Any]:
    """An ICE call on a recorded line with a lawful basis, units sent, no commander yet."""
    return [
        ev("call.received", call_id, 0, caller=CALLER, call_type="ASSIST OTHER AGENCY",
           line={"kind": "admin", "recorded": True},
           narrative="ICE agent asks for help, callback 502-555-0142"),
        ev("recording.started", call_id, 0),
        ev("basis.recorded", call_id, 1, basis="criminal_warrant", reference="W-7"),
        ev("unit.dispatched", call_id, 2, unit="4A12", officer=PO),
    ]


def firing_payload(stack: Stack, call_id: str) -> dict[str, Any] | None:
    for request in stack.hooks.accepted(HOOK):
        body = request.body
        if body["call_id"] == call_id and body["kind"] == "firing":
            return dict(body)
    return None


def email_link(stack: Stack, call_id: str) -> str | None:
    assert stack.smtp is not None
    for message in stack.smtp.received():
        if str(message["X-Callwatch-Dedup-Key"]) == f"{call_id}/{RULE}" and "#firing#" in str(
            message["X-Callwatch-Alert-Id"]
        ):
            found = re.search(r"I'M TAKING IT \(acknowledge, one click\): (\S+)",
                              message.get_content())
            return found.group(1) if found else None
    return None


def silences(stack: Stack, call_id: str) -> list[dict[str, Any]]:
    assert stack.am is not None
    response = httpx.get(f"{stack.am.url}/api/v2/silences",
                         params={"filter": f'call_id="{call_id}"'}, timeout=5)
    response.raise_for_status()
    return list(response.json())


def alert_docs(es: Elasticsearch, stack: Stack) -> list[dict[str, Any]]:
    es.indices.refresh(index=f"{stack.prefix}-alerts")
    found = es.search(index=f"{stack.prefix}-alerts", query={"match_all": {}}, size=500)
    return [hit["_source"] for hit in found["hits"]["hits"]]


def test_a_supervisor_acknowledges_from_the_alert_in_a_real_browser(
    services: Services, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    stack = Stack(tmp_path, services)
    attacker: AttackerSite | None = None
    taken, other = "ICE-PAGE-TAKEN", "ICE-PAGE-OTHER"
    try:
        assert stack.smtp is not None and stack.am is not None
        stack.smtp.start()
        configure(stack)
        worker = stack.start_worker()
        publish(dispatched_before_a_commander(taken) + dispatched_before_a_commander(other),
                stack.settings.topic("raw"), settings=stack.settings)
        link = wait_for("the e-mail with its action link", lambda: email_link(stack, taken),
                        timeout=120, workers=[worker])
        fired_at = time.monotonic()
        payload = wait_for("the webhook payload of the other alert",
                           lambda: firing_payload(stack, other), timeout=60, workers=[worker])
        assert link.startswith(f"http://127.0.0.1:{stack.env['CALLWATCH_ACK_PORT']}/a/")
        assert payload["ack_url"] and payload["escalate_url"] and payload["links_expire"]

        # ---- the call page from the e-mail's link: timeline, policy, the button
        def page_with_timeline() -> str | None:
            browser.get(link)
            text = page_text(browser)
            # the call's events come from the events index, the breach and the sends from
            # the findings and alerts indices, each indexed by its own stage: under load the
            # events can land after the alert went out (a fresh-clone run failed on it)
            wanted = ("Policy breach, C2", "Alert sent to", "Call received from ICE",
                      "Unit dispatched: unit 4A12")
            return text if all(w in text for w in wanted) else None

        text = wait_for("the call page with events, finding and alerts", page_with_timeline,
                        timeout=60, workers=[worker])
        screenshot(browser, shots, "1-call-page-from-email")
        assert "OPEN: nobody has acknowledged yet" in text
        assert f"Call {taken}: no commanding officer took the call in time" in text
        assert "A commanding officer handles every call from immigration agents" in text
        assert "Contact the on-duty commanding officer now" in text
        assert "Call received from ICE" in text and "Unit dispatched: unit 4A12" in text
        source = browser.page_source
        for personal in ("Examplename", "555-0142", "Jordan"):
            assert personal not in source, f"{personal!r} on the page"
        assert browser.find_elements(By.TAG_NAME, "script") == []

        browser.find_element(By.ID, "by").send_keys("Sgt. Ray")
        browser.find_element(By.ID, "comment").send_keys("Lt. Diaz is taking the call")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for("the page to confirm", lambda: "Done: you have the call" in page_text(browser),
                 timeout=30)
        text = page_text(browser)
        screenshot(browser, shots, "2-acknowledged")
        assert re.search(r"TAKEN: Sgt\. Ray acknowledged at \d\d:\d\d", text)
        assert "I'm taking it" not in text  # no second button

        # ---- announced on the channels that carried it, in each one's format
        said = re.compile(r'Acknowledged by Sgt\. Ray at \d\d:\d\d E[SD]T: "Lt\. Diaz is taking'
                          r' the call"')

        def announced() -> dict[str, Any] | None:
            slack = [r.body for r in stack.hooks.accepted(SLACK)
                     if r.body["text"].startswith("[ACKNOWLEDGED]")]
            teams = [r.body for r in stack.hooks.accepted(TEAMS)
                     if "ACKNOWLEDGED" in str(r.body)]
            hook = [r.body for r in stack.hooks.accepted(HOOK) if r.body["kind"] == "acknowledged"]
            mail = [m for m in stack.smtp.received()  # type: ignore[union-attr]
                    if str(m["Subject"]).startswith("[ACKNOWLEDGED]")]
            if slack and teams and hook and mail:
                return {"slack": slack, "teams": teams, "hook": hook, "mail": mail}
            return None

        seen = wait_for("the acknowledgement announced on every channel", announced,
                        timeout=60, workers=[worker])
        slack_line = seen["slack"][0]["blocks"][0]["text"]["text"]
        assert slack_line.startswith(":white_check_mark: *") and said.search(slack_line)
        teams_line = seen["teams"][0]["attachments"][0]["content"]["body"][0]
        assert teams_line["color"] == "good" and said.search(teams_line["text"])
        assert said.search(seen["hook"][0]["what"]) and seen["hook"][0]["call_id"] == taken
        mail = seen["mail"][0]
        assert said.search(mail.get_content()) and mail["In-Reply-To"]
        assert all(body["call_id"] == taken for body in seen["hook"])  # only the one taken

        # ---- Alertmanager: a silence on exactly the alert's labels
        def silenced() -> dict[str, Any] | None:
            active = [s for s in silences(stack, taken) if s["status"]["state"] == "active"]
            return active[0] if active else None

        silence = wait_for("the acknowledgement as a silence in Alertmanager", silenced,
                           timeout=30, workers=[worker])
        assert {(m["name"], m["value"]) for m in silence["matchers"]} == {
            ("alertname", "CallwatchPolicyViolation"), ("call_id", taken), ("rule", RULE)}
        assert "Sgt. Ray" in silence["createdBy"]

        # ---- the same link again: used, said plainly, no button
        browser.get(link)
        text = page_text(browser)
        screenshot(browser, shots, "3-link-used-again")
        assert "This link has already been used (acknowledged by Sgt. Ray)" in text
        assert not browser.find_elements(By.CSS_SELECTOR, "button")

        # ---- a forged signature and an expired link
        _body, _, mac = link.rpartition("/")[2].partition(".")
        forged = link.replace(mac, ("A" if mac[0] != "A" else "B") + mac[1:])
        browser.get(forged)
        assert "This link is not valid" in page_text(browser)
        assert "Nothing was done" in page_text(browser)
        screenshot(browser, shots, "4-forged-link")
        assert httpx.get(forged, timeout=5).status_code == 403
        claim = links.verify(LINK_KEY.encode(), link.rpartition("/")[2], int(time.time() * 1000))
        assert isinstance(claim, links.LinkClaim)
        stale = links.claim("ack", dedup_key=f"{other}/{RULE}", alert_id=claim.alert_id,
                            recipient="channel:email", channel="email",
                            expires_at=int(time.time() * 1000) - 60_000)
        expired = link.rpartition("/")[0] + "/" + links.sign(LINK_KEY.encode(), stale)
        browser.get(expired)
        text = page_text(browser)
        screenshot(browser, shots, "5-expired-link")
        assert "This link has expired" in text and f"callwatch ack {other}/{RULE}" in text
        assert httpx.get(expired, timeout=5).status_code == 410

        # ---- a cross-site POST at the other alert's link, from a page on another site
        browser.get(payload["ack_url"])  # the supervisor has the real page open too
        attacker = AttackerSite(payload["ack_url"])
        browser.get(attacker.url)
        browser.find_element(By.ID, "go").click()
        wait_for("the cross-site POST answered", lambda: "Refused" in page_text(browser),
                 timeout=30)
        assert "Refused: this request came from another site" in page_text(browser)
        screenshot(browser, shots, "6-cross-site-post-refused")
        # same origin but no page cookie and a guessed token: refused too
        forged_form = httpx.post(payload["ack_url"], data={"by": "Mallory", "csrf": "guessed"},
                                 headers={"Origin": link.split("/a/")[0]}, timeout=5)
        assert forged_form.status_code == 403 and "did not come from the callwatch page" in (
            forged_form.text)

        # ---- "escalate now" on the other alert: the commander is paged at once
        browser.get(payload["escalate_url"])
        assert "Escalate now" in page_text(browser)
        screenshot(browser, shots, "7-escalate-now-page")
        browser.find_element(By.ID, "by").send_keys("Sgt. Kim")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for("the escalation confirmed", lambda: "next tier is being paged" in
                 page_text(browser), timeout=30)
        asked_at = time.monotonic()
        wait_for("the commander paged for the other alert",
                 lambda: any(r.headers["Idempotency-Key"].startswith(f"{other}/")
                             for r in stack.hooks.accepted(COMMANDER)),
                 timeout=30, workers=[worker])
        assert time.monotonic() - fired_at < ESCALATE_AFTER_S  # before its own time

        # ---- the unacknowledged one is reminded; the acknowledged one is not
        wait_for("a reminder of the unacknowledged alert",
                 lambda: [r for r in stack.hooks.accepted(HOOK) if r.body["kind"] == "reminder"
                          and r.body["call_id"] == other], timeout=30, workers=[worker])
        # ---- the acknowledged alert never escalates
        remaining = ESCALATE_AFTER_S + 5 - (time.monotonic() - fired_at)
        if remaining > 0:
            time.sleep(remaining)
        commander_keys = {r.headers["Idempotency-Key"].split("#")[0]
                          for r in stack.hooks.accepted(COMMANDER)}
        assert commander_keys == {f"{other}/{RULE}"}
        assert not [r for r in stack.hooks.accepted(HOOK)
                    if r.body["kind"] == "reminder" and r.body["call_id"] == taken]

        # ---- the finding resolves (a commander is assigned, late): the silence expires
        publish([ev("commander.assigned", taken, 3, officer=LT)], stack.settings.topic("raw"),
                settings=stack.settings)

        def silence_expired() -> bool:
            states = {s["status"]["state"] for s in silences(stack, taken)}
            return bool(states) and states == {"expired"}

        wait_for("the silence expired once the finding resolved", silence_expired, timeout=60,
                 workers=[worker])
        browser.get(link)
        assert "RESOLVED: no action needed now" in page_text(browser)
        screenshot(browser, shots, "8-resolved")

        # ---- who was paged, acknowledged and escalated when: the deliveries index
        es = Elasticsearch(services.es_url)

        def recorded() -> list[dict[str, Any]] | None:
            docs = alert_docs(es, stack)
            kinds = {d["kind"] for d in docs}
            wanted = {"delivery", "announcement", "ack", "escalate", "escalation"}
            return docs if wanted <= kinds else None

        docs = wait_for("the records indexed", recorded, timeout=60)
        acks = [d for d in docs if d["kind"] == "ack"]
        assert [(d["dedup_key"], d["by"], d["via"], d["outcome"]) for d in acks] == [
            (f"{taken}/{RULE}", "Sgt. Ray", "link", "acknowledged")]
        assert acks[0]["link_id"] == claim.link_id and acks[0]["recipient"] == "channel:email"
        escalations = [d for d in docs if d["kind"] == "escalation"]
        assert [(d["dedup_key"], d["tier"], d["reason"], d["by"], d["channels"],
                 d["recipient_names"]) for d in escalations] == [
            (f"{other}/{RULE}", 1, "requested", "Sgt. Kim", ["commander"], ["Lt. Diaz"])]
        paged = [d for d in docs if d.get("channel") == "commander" and d["kind"] == "delivery"]
        assert paged and all(d["recipient"] == "lt-diaz" for d in paged)
        announcements = {d["channel"] for d in docs if d["kind"] == "announcement"
                         and d["outcome"] == "sent"}
        assert announcements == {"webhook", "email", "slack", "teams"}
        assert not any(d["kind"] == "ack" for d in docs if d["dedup_key"] == f"{other}/{RULE}")
        print(f"\n[actions] acknowledged in the browser, announced on {sorted(announcements)},"
              f" silenced in Alertmanager then expired on resolution; reused, forged, expired"
              f" and cross-site refused; escalate-now paged the commander"
              f" {time.monotonic() - asked_at:.1f}s before this line; Alertmanager"
              f" notifications seen: {len(stack.hooks.accepted(AM_NOTIFY))}")
    finally:
        if attacker is not None:
            attacker.close()
        stack.close()
