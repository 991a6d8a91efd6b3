"""Drives the web console of a running gateway in a real headless Chromium (Debian's chromium and
chromium-driver, through selenium), as an operator would: sign in with an admin key, read the
overview the traffic drove, open a job's timeline, create a key and use it, revoke it and see it
refused, and check that a write without the session's CSRF token is refused. Saves screenshots
at 1280 and 390 pixels wide. Exits non-zero with a message on the first thing that does not hold.

Usage: console_browser_check.py ADMIN_URL PUBLIC_URL ADMIN_KEY SCREENSHOT_DIR
"""

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

admin, public, key, shots = sys.argv[1:5]
os.makedirs(shots, exist_ok=True)


def check(condition, message):
    if not condition:
        print("FAILED: " + message, file=sys.stderr)
        sys.exit(1)


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"]:
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)


def wait_for(condition, message, seconds=15):
    """Polls `condition` (pages load after a click in their own time) until it holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:
            pass
        time.sleep(0.1)
    check(False, message)


def viewport(width):
    """Makes the page's viewport `width` CSS pixels wide (a phone's at 390), as a device would."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def screenshot(name, width):
    """A full-page screenshot at `width` pixels."""
    viewport(width)
    time.sleep(0.3)  # the page lays itself out again for the new width
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(size["height"], 4000), "scale": 1},
        },
    )
    with open(os.path.join(shots, f"{name}-{width}.png"), "wb") as file:
        file.write(base64.b64decode(shot["data"]))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def session_cookie():
    cookies = {c["name"]: c for c in driver.get_cookies()}
    check("wharf_console" in cookies, f"no session cookie after sign-in: {list(cookies)}")
    return cookies["wharf_console"]


def post_form(path, fields, cookie):
    """A form post from outside the browser, with the session cookie: what a forged request sends."""
    request = urllib.request.Request(
        admin + path,
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "wharf_console=" + cookie},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def call_v1(token):
    request = urllib.request.Request(
        public + "/v1/text-to-image",
        data=json.dumps({"prompt": "a quay", "model_id": "", "width": 64, "height": 48}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


try:
    # Without a session every page sends the browser to the sign-in form.
    driver.get(admin + "/console")
    check(driver.current_url.endswith("/console/sign-in"), f"not sent to sign in: {driver.current_url}")
    screenshot("sign-in", 1280)
    driver.find_element(By.ID, "key").send_keys("wharf_notakey_000")
    driver.find_element(By.ID, "sign-in").click()
    wait_for(lambda: "not an active API key" in driver.page_source, "a wrong key was not refused")

    driver.find_element(By.ID, "key").send_keys(key)
    driver.find_element(By.ID, "sign-in").click()
    wait_for(lambda: driver.current_url.rstrip("/").endswith("/console"), f"not on the overview after sign-in: {driver.current_url}")
    cookie = session_cookie()
    check(cookie.get("httpOnly") is True, f"the session cookie is readable by scripts: {cookie}")
    check(cookie.get("sameSite") == "Strict", f"the session cookie is not SameSite=Strict: {cookie}")

    # The overview shows the traffic the suite drove, as tiles and drawn charts.
    driver.get(admin + "/console?range=1h")
    tiles = {
        tile.find_element(By.CLASS_NAME, "label").text.lower(): tile.find_element(By.CLASS_NAME, "value").text
        for tile in driver.find_elements(By.CSS_SELECTOR, "#tiles .tile")
    }
    requests = int(tiles.get("requests", "0").replace(",", "") or 0)
    check(requests >= int(os.environ.get("EXPECTED_REQUESTS", "1")), f"the overview shows {tiles}")
    check(tiles.get("network p50", "–") != "–", f"no latency on the overview: {tiles}")
    lines = driver.find_elements(By.CSS_SELECTOR, "svg.chart polyline, svg.chart circle")
    check(len(lines) > 0, "the charts draw nothing")
    screenshot("overview", 1280)
    screenshot("overview", 390)
    for page in ["/console?range=1h", "/console/orchestrators", "/console/tenants/dev", "/console/audit"]:
        viewport(390)
        driver.get(admin + page)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check(overflow <= 0, f"{page} is wider than a 390 px screen by {overflow} px")
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # Orchestrators: every member of the pool, with its record.
    driver.get(admin + "/console/orchestrators?range=1h")
    rows = driver.find_elements(By.CSS_SELECTOR, "#orchestrators tbody tr")
    check(len(rows) >= int(os.environ.get("EXPECTED_ORCHESTRATORS", "1")), f"{len(rows)} orchestrators shown")
    screenshot("orchestrators", 1280)

    # Jobs: the development tenant's, then one job's timeline.
    driver.get(admin + "/console/jobs?tenant=dev")
    links = driver.find_elements(By.CSS_SELECTOR, "#jobs tbody a")
    check(len(links) > 0, "no jobs listed for the dev tenant")
    target = os.environ.get("TIMELINE_JOB")
    if target:
        driver.get(admin + "/console/jobs?id=" + target)
    else:
        links[0].click()
    wait_for(lambda: "/console/jobs/job_" in driver.current_url, f"not on a job page: {driver.current_url}")
    bars = driver.find_elements(By.CSS_SELECTOR, "#timeline svg rect")
    check(len(bars) > 0, "the job's timeline has no attempts")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#attempts tbody tr")) == len(bars), "timeline and attempts differ")
    screenshot("job", 1280)
    screenshot("job", 390)

    # Create a key for the dev tenant, use it, revoke it, see it refused.
    driver.get(admin + "/console/tenants/dev")
    name = driver.find_element(By.ID, "key-name")
    name.clear()
    name.send_keys("from-the-browser")
    driver.find_element(By.ID, "scope-v1").click()
    driver.find_element(By.ID, "create-key").click()
    wait_for(lambda: driver.find_element(By.ID, "new-token"), "no new key shown")
    token = driver.find_element(By.ID, "new-token").text.strip()
    check(token.startswith("wharf_"), f"no token shown: {token!r}")
    screenshot("tenant", 1280)
    check(call_v1(token) == 200, "the new key does not work")
    prefix = token.split("_")[1]
    driver.get(admin + "/console/tenants/dev")
    driver.find_element(By.ID, "revoke-" + prefix).click()
    wait_for(lambda: "revoked=" in driver.current_url and "revoked" in driver.page_source, "no confirmation of the revocation")
    status = call_v1(token)
    check(status == 401, f"the revoked key still works: {status}")

    # A write without the session's CSRF token (or with another one) is refused, and does nothing.
    session = session_cookie()["value"]
    check(post_form("/console/tenants", {"name": "forged"}, session) == 403, "a write without a CSRF token was not refused")
    check(post_form("/console/tenants", {"name": "forged", "csrf": "AAAA"}, session) == 403, "a wrong CSRF token was accepted")
    driver.get(admin + "/console/tenants")
    check("forged" not in driver.find_element(By.ID, "tenants").text, "the forged write created a tenant")

    # The audit log shows the console's writes, the refused ones too.
    driver.get(admin + "/console/audit?range=1h")
    log = driver.find_element(By.ID, "audit").text
    for expected in ["console.sign-in", "key.create", "key.revoke", "denied"]:
        check(expected in log, f"the audit log has no {expected}")
    screenshot("audit", 1280)

    driver.get(admin + "/console/tenants")
    screenshot("tenants", 390)
    driver.get(admin + "/console/plugins")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#plugins tbody tr")) >= int(os.environ.get("EXPECTED_PLUGINS", "0")), "plugins")

    # Signing out ends the session in this browser.
    driver.get(admin + "/console")
    driver.find_element(By.CSS_SELECTOR, "form.sign-out button").click()
    wait_for(lambda: driver.current_url.endswith("/console/sign-in"), "not sent to sign in after signing out")
    driver.get(admin + "/console")
    check(driver.current_url.endswith("/console/sign-in"), "still signed in after signing out")
    print("console checks passed")
finally:
    driver.quit()
