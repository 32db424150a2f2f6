"""The HTML report in a real browser: it opens offline from a file and shows its charts (accuracy bars, the paired
differences' forest plot, confusion heat maps) and tables."""

from __future__ import annotations

from tests.e2e.harness import new_page
from tests.test_report import REPORT
from workbench.report import write_report


def test_the_html_report_opens_offline_in_chromium(browser, tmp_path):
    path = write_report(REPORT, tmp_path / "report.html")
    requests: list[str] = []
    page = new_page(browser)
    try:
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        assert page.locator("#chart svg rect").count() == 2
        assert page.locator("#chart svg").bounding_box()["width"] > 300
        assert page.locator("table.items tbody tr").count() == 6
        assert page.locator("table.paired tbody tr").count() == 1
        assert page.locator("#forest svg circle").count() == 1  # the paired difference, drawn
        assert page.locator("#forest svg").bounding_box()["width"] > 300
        assert page.locator("figure.confusion-chart svg g.cell").count() == 2 * 4  # a heat map per strategy
        assert page.locator("table.confusion").count() == 2  # the tables stay
        assert page.locator("table.items tbody tr").first.locator("td").nth(3).inner_text() == \
            "<script>alert(0)</script>"
        page.locator("table.items details").first.click()
        assert "Q: x" in page.locator("table.items details pre").first.inner_text()
    finally:
        page.context.close()
    assert requests == [path.as_uri()]  # nothing but the file itself: it opens offline
