"""Headless Chromium for the web app's browser tests (not a test file).

The driver uses Debian's ``/usr/bin/chromium`` and ``/usr/bin/chromedriver``
given explicitly, so Selenium Manager never runs (it would download a
browser or send usage statistics); ``SE_AVOID_STATS`` is set as well.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import pytest

__all__ = ["CHROMEDRIVER", "CHROMIUM", "driver", "make_driver", "missing_reason"]

CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMEDRIVER = pathlib.Path("/usr/bin/chromedriver")


def missing_reason() -> str | None:
    """Return why no browser test can run here, or ``None`` if one can."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not os.access(binary, os.X_OK):
            return f"{binary} is not installed; install Debian's chromium-driver."
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed."
    return None


def make_driver(width: int = 1280, height: int = 900):
    """Start headless Chromium under chromedriver and return the WebDriver."""
    os.environ["SE_AVOID_STATS"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


@pytest.fixture(scope="module")
def driver() -> Iterator:
    """One headless Chromium per test module, quit after the module."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    browser = make_driver()
    try:
        yield browser
    finally:
        browser.quit()
