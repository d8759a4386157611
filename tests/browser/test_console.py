"""The member-care console in a real headless Chromium against the local server: the journey an
agent takes (sign in, find, read, act with a reason, sign out), what the page must never do (run a
member's text as HTML, offer an agent an admin action), and how it is reached (keyboard alone,
375 px, axe-core). Each check compares the page with what the API itself answers."""

import datetime as dt
import json
import uuid
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import Select

from harness import PARTNER_FILE

ORG_TZ = ZoneInfo("Asia/Kolkata")
XSS = "<img src=x onerror=window.__pwned=1>"


def org_day(days=0):
    return (dt.datetime.now(ORG_TZ) + dt.timedelta(days=days)).date().isoformat()


def instant(iso):
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def loyalty_program(admin):
    data = admin.ok("GET", "/v2/organization/programs")["data"]
    return next(lp for lp in data if lp["programName"] == "Demo Rewards")["programId"]


def new_customer(admin):
    tag = uuid.uuid4().hex[:10]
    mobile = "91" + str(int(tag, 16) % 10**10).zfill(10)
    out = admin.ok("POST", "/v2/customers", {"mobile": mobile, "email": f"{tag}@example.com",
                                             "programIds": [loyalty_program(admin)]})
    return {"id": out["customer"]["id"], "mobile": mobile, "tag": tag}


def link(api, customer, program, ref):
    out = api.ok("POST", "/v2/partnerProgram/linkCustomer", {"linkCustomers": [{
        "customer": {"id": customer["id"]},
        "linkToPartnerPrograms": [{"partnerProgramName": program, "customerPartnerReference": ref}]}]})
    status = out["linkCustomers"][0]["linkToPartnerPrograms"][0]["partnerLinkStatus"]
    assert status["status"], status


def delink(api, customer, program):
    api.ok("POST", "/v2/partnerProgram/deLinkCustomer", {"deLinkCustomers": [{
        "customer": {"id": customer["id"]}, "deLinkFromPartnerPrograms": [{"partnerProgramName": program}]}]})


def sky_member(admin, agent, days=40, tier="Gold"):
    c = new_customer(admin)
    c["mid"] = f"SM-{c['tag']}"
    link(agent, c, "SkyMiles", {"partnerMembershipId": c["mid"], "partnerTierName": tier,
                                "partnerTierExpiryDate": org_day(days)})
    return c


def memberships(api, c):
    return api.ok("GET", "/v2/partnerProgram/customerPartnerPrograms", query={
        "identifierName": "id", "identifierValue": c["id"], "includeEnded": "true", "includeBenefits": "true"})


def lounge_used(api, c):
    p = memberships(api, c)["linkedPartnerPrograms"][0]
    return next(b for b in p["benefitsSummary"] if b["name"] == "LoungeAccess")["countAvailedInCurrentCycle"]


def choose(console, label, value, within=None):
    Select(console.field(label, within)).select_by_value(value)


# ------------------------------------------------------------------ the journey

def test_sign_in_names_the_agent_and_a_refused_secret_returns_to_sign_in_with_the_apis_message(console, agent, server):
    from harness import Api
    status, body = Api(server.base, agent.key, "not-the-secret").call("GET", "/v2/organization/me")
    assert status == 401
    console.open()
    console.field("Client key").send_keys(agent.key)
    console.field("Secret").send_keys("not-the-secret")
    console.button("Sign in").click()
    console.wait.until(lambda d: d.find_element(By.ID, "signin-error").text)
    assert console.text("#signin-error") == body["errors"][0]["message"]
    assert console.d.execute_script("return sessionStorage.length") == 0, "refused credentials are not kept"
    console.screenshot("sign-in")
    console.sign_in(agent)
    assert console.text("#signed-in-as") == "Asha Rao · agent"


def test_find_a_member_by_mobile_then_by_a_partner_membership_id_that_has_ended(console, admin, agent):
    c = sky_member(admin, agent)
    delink(agent, c, "SkyMiles")
    link(agent, c, "FlexiPass", {})
    console.sign_in(agent)
    console.search("mobile", c["mobile"])
    console.member_shown(c["id"])
    assert "Ended" in console.card("SkyMiles").text
    assert "Active" in console.card("FlexiPass").text
    console.screenshot("member")
    console.search("partnerMembershipId", c["mid"])
    console.member_shown(c["id"])
    assert c["mid"] in console.card("SkyMiles").text


def test_memberships_and_the_next_step_card_say_what_the_api_says(console, admin, agent):
    c = sky_member(admin, agent, days=40, tier="Gold")
    link(agent, c, "FlexiPass", {})
    api = memberships(agent, c)
    preview = agent.ok("GET", "/v2/partnerProgram/expiryPreview",
                       query={"identifierName": "id", "identifierValue": c["id"]})["data"]
    console.sign_in(agent)
    console.search("id", str(c["id"]))
    console.member_shown(c["id"])
    for p in api["linkedPartnerPrograms"]:
        card = console.card(p["partnerProgramName"])
        assert p["partnerProgramType"] in card.text
        if p.get("partnerTierName"):
            assert p["partnerTierName"] in card.text
        shown = {instant(t.get_attribute("datetime")) for t in card.find_elements(By.CSS_SELECTOR, "dd time")}
        for key in ("partnerTierExpiryDate", "partnerProgramMembershipStartDate", "partnerProgramMembershipEndDate"):
            if p.get(key):
                assert instant(p[key]) in shown, f"{p['partnerProgramName']} {key}"
        entries = [e for e in preview if e["partnerProgramId"] == p["partnerProgramId"]]
        step, entry = next((a, e) for e in entries for a in e["actions"] if not a["action"].endswith("REMINDER"))
        next_card = card.find_element(By.CSS_SELECTOR, "[data-testid=next-step]")
        label = step["action"][0] + step["action"][1:].lower().replace("_", " ")
        assert label in next_card.find_element(By.CSS_SELECTOR, ".next-action").text
        assert instant(next_card.find_element(By.CSS_SELECTOR, "time").get_attribute("datetime")) == instant(step["at"])
        then = next_card.find_element(By.CSS_SELECTOR, ".next-result").text
        assert entry.get("resultingTierName", "") in then and entry["resultingStatus"][1:].lower().replace("_", " ") in then
        reminders = [r for e in entries for r in e.get("reminders", [])]
        shown = next_card.find_elements(By.CSS_SELECTOR, "ul li")
        assert len(shown) == len(reminders), (reminders, [li.text for li in shown])
    # Every date in the org's zone and the browser's, the UTC instant on hover.
    t = console.card("SkyMiles").find_element(By.CSS_SELECTOR, "dd time")
    org, local = t.find_element(By.CSS_SELECTOR, ".org").text, t.find_element(By.CSS_SELECTOR, ".local").text
    assert org.endswith("(org)") and local.endswith("(America/New_York)") and org[:-6] != local.split(" (")[0]
    assert t.get_attribute("title") == "UTC " + t.get_attribute("datetime")


def renew_dialog(console, day, reason="GOODWILL", note="Loyal flyer"):
    console.button("Change tier or expiry", console.card("SkyMiles")).click()
    dialog = console.dialog()
    choose(console, "Change", "RENEW", dialog)
    choose(console, "New tier", "Gold", dialog)
    console.field("New tier expiry date", dialog).send_keys(*day_keys(day))
    choose(console, "Reason", reason, dialog)
    console.field("Note", dialog).send_keys(note)
    console.button("Preview", dialog).click()
    return dialog


def day_keys(day):
    y, m, d = day.split("-")
    return [m, d, y]  # Chromium's date input in an en-US browser: month, day, year


def test_renew_with_a_reason_and_the_timeline_shows_the_renewal_its_reason_and_its_actor(console, admin, agent):
    c = sky_member(admin, agent, days=20)
    console.sign_in(agent)
    console.search("mobile", c["mobile"])
    console.member_shown(c["id"])
    day = org_day(400)
    dialog = renew_dialog(console, day)
    preview = console.visible("[data-testid=preview]").text
    assert "Renew: tier Gold → Gold" in preview and day in preview
    console.screenshot("renew-preview")
    console.el("[data-testid=confirm]").click()
    console.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    console.member_shown(c["id"])
    console.wait.until(lambda d: "Renew" in d.find_element(By.CSS_SELECTOR, "#timeline li").text)
    first = console.el("#timeline li")
    assert "Renew · SkyMiles" in first.text
    assert "By Asha Rao (agent)" in first.text and "Why: Goodwill: Loyal flyer" in first.text
    history = agent.ok("GET", "/v2/partnerProgram/customerActivityHistories",
                       query={"identifierName": "id", "identifierValue": c["id"], "activityType": "LINKINGUPDATES"})
    renewal = next(a for d in history["data"] for a in d["customerActivityHistory"] if a["activityType"] == "RENEW")
    assert renewal["reason"] == {"code": "GOODWILL", "note": "Loyal flyer"}
    assert renewal["actor"]["displayName"] == "Asha Rao" and renewal["actor"]["role"] == "agent"
    console.screenshot("timeline")


def test_a_renewal_dated_in_the_past_shows_2003_and_its_message_next_to_the_date(console, admin, agent):
    c = sky_member(admin, agent)
    console.sign_in(agent)
    console.search("id", str(c["id"]))
    console.member_shown(c["id"])
    dialog = renew_dialog(console, org_day(-3))
    console.el("[data-testid=confirm]").click()
    date = console.field("New tier expiry date", dialog)
    error = console.d.find_element(By.ID, date.get_attribute("id") + "-err")
    console.wait.until(lambda d: error.text)
    assert error.text.startswith("2003: Partner tier expiry date should not be a past date.")
    assert date.get_attribute("aria-invalid") == "true"
    console.screenshot("refusal-2003")


def preview_a_lounge_visit(console, admin, agent, reason, bill=None):
    """A SkyMiles member opened by an agent, with a LoungeAccess benefit previewed; the member
    and the count before it."""
    c = sky_member(admin, agent)
    before = lounge_used(agent, c)
    console.sign_in(agent)
    console.search("id", str(c["id"]))
    console.member_shown(c["id"])
    console.button("Record a benefit", console.card("SkyMiles")).click()
    dialog = console.dialog()
    choose(console, "Benefit", "LoungeAccess", dialog)
    if bill:
        console.field("Bill number", dialog).send_keys(bill)
    choose(console, "Reason", reason, dialog)
    console.button("Preview", dialog).click()
    return c, before


def test_a_double_submitted_benefit_is_recorded_once(console, admin, agent):
    c, before = preview_a_lounge_visit(console, admin, agent, "CUSTOMER_REQUEST", bill="B-77")
    assert f"Used this cycle: {before} of 4 → {before + 1} of 4" in console.visible("[data-testid=preview]").text
    confirm = console.el("[data-testid=confirm]")
    # Every POST the page sends from here on, with its Idempotency-Key.
    console.d.execute_script("""
        window.__keys = []; const send = window.fetch;
        window.fetch = (url, opts) => { if (opts && opts.method === 'POST') window.__keys.push(opts.headers['Idempotency-Key']);
                                       return send(url, opts); };""")
    console.d.execute_script("arguments[0].click(); arguments[0].click();", confirm)
    console.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    console.member_shown(c["id"])
    assert lounge_used(agent, c) == before + 1
    keys = console.d.execute_script("return window.__keys")
    assert len(keys) >= 1 and len(set(keys)) == 1 and keys[0], f"one submission, one key: {keys}"
    console.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#timeline li[data-activity="BENEFITSAVAILED"]'))
    assert len(console.d.find_elements(By.CSS_SELECTOR, '#timeline li[data-activity="BENEFITSAVAILED"]')) == 1
    row = console.el('tr[data-benefit="LoungeAccess"] .used').text
    assert row == f"{before + 1} of 4"


def test_an_agent_cannot_use_admin_actions_and_the_api_refuses_them_too(console, agent):
    console.sign_in(agent)
    register = console.el("#register-customer")
    assert not register.is_enabled()
    why = console.d.find_element(By.ID, register.get_attribute("aria-describedby")).text
    assert why == "Only an admin can do this; you are signed in as agent."
    status, _ = agent.call("POST", "/v2/customers", {"mobile": "919999999999"})
    assert status == 403
    # The same refusal for the page's own credentials, from inside the page.
    status = console.d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('../v2/customers', {method: 'POST', headers: {'Content-Type': 'application/json',
          Authorization: 'Basic ' + sessionStorage.getItem('pp.console.auth')}, body: '{"mobile":"919999999998"}'})
          .then(r => done(r.status));""")
    assert status == 403
    status, _ = agent.call("PUT", "/v2/organization/partnerPrograms/Other", {"programId": 1, "partnerProgramType": "EXTERNAL"})
    assert status == 403


def test_sign_out_leaves_nothing_in_storage(console, admin, agent):
    c = sky_member(admin, agent)
    console.sign_in(agent)
    console.search("mobile", c["mobile"])
    console.member_shown(c["id"])
    assert console.d.execute_script("return sessionStorage.length") == 1
    console.el("#sign-out").click()
    console.field("Client key")
    stored = console.d.execute_script(
        "return [sessionStorage.length, localStorage.length, document.cookie, document.body.innerText]")
    assert stored[:3] == [0, 0, ""]
    assert c["mobile"] not in stored[3]
    console.d.refresh()
    assert console.field("Client key").is_displayed(), "a reload after sign-out asks for credentials again"


# ------------------------------------------------------------------ what must never happen

def test_values_from_the_api_and_from_members_render_as_text_never_as_html(console, admin, agent):
    program = admin.call("PUT", "/v2/organization/partnerPrograms/" + __import__("urllib.parse").parse.quote(XSS, safe=""),
                         {"programId": loyalty_program(admin), "partnerProgramType": "EXTERNAL", "tierBased": True,
                          "partnerProgramTiers": [{"tierNumber": 1, "tierName": XSS}],
                          "partnerProgramDescription": XSS})
    assert program[0] in (200, 201), program
    c = new_customer(admin)
    link(agent, c, XSS, {"partnerMembershipId": XSS, "partnerTierName": XSS, "partnerTierExpiryDate": org_day(30)})
    console.sign_in(agent)
    console.search("id", str(c["id"]))
    console.member_shown(c["id"])
    card = console.card(XSS)
    assert card.find_element(By.TAG_NAME, "h3").text == XSS
    assert card.text.count(XSS) >= 3, card.text  # program, membership id, tier
    assert not console.d.find_elements(By.CSS_SELECTOR, "main img")
    assert console.d.execute_script("return window.__pwned") is None
    console.button("Catalog").click()
    console.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "article[data-program]"))
    assert XSS in console.text("main")
    assert not console.d.find_elements(By.CSS_SELECTOR, "main img")
    assert console.d.execute_script("return window.__pwned") is None


# ------------------------------------------------------------------ how it is reached

def test_keyboard_alone_signs_in_finds_a_member_and_opens_an_action(console, admin, agent):
    c = sky_member(admin, agent)
    console.open()
    console.field("Client key")
    # Each view puts the focus at its start: one Tab reaches its first control.
    ActionChains(console.d).send_keys(Keys.TAB).perform()
    assert console.d.switch_to.active_element == console.field("Client key")
    ActionChains(console.d).send_keys(agent.key, Keys.TAB, agent.secret, Keys.ENTER).perform()
    console.el("#signed-in-as")
    active = console.d.switch_to.active_element
    assert active.get_attribute("id") == "main", "focus moves to the new view"
    ActionChains(console.d).send_keys(Keys.TAB, Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_DOWN,
                                      Keys.TAB, str(c["id"]), Keys.ENTER).perform()
    console.member_shown(c["id"])
    console.d.execute_script("document.getElementById('main').focus()")
    for _ in range(60):
        ActionChains(console.d).send_keys(Keys.TAB).perform()
        if console.d.switch_to.active_element.text == "Change tier or expiry":
            break
    ActionChains(console.d).send_keys(Keys.ENTER).perform()
    assert console.dialog().is_displayed()
    ActionChains(console.d).send_keys(Keys.ESCAPE).perform()
    console.wait.until(lambda d: not d.find_elements(By.TAG_NAME, "dialog"))
    assert console.d.switch_to.active_element.text == "Change tier or expiry", "focus returns to the action's button"
    unlabelled = console.d.execute_script(
        "return [...document.querySelectorAll('input, select, textarea, button')]"
        ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())"
        ".map(e => e.outerHTML)")
    assert unlabelled == []


def test_the_member_view_fits_a_375_px_screen(browser_factory, server, admin, agent):
    from harness import Console
    console = Console(browser_factory(375, 812), server.base)
    c = sky_member(admin, agent)
    console.sign_in(agent)
    console.search("mobile", c["mobile"])
    console.member_shown(c["id"])
    width = console.d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[1] == 375, width
    assert width[0] <= width[1], f"horizontal scroll at 375 px: {width}"
    console.screenshot("member-375px")


def test_no_view_has_serious_or_critical_accessibility_violations(console, admin, agent):
    c = sky_member(admin, agent)
    link(agent, c, "FlexiPass", {})
    found = {}
    console.open()
    console.field("Client key")
    found["sign-in"] = console.axe()
    console.sign_in(agent)
    found["find"] = console.axe()
    console.search("id", str(c["id"]))
    console.member_shown(c["id"])
    found["member"] = console.axe()
    console.button("Record a benefit", console.card("SkyMiles")).click()
    console.dialog()
    found["action"] = console.axe()
    ActionChains(console.d).send_keys(Keys.ESCAPE).perform()
    console.button("Catalog").click()
    console.el("#catalog-title")
    found["catalog"] = console.axe()
    console.screenshot("catalog")
    console.button("Worklist").click()
    console.el("#worklist-title")
    found["worklist"] = console.axe()
    console.screenshot("worklist")
    print("\naxe-core serious/critical violations per view:", json.dumps({k: len(v) for k, v in found.items()}))
    assert all(not v for v in found.values()), json.dumps(found, indent=1)


def test_the_worklist_lists_what_ends_soon_and_opens_its_member(console, admin, agent):
    c = sky_member(admin, agent, days=3)
    console.sign_in(agent)
    console.button("Worklist").click()
    console.el("#worklist-title")
    console.field("Ending within (days)").send_keys(Keys.CONTROL, "a", Keys.NULL, "5", Keys.ENTER)
    console.wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#worklist-title + p + form input").get_attribute("value") == "5")
    row = console.wait.until(lambda d: next((tr for tr in d.find_elements(By.CSS_SELECTOR, "#worklist tbody tr")
                                             if f"Open member {c['id']}" in tr.text), None))
    assert "SkyMiles" in row.text and "Tier grace started" in row.text
    console.button(f"Open member {c['id']}", row).click()
    console.member_shown(c["id"])


# ------------------------------------------------------------------ the other actions and views

def test_an_admin_registers_a_customer_and_links_them_with_a_reason(console, admin):
    tag = uuid.uuid4().hex[:10]
    mobile = "91" + str(int(tag, 16) % 10**10).zfill(10)
    console.sign_in(admin)
    console.button("Register a customer").click()
    dialog = console.dialog()
    console.field("Mobile", dialog).send_keys(mobile)
    choose(console, "Enrol in loyalty program", str(loyalty_program(admin)), dialog)
    console.button("Preview", dialog).click()
    assert f"Register a customer with mobile, enrolled in Demo Rewards." in console.visible("[data-testid=preview]").text
    console.el("[data-testid=confirm]").click()
    console.wait.until(lambda d: d.find_elements(By.ID, "member-title"))
    customer = admin.ok("GET", "/v2/partnerProgram/customerPartnerPrograms",
                        query={"identifierName": "mobile", "identifierValue": mobile})["customer"]
    console.member_shown(customer["id"])
    console.button("Link to a program").click()
    dialog = console.dialog()
    choose(console, "Partner program", "SkyMiles", dialog)
    console.field("Partner membership id", dialog).send_keys(f"SM-{tag}")
    choose(console, "Tier", "Silver", dialog)
    console.field("Tier expiry date", dialog).send_keys(*day_keys(org_day(200)))
    choose(console, "Reason", "PARTNER_CORRECTION", dialog)
    console.button("Preview", dialog).click()
    preview = console.visible("[data-testid=preview]").text
    assert "Link to SkyMiles" in preview and "Tier: — → Silver" in preview
    console.el("[data-testid=confirm]").click()
    console.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    card = console.card("SkyMiles")
    assert f"SM-{tag}" in card.text and "Silver" in card.text
    console.wait.until(lambda d: "Enrollment · SkyMiles" in d.find_element(By.CSS_SELECTOR, "#timeline li").text)
    assert "Why: Partner correction" in console.text("#timeline li")
    assert f"By {admin.key} (admin)" in console.text("#timeline li"), "a client without a display name is named by its key"


def test_pause_then_resume_a_supplementary_membership(console, admin, agent):
    c = new_customer(admin)
    link(agent, c, "FlexiPass", {})
    console.sign_in(agent)
    console.search("id", str(c["id"]))
    console.member_shown(c["id"])
    console.button("Pause", console.card("FlexiPass")).click()
    dialog = console.dialog()
    console.field("Pause until", dialog).send_keys(*day_keys(org_day(10)))
    choose(console, "Reason", "CUSTOMER_REQUEST", dialog)
    console.button("Preview", dialog).click()
    console.el("[data-testid=confirm]").click()
    console.wait.until(lambda d: "Paused" in d.find_element(By.CSS_SELECTOR, 'article[data-program="FlexiPass"] .status').text)
    paused = memberships(agent, c)["linkedPartnerPrograms"][0]
    status = console.card("FlexiPass").find_element(By.CSS_SELECTOR, ".status")
    assert status.text.startswith("Paused until")
    assert instant(status.find_element(By.TAG_NAME, "time").get_attribute("datetime")) == instant(paused["membershipPause"]["pausedUntil"])
    console.button("Resume", console.card("FlexiPass")).click()
    dialog = console.dialog()
    choose(console, "Reason", "CUSTOMER_REQUEST", dialog)
    console.button("Preview", dialog).click()
    console.el("[data-testid=confirm]").click()
    console.wait.until(lambda d: d.find_element(By.CSS_SELECTOR, 'article[data-program="FlexiPass"] .status').text == "Active")
    assert memberships(agent, c)["linkedPartnerPrograms"][0]["status"] == "ACTIVE"


def test_the_catalog_shows_each_programs_tiers_quotas_and_expiry_rules(console, admin, agent):
    configured = {p["partnerProgramName"]: p["configuration"] for lp in admin.ok(
        "GET", "/v2/organization/programs", query={"includeConfiguration": "true"})["data"] for p in lp["partnerPrograms"]}
    console.sign_in(agent)
    console.button("Catalog").click()
    sky = console.el('article[data-program="SkyMiles"]').text
    assert "Silver · 2 Gold · 3 Platinum" in sky and "LoungeAccess (LOUNGE), 4 per cycle" in sky
    assert "PriorityBoarding (BOARDING), no cap" in sky and "Downgrade one tier" in sky
    assert f"{configured['SkyMiles']['tierGracePeriodDays']} days" in sky
    flexi = console.el('article[data-program="FlexiPass"]').text
    assert "30 days" in flexi and "7, 1 days before" in flexi


def test_the_timeline_explains_the_one_year_rule_in_words(console, admin, agent):
    c = sky_member(admin, agent)
    console.sign_in(agent)
    console.search("id", str(c["id"]))
    console.member_shown(c["id"])
    timeline = console.el("#timeline").find_element(By.XPATH, "..")
    choose(console, "Type", "BENEFITSAVAILED", timeline)
    console.field("From", timeline).send_keys(*day_keys(org_day(-500)))
    console.field("To", timeline).send_keys(*day_keys(org_day(0)))
    console.button("Apply", timeline).click()
    console.wait.until(lambda d: d.find_element(By.ID, "timeline-error").text)
    message = console.text("#timeline-error")
    assert "at most one year" in message and "2013" not in message


def test_a_submission_whose_answer_is_lost_is_confirmed_again_and_applies_once(console, admin, agent):
    c, before = preview_a_lounge_visit(console, admin, agent, "GOODWILL")
    # The first POST reaches the API and is applied, but its answer never reaches the page.
    console.d.execute_script("""
        window.__keys = []; const send = window.fetch; let dropped = false;
        window.fetch = async (url, opts) => {
          if (opts && opts.method === 'POST') window.__keys.push(opts.headers['Idempotency-Key']);
          const res = await send(url, opts);
          if (opts && opts.method === 'POST' && !dropped) { dropped = true; throw new TypeError('connection reset'); }
          return res;
        };""")
    console.el("[data-testid=confirm]").click()
    console.wait.until(lambda d: "No answer from the API" in d.find_element(By.CSS_SELECTOR, "[data-testid=action-error]").text)
    assert lounge_used(agent, c) == before + 1, "the lost answer's change was applied"
    console.el("[data-testid=confirm]").click()
    console.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
    console.member_shown(c["id"])
    assert lounge_used(agent, c) == before + 1, "confirming again replayed it, not applied it twice"
    keys = console.d.execute_script("return window.__keys")
    assert len(keys) == 2 and keys[0] == keys[1], keys


def duration(seconds):
    """Seconds as the console says them (app.js `duration`)."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = -(-seconds // 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def test_an_admin_sees_the_recent_partner_files_with_their_counts_and_an_agent_a_note(console, admin, agent):
    files = admin.ok("GET", "/v2/partnerProgram/partnerFiles")["data"]
    # The demo org's files (one done, one running) and the one seeded with markup in its name.
    assert [f["fileName"] for f in files] == [PARTNER_FILE, "skymiles-tiers-march.csv", "skymiles-tiers-february.csv"]
    console.sign_in(admin)
    console.button("Catalog").click()
    rows = console.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#partner-files tbody tr"))
    assert [r.get_attribute("data-file") for r in rows] == [f["fileId"] for f in files], "newest first"
    seen = [[td.text for td in r.find_elements(By.TAG_NAME, "td")] for r in rows]
    # What a person reads: name, program, status, rows done / total, applied, refused.
    assert [s[:6] for s in seen] == [
        [PARTNER_FILE, "SkyMiles", "Done", "3 / 3", "2", "1"],
        ["skymiles-tiers-march.csv", "SkyMiles", seen[1][2], "4,000 / 10,000", "3,950", "50"],
        ["skymiles-tiers-february.csv", "SkyMiles", "Done", "13 / 13", "8", "5"],
    ]
    # 4,000 of 10,000 rows done since the file started: the rest at that pace, as the API
    # estimates it between the moment before the page read it and the moment after.
    after = admin.ok("GET", f"/v2/partnerProgram/partnerFiles/{files[1]['fileId']}")["estimatedSecondsLeft"]
    said = {f"Running, about {duration(s)} left" for s in range(files[1]["estimatedSecondsLeft"], after + 1)}
    assert seen[1][2] in said, (seen[1][2], said)
    # Started and finished as every date of the console: the instant the API gave, in both zones.
    for row, f in zip(rows, files):
        started, finished = row.find_elements(By.TAG_NAME, "td")[6:8]
        assert instant(started.find_element(By.TAG_NAME, "time").get_attribute("datetime")) == instant(f["startedAt"])
        assert "(org)" in started.text and "(America/New_York)" in started.text
        if f.get("finishedAt"):
            assert instant(finished.find_element(By.TAG_NAME, "time").get_attribute("datetime")) == instant(f["finishedAt"])
        else:
            assert finished.text == "—"
    assert not console.d.find_elements(By.CSS_SELECTOR, "main img")
    assert console.d.execute_script("return document.querySelector('#partner-files td').textContent") == PARTNER_FILE
    violations = console.axe()
    console.screenshot("catalog-partner-files")
    assert not violations, json.dumps(violations, indent=1)

    # An agent is not shown the files, and is told who sees them.
    console.el("#sign-out").click()
    console.field("Client key")
    console.sign_in(agent)
    console.button("Catalog").click()
    note = console.wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "section[aria-labelledby=files-title] p"))
    assert note.text == "Partner files and their progress are visible to admins."
    assert not console.d.find_elements(By.ID, "partner-files")
