"""The console's page weight and render time (`make bench-console`; a benchmark, not a test): the
bytes a first load transfers, per file, uncompressed and as sent; and, over 20 searches against the
local server, the time from submitting a search to the member view on screen (and to its timeline
filled in), p50 and p90. Prints a table; nothing here passes or fails."""

import statistics
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))
from harness import Api, Console, Server, make_driver  # noqa: E402

SEARCHES = 20
WEIGHT_GOAL_KB = 150
RENDER_GOAL_MS = 300

MEASURE = """
const [by, value, id, done] = arguments;
const main = document.getElementById('main');
const form = main.querySelector('form[role=search]');
form.querySelector('select').value = by;
form.querySelector('input').value = value;
const t0 = performance.now();
let shown = null;
const check = () => {
  const title = document.getElementById('member-title');
  if (!shown && title && title.textContent === 'Member ' + id) shown = performance.now() - t0;
  if (shown !== null && document.querySelector('#timeline li')) {
    observer.disconnect();
    done([shown, performance.now() - t0]);
  }
};
const observer = new MutationObserver(check);
observer.observe(document.body, {childList: true, subtree: true});
form.requestSubmit();
"""


def first_load(server):
    driver = make_driver()
    try:
        driver.get(server.base + "/console/")
        Console(driver, server.base).field("Client key")
        entries = driver.execute_script("""
            return [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
              .map(e => [new URL(e.name).pathname, e.decodedBodySize, e.transferSize, e.encodedBodySize]);""")
    finally:
        driver.quit()
    return entries


def customers(admin, n):
    lp = next(p for p in admin.ok("GET", "/v2/organization/programs")["data"] if p["programName"] == "Demo Rewards")
    out = []
    for _ in range(n):
        tag = uuid.uuid4().hex[:10]
        mobile = "91" + str(int(tag, 16) % 10**10).zfill(10)
        c = admin.ok("POST", "/v2/customers", {"mobile": mobile, "programIds": [lp["programId"]]})["customer"]
        admin.ok("POST", "/v2/partnerProgram/linkCustomer", {"linkCustomers": [{"customer": {"id": c["id"]},
            "linkToPartnerPrograms": [{"partnerProgramName": "SkyMiles", "customerPartnerReference": {
                "partnerMembershipId": f"SM-{tag}", "partnerTierName": "Gold",
                "partnerTierExpiryDate": "2030-12-29T23:59:59+05:30"}}]}]})
        out.append((mobile, c["id"]))
    return out


def render_times(server, admin):
    agent = admin.ok("POST", "/v2/organization/clients", {"role": "agent", "displayName": "Bench Agent"})
    agent = Api(server.base, agent["clientKey"], agent["secret"])
    people = customers(admin, 4)
    driver = make_driver()
    try:
        console = Console(driver, server.base).sign_in(agent)
        console.search("id", str(people[0][1]))  # warm: the catalog is read once per session
        console.member_shown(people[0][1])
        times = []
        for i in range(SEARCHES):
            mobile, cid = people[(i + 1) % len(people)]
            console.button("Find member").click()
            console.el("form[role=search]")
            times.append(driver.execute_async_script(MEASURE, "mobile", mobile, cid))
    finally:
        driver.quit()
    return times


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    server = Server()
    try:
        admin = Api(server.base, *server.admin)
        entries = first_load(server)
        times = render_times(server, admin)
    finally:
        server.stop()
    print("\nFirst load of /console/ (sign-in page), per file:")
    print(f"{'file':32} {'uncompressed':>13} {'transferred':>12}")
    for path, decoded, transferred, _ in entries:
        print(f"{path:32} {decoded:>11} B {transferred:>10} B")
    total = sum(e[1] for e in entries)
    sent = sum(e[2] for e in entries)
    print(f"{'total':32} {total:>11} B {sent:>10} B   goal <= {WEIGHT_GOAL_KB} KB uncompressed: "
          f"{'met' if total <= WEIGHT_GOAL_KB * 1024 else 'MISSED'} ({total / 1024:.1f} KB)")
    shown = [t[0] for t in times]
    filled = [t[1] for t in times]
    print(f"\nSearch → member view, {len(times)} searches by mobile against the local server (headless Chromium):")
    print(f"  member view shown:   p50 {statistics.median(shown):6.1f} ms   p90 {pct(shown, 90):6.1f} ms   "
          f"max {max(shown):6.1f} ms   goal p50 <= {RENDER_GOAL_MS} ms: "
          f"{'met' if statistics.median(shown) <= RENDER_GOAL_MS else 'MISSED'}")
    print(f"  timeline filled in:  p50 {statistics.median(filled):6.1f} ms   p90 {pct(filled, 90):6.1f} ms   "
          f"max {max(filled):6.1f} ms")


if __name__ == "__main__":
    main()
