"""A real headless Chromium for the tests: Debian's `chromium`, driven by Selenium
through Debian's `chromedriver` (nothing is downloaded at run time).

Outside CI a machine without the browser skips these tests with that reason;
CI sets MNIST_COURSE_REQUIRE_BROWSER=1 (.ci/run), where a missing browser is a
failure, so the proof cannot vanish.

Accessibility is checked with axe-core, the field's standard engine, pinned in
tests/a11y/package.json and installed from npm (`npm ci --prefix tests/a11y`):
the same rule for a missing axe-core as for a missing browser.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
AXE = Path(__file__).parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA: what the ADA Title II rule and EN 301 549 ask of course pages.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def _missing(what: str) -> None:
    """Skip outside CI, fail in it: a proof that needs a tool never vanishes where the tool must be."""
    if os.environ.get("MNIST_COURSE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CI must run the browser tests: {what}")
    pytest.skip(what)


def start_browser(width: int = 1200, height: int = 900):
    """A headless Chromium session, or a skip (a failure in CI) when none is installed."""
    if not (CHROMIUM and CHROMEDRIVER):
        _missing("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    selenium = pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[dev]'")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    del selenium
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def console_errors(driver) -> list[str]:
    """The page's JavaScript errors and failed loads, as the console shows them."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def broken_images(driver) -> list[str]:
    """Every <img> that did not load."""
    return driver.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'))"
    )


def links(driver) -> list[str]:
    """Every link's resolved address."""
    return driver.execute_script("return Array.from(document.links).map(a => a.href)")


def axe_violations(driver) -> list[str]:
    """axe-core's violations on the page the driver shows (WCAG 2.0/2.1 A and AA, and best practice),
    one line each: the rule, its impact, how many elements, the first five and what axe says to fix the first.
    An empty list is a page axe finds nothing wrong with."""
    if not AXE.is_file():
        _missing(f"axe-core is not installed ({AXE} is missing): npm ci --prefix tests/a11y, from the repository's root")
    driver.set_script_timeout(60)
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
           .then(r => done(r.violations.map(v => [v.id, v.impact, v.nodes.length,
                                                  v.nodes.slice(0, 5).map(n => n.target.join(" ")).join(" | "), v.nodes[0].failureSummary])))
           .catch(e => done([["axe-error", "", 0, "", String(e)]]));""",
        AXE_TAGS,
    )
    return [f"{rule} ({impact}, {count} elements: {target}): {summary}" for rule, impact, count, target, summary in found]


# What a text alternative must not be: nothing, nbconvert's placeholder, or a number in place of a description.
_POOR_ALT = r"^\s*$|^No description has been provided for this image$|^(figure|fig\.?|image|img|plot|chart)\s*\d*\s*$"


def poor_alt_texts(driver) -> list[str]:
    """Every <img> whose alt says nothing of what it shows: missing, empty, nbconvert's default
    ("No description has been provided for this image") or a bare "figure 1"; as 'src: alt'."""
    return driver.execute_script(
        "const poor = new RegExp(arguments[0], 'i');"
        "return Array.from(document.images).filter(i => i.getAttribute('alt') === null || poor.test(i.getAttribute('alt')))"
        ".map(i => (i.getAttribute('src') || '').slice(0, 60) + ': ' + i.getAttribute('alt'))",
        _POOR_ALT,
    )
