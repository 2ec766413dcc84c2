"""The merchant console in a real browser: Debian's Chromium driven by
Playwright against a live server, as two merchants and an operator, in
Russian and Chinese. Screenshots go to var/screenshots/ (CI keeps them).

Without /usr/bin/chromium the tests skip, except under REQUIRE_SERVICES=1
(CI installs it in .ci/run), where a missing browser fails them."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db.models import Count
from pypdf import PdfReader

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
    "movements": {"ru": "движени", "zh-hans": "库存变动"},
}
# One line per page: its name and its address ({order}, {statement}: the
# viewer's own order and statement).
PAGES = [
    ("dashboard", "/admin/"),
    ("order", "/admin/shipping/fulfilmentorder/{order}/change/"),
    ("settlements", "/admin/payments/settlementstatement/"),
    ("statement", "/admin/payments/settlementstatement/{statement}/change/"),
    ("products", "/admin/catalogue/product/"),
    ("movements", "/admin/warehouses/stockmovement/?kind__exact=receipt"),
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


def _action(page: Any, action: str) -> None:
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def _pdf_of_action(page: Any, action: str) -> str:
    """Run a print action on the ticked rows; the text of the PDF it answers.
    Chromium shows a PDF in its viewer, whose page is not the document: the
    answer is read on its way to the browser."""
    bodies: list[bytes] = []

    def keep_pdf(route: Any) -> None:
        response = route.fetch()
        if response.headers.get("content-type") == "application/pdf":
            bodies.append(response.body())
        route.fulfill(response=response)

    page.route("**/admin/shipping/fulfilmentorder/**", keep_pdf)
    with page.expect_response(lambda response: response.request.method == "POST"):
        _action(page, action)
    page.unroute("**/admin/shipping/fulfilmentorder/**")
    assert len(bodies) == 1 and bodies[0].startswith(b"%PDF"), action
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(bodies[0])).pages)


def _pack(page: Any, base: str, viewer: Viewer, language: str) -> tuple[str, str]:
    """As a merchant's packer: tick a part ready to pack and pack it with the
    bulk action. Its number and its parcel's S10 tracking number."""
    page.goto(f"{base}/admin/shipping/fulfilmentorder/?status__exact=ready")
    row = page.locator("#result_list tbody tr").first
    number = row.locator("th a").first.inner_text().strip()
    row.locator("input.action-select").check()
    _action(page, "pack")
    page.wait_for_selector("ul.messagelist li.success")
    packed = page.inner_text("ul.messagelist li.success")
    # "<part>: <S10 numbers>": the part got its parcel and tracking number.
    assert packed.startswith(f"{number}: "), packed
    tracking = packed.split(": ", 1)[1].split(",")[0].strip()
    assert len(tracking) == 13, tracking
    page.screenshot(path=str(SCREENSHOTS / f"{viewer.name}-{language}-packed.png"), full_page=True)
    return number, tracking


def _print(page: Any, base: str, number: str, tracking: str) -> dict[str, str]:
    """Print the packed part's label and packing slip, one PDF each."""
    printed = {}
    for name, action in (("labels", "print_labels"), ("slips", "print_packing_slips")):
        page.goto(f"{base}/admin/shipping/fulfilmentorder/?q={number}")
        page.locator("#result_list tbody tr input.action-select").first.check()
        printed[name] = _pdf_of_action(page, action)
    assert tracking in printed["labels"].replace(" ", "")
    assert number in printed["slips"]
    # Back from the PDF viewer to the console.
    page.goto(f"{base}/admin/")
    return printed


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
            if viewer.merchant is not None:
                if language == LANGUAGES[0]:
                    number, tracking = _pack(page, live_server.url, viewer, language)
                printed = _print(page, live_server.url, number, tracking)
                seen[(viewer.name, language, "labels")] = printed["labels"]
                seen[(viewer.name, language, "slips")] = printed["slips"]
        context.close()

    for viewer in viewers:
        if viewer.merchant is None:
            continue
        own = MERCHANTS[viewer.merchant]
        others = [prefix for code, prefix in MERCHANTS.items() if code != viewer.merchant]
        for language in LANGUAGES:
            for name in [*(page_name for page_name, _path in PAGES), "labels", "slips"]:
                text = seen[(viewer.name, language, name)]
                for prefix in others:
                    assert prefix not in text, (viewer.name, language, name, prefix)
            assert own in seen[(viewer.name, language, "products")]
            assert own in seen[(viewer.name, language, "order")]
            # Why the stock moved, in the reader's language (stored in English).
            assert "demo opening stock" not in seen[(viewer.name, language, "movements")]
            assert {"ru": "Начальный остаток демо", "zh-hans": "演示期初库存"}[language] in (
                seen[(viewer.name, language, "movements")]
            )
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
