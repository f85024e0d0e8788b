"""A real headless Chromium for the tests: Debian's `chromium`, driven by Selenium
through Debian's `chromedriver` (nothing is downloaded at run time).

Outside CI a machine without the browser skips these tests with that reason;
CI sets MNIST_COURSE_REQUIRE_BROWSER=1 (.ci/run), where a missing browser is a
failure, so the proof cannot vanish.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def start_browser(width: int = 1200, height: int = 900):
    """A headless Chromium session, or a skip (a failure in CI) when none is installed."""
    if not (CHROMIUM and CHROMEDRIVER):
        missing = "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("MNIST_COURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CI must run the browser tests: {missing}")
        pytest.skip(missing)
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
