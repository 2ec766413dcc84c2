"""The merchant console in a real browser: Debian's Chromium driven by
Playwright against a live server, as two merchants and an operator, in
Russian and Chinese. Screenshots go to var/screenshots/ (CI keeps them).

Without /usr/bin/chromium the tests skip, except under REQUIRE_SERVICES=1
(CI installs it in .ci/run), where a missing browser fails them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db.models import Count

from commands import demo_data as data
from commands.demo import demo_seed
from orders.models import Order
from payments.models import SettlementStatement
from shipping.fulfilment.models import FulfilmentOrder

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
LANGUAGES = ("ru", "zh-hans")
# What each page's heading names, per language.
HEADINGS = {
    "dashboard": {"ru": "Сводка", "zh-hans": "仪表板"},
    "order": {"ru": "отправлени", "zh-hans": "履约单"},
    "settlements": {"ru": "выписк", "zh-hans": "结算单"},
    "statement": {"ru": "выписк", "zh-hans": "结算单"},
    "products": {"ru": "товар", "zh-hans": "商品"},
}
# One line per page: its name and its address ({order}, {statement}: the
# viewer's own order and statement).
PAGES = [
    ("dashboard", "/admin/"),
    ("order", "/admin/shipping/fulfilmentorder/{order}/change/"),
    ("settlements", "/admin/payments/settlementstatement/"),
    ("statement", "/admin/payments/settlementstatement/{statement}/change/"),
    ("products", "/admin/catalogue/product/"),
]
MERCHANTS = {"harbin-bear": "HAR-", "suifenhe-border": "SUI-", "heihe-amber": "HEI-"}

pytestmark = pytest.mark.browser


@dataclass
class Viewer:
    name: str
    email: str
    password: str
    merchant: str | None
    ids: dict[str, int]
    # The viewer's authenticator app: the TOTP device's secret (bytes).
    totp_key: bytes = b""

    def totp_code(self) -> str:
        from django_otp.oath import totp

        return f"{totp(self.totp_key):06d}"


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright package"
    return None


@pytest.fixture(autouse=True)
def _needs_chromium() -> None:
    """First of all fixtures: no demo is seeded for a test that cannot run."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(missing)
        pytest.skip(missing)


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


def _own_order(merchant: str) -> int:
    """The merchant's part (fulfilment order) of a mixed order on its way."""
    mixed = Order.objects.annotate(n=Count("lines__merchant", distinct=True)).filter(
        n__gt=1, status="in_transit"
    )
    parts = FulfilmentOrder.objects.filter(merchant__code=merchant, order__in=mixed)
    part = (
        parts.order_by("id").first()
        or FulfilmentOrder.objects.filter(merchant__code=merchant).order_by("id").first()
    )
    assert part is not None
    return part.id


@pytest.fixture
def viewers(transactional_db: Any) -> list[Viewer]:
    demo_seed()
    out = []
    for merchant in ("harbin-bear", "suifenhe-border"):
        out.append(
            Viewer(
                name=merchant,
                email=f"{merchant}@merchant.example.cn",
                password=data.DEMO_PASSWORD,
                merchant=merchant,
                ids={
                    "order": _own_order(merchant),
                    "statement": SettlementStatement.objects.get(merchant__code=merchant).id,
                },
            )
        )
    out.append(
        Viewer(
            name="operator",
            email=data.ADMIN_EMAIL,
            password=data.ADMIN_PASSWORD,
            merchant=None,
            ids={
                "order": _own_order("harbin-bear"),
                "statement": SettlementStatement.objects.order_by("id").values_list(
                    "id", flat=True
                )[0],
            },
        )
    )
    # Each viewer has enrolled an authenticator app: the admin asks for its
    # code after the password, as in production (ADMIN_OTP_REQUIRED).
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for viewer in out:
        user = get_user_model().objects.get(email=viewer.email)
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        viewer.totp_key = device.bin_key
    return out


def _log_in(page: Any, base: str, viewer: Viewer) -> None:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", viewer.email)
    page.fill("#id_password", viewer.password)
    page.fill("#id_otp_token", viewer.totp_code())
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def test_console_in_chromium(viewers: list[Viewer], live_server: Any, browser: Any) -> None:
    # The database is seeded (viewers) before Playwright starts its event
    # loop: Django refuses database calls from inside one.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen: dict[tuple[str, str, str], str] = {}
    for viewer in viewers:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        _log_in(page, live_server.url, viewer)
        for language in LANGUAGES:
            # The language switcher in the header (Django's set_language view).
            page.select_option("#amur-language-select", language)
            page.wait_for_selector(f"html[lang='{language}']")
            for name, path in PAGES:
                page.goto(live_server.url + path.format(**viewer.ids))
                assert page.locator("html").get_attribute("lang") == language
                text = page.inner_text("body")
                seen[(viewer.name, language, name)] = text
                if name in HEADINGS and not (viewer.merchant is None and name == "dashboard"):
                    assert HEADINGS[name][language] in page.inner_text("#content h1"), (
                        viewer.name,
                        language,
                        name,
                    )
                page.screenshot(
                    path=str(SCREENSHOTS / f"{viewer.name}-{language}-{name}.png"), full_page=True
                )
                # The page fits a 1400 px window: wide tables scroll in their box.
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
                    viewer.name,
                    name,
                )
        context.close()

    for viewer in viewers:
        if viewer.merchant is None:
            continue
        own = MERCHANTS[viewer.merchant]
        others = [prefix for code, prefix in MERCHANTS.items() if code != viewer.merchant]
        for language in LANGUAGES:
            for name, _path in PAGES:
                text = seen[(viewer.name, language, name)]
                for prefix in others:
                    assert prefix not in text, (viewer.name, language, name, prefix)
            assert own in seen[(viewer.name, language, "products")]
            assert own in seen[(viewer.name, language, "order")]
            # Harbin staff read Harbin's time.
            assert "ASIA/SHANGHAI" in seen[(viewer.name, language, "dashboard")].upper()
        assert (
            "Харбин" in seen[(viewer.name, "ru", "order")]
            or "Суйфэньхэ" in (seen[(viewer.name, "ru", "order")])
        )
    operator = seen[("operator", "ru", "dashboard")]
    # Captions and headers are set in capitals by the admin's style sheet.
    assert "Ближайшие отправления: загрузка и вместимость".upper() in operator.upper()
    assert "UTC" in operator
    assert "即将出发的班次：装载量与运力" in seen[("operator", "zh-hans", "dashboard")]
    assert "SFH-VVO-ROAD" in operator
    # The operator sees every merchant's products.
    assert all(prefix in seen[("operator", "ru", "products")] for prefix in MERCHANTS.values())
