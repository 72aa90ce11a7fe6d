"""Take the screenshots of the Composer web app shown in the docs.

Run ``python docs/web_screenshots.py`` from the repository root. It starts
``aihw-jax serve`` on 127.0.0.1 with a temporary storage directory, signs up
a user in headless Chromium (``/usr/bin/chromium`` under
``/usr/bin/chromedriver``), trains a small network from the builder, and
writes ``docs/images/web_list.png``, ``web_detail.png`` and
``web_builder.png``. It needs the Fashion-MNIST data set that the jobs use.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
PASSWORD = "screenshot password"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_service(storage: pathlib.Path, port: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "aihw_jax.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--storage",
        str(storage),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(storage.parent / "service.log", "wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            health = requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
            if health.status_code == 200:
                return process
        except requests.ConnectionError:
            time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    raise TimeoutError("The service did not start within 180 s.")


def _stop_service(process: subprocess.Popen) -> None:
    """Stop the service, then kill what is left of its process group (Dask)."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _driver():
    os.environ["SE_AVOID_STATS"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1200,1500",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(
        service=Service(executable_path="/usr/bin/chromedriver"), options=options
    )


def _fill(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def _take(driver, base: str, epochs: int, max_elements: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver.get(f"{base}/signup")
    _fill(driver, "username", "ada")
    _fill(driver, "password", PASSWORD)
    _fill(driver, "password_repeat", PASSWORD)
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 60).until(lambda page: page.current_url.endswith("/account"))
    driver.get(f"{base}/experiments/new")
    driver.save_screenshot(str(IMAGES / "web_builder.png"))
    _fill(driver, "field-name", "3-layer network, floating point")
    Select(driver.find_element(By.ID, "field-preset")).select_by_value(
        "FloatingPointPreset"
    )
    _fill(driver, "field-epochs", str(epochs))
    _fill(driver, "field-max_elements", str(max_elements))
    _fill(driver, "field-learning_rate", "0.5")
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 1800, poll_frequency=1).until(
        lambda page: page.execute_script("return (window.aihwCharts || []).length > 0")
    )
    driver.save_screenshot(str(IMAGES / "web_detail.png"))
    driver.get(f"{base}/experiments")
    driver.save_screenshot(str(IMAGES / "web_list.png"))


def main() -> None:
    """Start a service, drive the pages and save the three screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs to train")
    parser.add_argument(
        "--max-elements", type=int, default=2000, help="samples per split"
    )
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        port = _free_port()
        process = _start_service(pathlib.Path(directory) / "storage", port)
        driver = None
        try:
            driver = _driver()
            _take(driver, f"http://127.0.0.1:{port}", args.epochs, args.max_elements)
        finally:
            if driver is not None:
                driver.quit()
            _stop_service(process)
    print(f"Wrote the screenshots to {IMAGES}.")


if __name__ == "__main__":
    main()
