"""A headless Chromium looks at an HTML page (the report's landing, tests/test_workflow.py):
a screenshot, and the page's layout as the browser computed it. No browser driver: a copy
of the page carries a script that measures the landing table's rows after the page has
rendered and writes them into the page as JSON, which `--dump-dom` returns."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

# Debian's package (`apt-get install chromium`), other distributions', Google's (GitHub's
# runners have it).
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WAIT_MS = 3000  # after `load`: the report is a React page that renders its text then
MEASURE = """
<script>
window.addEventListener("load", () => setTimeout(() => {
  const seen = (el, x, y) => { const top = document.elementFromPoint(x, y);
                               return !!top && (el === top || el.contains(top)); };
  const rows = [...document.querySelectorAll("table.ns-claims tbody tr")].map(tr => {
    const r = tr.getBoundingClientRect(), cells = [...tr.cells].map(c => {
      const b = c.getBoundingClientRect();
      return {cls: c.className, left: b.left, right: b.right, top: b.top, bottom: b.bottom,
              seen: seen(c, b.left + 4, b.top + Math.min(8, b.height / 2))};
    });
    return {claim: tr.dataset.claim, verdict: tr.querySelector(".ns-verdict").innerText,
            left: r.left, right: r.right, top: r.top, bottom: r.bottom, cells};
  });
  const out = document.createElement("pre");
  out.id = "ns-layout";
  out.textContent = JSON.stringify({width: window.innerWidth, height: window.innerHeight,
                                    rows});
  document.body.appendChild(out);
}, %d));
</script>
""" % WAIT_MS


def chromium() -> str | None:
    return next((p for n in NAMES if (p := shutil.which(n))), None)


def _run(args: list[str], timeout: int = 120) -> str:
    exe = chromium()
    assert exe, "no Chromium"
    res = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                          "--hide-scrollbars", "--no-first-run", f"--virtual-time-budget="
                          f"{WAIT_MS + 5000}", *args], capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return res.stdout


def screenshot(page: Path, png: Path, size=(1400, 1000)) -> Path:
    """The page as a window of `size` pixels shows it, after it has rendered."""
    png.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", page.resolve().as_uri()])
    assert png.stat().st_size > 0
    return png


def layout(page: Path, work: Path, size=(1400, 1000)) -> dict:
    """{width, height, rows: [{claim, verdict, left, right, top, bottom, cells: [{cls, ...,
    seen}]}]}: the landing table's rows in a window of `size`, in page order, with their
    bounding boxes in viewport pixels and, per cell, whether its top-left corner is seen
    (the topmost element there is the cell, not the report's menu over it)."""
    copy = work / f"measured_{page.name}"
    html = page.read_text()
    i = html.rindex("</body>")
    copy.write_text(html[:i] + MEASURE + html[i:])
    dom = _run([f"--window-size={size[0]},{size[1]}", "--dump-dom", copy.resolve().as_uri()])
    m = re.search(r'<pre id="ns-layout">(.*?)</pre>', dom, re.S)
    assert m, "the page did not render its landing table (no measurement in the DOM)"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&lt;", "<")
                      .replace("&gt;", ">").replace("&amp;", "&"))


def copy_to(png: Path, folder: str | None) -> None:
    """Keep the screenshot where CI collects it (NOISESPARSE_SCREENSHOTS), if set."""
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(folder) / png.name)
