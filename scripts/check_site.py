"""Load every leaderboard page in headless Chromium; fail on missing images, links, tables.

Usage: ``python scripts/check_site.py [leaderboard] [--chromium /usr/bin/chromium]``.

The folder is served on 127.0.0.1 (an ephemeral port; nothing else is contacted) next to a
small harness page that opens each page in a frame, waits for its images, checks that each
image decoded (``naturalWidth > 0``), that every relative link answers (HTTP HEAD), that
every table has rows, and that the page does not overflow a 1400-px window horizontally;
external links are listed, not followed. Exit status 1 on any problem.
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

logger = logging.getLogger("check_site")

HARNESS = """<!DOCTYPE html><html><body><pre id="result">pending</pre><script>
const page = new URLSearchParams(location.search).get("page");
const frame = document.createElement("iframe");
frame.onload = async () => {
  const doc = frame.contentDocument, problems = [], external = [];
  const imgs = Array.from(doc.images);
  await Promise.all(imgs.map(i => i.complete ? null :
                             new Promise(r => { i.onload = r; i.onerror = r; })));
  for (const i of imgs) if (!i.complete || i.naturalWidth === 0)
    problems.push("missing image: " + i.getAttribute("src"));
  for (const a of doc.querySelectorAll("a[href]")) {
    const href = a.getAttribute("href");
    if (href.startsWith("#")) continue;
    if (/^[a-z][a-z0-9+.-]*:/i.test(href)) { external.push(href); continue; }
    const r = await fetch(new URL(href, frame.contentWindow.location.href), {method: "HEAD"});
    if (!r.ok) problems.push("broken link: " + href + " (HTTP " + r.status + ")");
  }
  const root = doc.documentElement;
  if (root.scrollWidth > root.clientWidth + 1)
    problems.push("horizontal overflow: " + root.scrollWidth + " px in a " + root.clientWidth +
                  " px window");
  const tables = Array.from(doc.querySelectorAll("table"));
  tables.forEach((t, k) => { if (t.querySelectorAll("tr").length < 2)
    problems.push("empty table #" + (k + 1)); });
  document.getElementById("result").textContent = JSON.stringify(
    {page, problems, external, images: imgs.length, tables: tables.length});
};
frame.style.width = "1400px";
frame.style.height = "900px";
frame.src = page;
document.body.appendChild(frame);
</script></body></html>
"""

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--virtual-time-budget=30000", "--dump-dom"]


def serve(root: Path) -> tuple[ThreadingHTTPServer, int]:
    """Serve ``root`` on 127.0.0.1 (ephemeral port) from a background thread."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D102
        return


def check_page(chromium: str, url: str, profile: Path) -> dict:
    """Return the harness's verdict on one page (problems, images, tables)."""
    proc = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url],
                          capture_output=True, text=True, timeout=120)
    match = re.search(r'<pre id="result">(.*?)</pre>', proc.stdout, re.S)
    if not match or match.group(1) == "pending":
        return {"page": url, "problems": [f"the harness did not finish (chromium exit "
                                          f"{proc.returncode}: {proc.stderr[-300:]})"]}
    return json.loads(html.unescape(match.group(1)))


def check_site(folder: Path, chromium: str, require_index: bool = True) -> list[dict]:
    """Check ``index.html`` and every other page of ``folder``; return one verdict each.

    With ``require_index=False`` a folder of pages without an index (the scorecards) is
    checked too.
    """
    folder = Path(folder).resolve()
    pages = sorted(p.name for p in folder.glob("*.html"))
    if require_index and "index.html" not in pages:
        raise FileNotFoundError(f"{folder}/index.html is missing: run "
                                "`python -m eegbench.leaderboard.site`.")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "site").symlink_to(folder)
        (root / "harness.html").write_text(HARNESS)
        server, port = serve(root)
        try:
            return [check_page(chromium, f"http://127.0.0.1:{port}/harness.html?page=site/"
                                         f"{name}", root / "profile") for name in pages]
        finally:
            server.shutdown()


def main(argv: list[str] | None = None) -> int:
    """Command line; exit status 1 on any problem."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("leaderboard"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    verdicts = check_site(args.folder, args.chromium)
    bad = [v for v in verdicts if v["problems"]]
    for v in verdicts:
        logger.info("%s: %d table(s), %d image(s), %s", v["page"], v.get("tables", 0),
                    v.get("images", 0), "; ".join(v["problems"]) or "ok")
    if bad:
        logger.error("%d of %d page(s) have problems", len(bad), len(verdicts))
        return 1
    logger.info("all %d page(s) load with their images, links and tables", len(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
