"""The Composer web app in headless Chromium, against a real service.

One flow runs through the pages as a user would: sign up, create an API
token, compose a training run in the builder, watch the detail page until
the job completes, read the chart data from the page, download the result,
then revoke the token and check that the API rejects it.
"""

from __future__ import annotations

import requests
from _browser import driver
from _service import API, service

__all__ = ["driver", "service"]

PASSWORD = "browser test password"
EPOCHS = 2


def _wait(browser, timeout, **options):
    """Return a wait that retries while the page redraws the element it reads."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(
        browser,
        timeout,
        ignored_exceptions=(StaleElementReferenceException,),
        **options,
    )


def _fill(browser, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def _sign_up(browser, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/signup")
    _fill(browser, "username", "dana")
    _fill(browser, "password", PASSWORD)
    _fill(browser, "password_repeat", PASSWORD)
    browser.find_element(By.ID, "submit").click()
    _wait(browser, 60).until(lambda page: page.current_url.endswith("/account"))


def _create_token(browser) -> str:
    from selenium.webdriver.common.by import By

    _fill(browser, "token-name", "notebook")
    browser.find_element(By.ID, "create-token").click()
    _wait(browser, 60).until(lambda page: page.find_elements(By.ID, "new-token"))
    return browser.find_element(By.ID, "new-token").text


def _submit_training(browser, base_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{base_url}/experiments/new")
    assert browser.find_element(By.ID, "section-inference").is_displayed() is False
    _fill(browser, "field-name", "browser run")
    Select(browser.find_element(By.ID, "field-preset")).select_by_value(
        "FloatingPointPreset"
    )
    _fill(browser, "field-epochs", str(EPOCHS))
    _fill(browser, "field-batch_size", "10")
    _fill(browser, "field-max_elements", "100")
    browser.find_element(By.ID, "submit").click()
    _wait(browser, 60).until(lambda page: page.find_elements(By.ID, "experiment"))


def _wait_for_charts(browser) -> None:
    from selenium.webdriver.common.by import By

    status = browser.find_element(By.ID, "status").text
    assert status in ("waiting", "running", "completed")
    _wait(browser, 150, poll_frequency=0.5).until(
        lambda page: page.execute_script("return (window.aihwCharts || []).length == 2")
    )
    assert browser.find_element(By.ID, "status").text == "completed"


def test_browser_flow(service, driver):
    base_url = service.base_url
    _sign_up(driver, base_url)
    token = _create_token(driver)
    login = requests.post(
        f"{base_url}{API}/token/login", json={"token": token}, timeout=30
    )
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['jwt']}"}

    _submit_training(driver, base_url)
    _wait_for_charts(driver)
    charts = driver.execute_script(
        "return window.aihwCharts.map(c => ({id: c.id, points: c.points, "
        "series: c.plot.series.length, drawn: c.plot.data[0].length}))"
    )
    assert charts == [
        {"id": "accuracy", "points": EPOCHS, "series": 2, "drawn": EPOCHS},
        {"id": "loss", "points": EPOCHS, "series": 3, "drawn": EPOCHS},
    ]
    canvas = driver.execute_script(
        "return document.querySelectorAll('#chart-accuracy canvas').length"
    )
    assert canvas == 1

    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.getElementById('download-result').href)"
        ".then(r => r.json()).then(done, e => done(String(e)));"
    )
    assert [row["epoch"] for row in result["result"]["epochs"]] == [1, 2]

    from selenium.webdriver.common.by import By

    driver.get(f"{base_url}/account")
    driver.find_element(By.CSS_SELECTOR, "#tokens button.revoke").click()
    _wait(driver, 60).until(
        lambda page: "revoked" in page.find_element(By.ID, "tokens").text
    )
    again = requests.post(
        f"{base_url}{API}/token/login", json={"token": token}, timeout=30
    )
    assert again.status_code == 401
    me = requests.get(f"{base_url}{API}/experiments/me", headers=headers, timeout=30)
    assert me.status_code == 401
