#!/usr/bin/env python3
"""Check the built book in a real browser: every page of _build/html in headless Chromium.

Run it with ``make site-check``, which installs requirements-site.txt (Playwright), builds the
book (``make book``) and then runs this script. It serves _build/html on 127.0.0.1 (Python's
http.server in a thread), opens every HTML page with Playwright driving the system's Chromium
(``/usr/bin/chromium``, the Debian package; ``playwright install`` is never run) and asserts,
page by page:

- **console**: no console errors, no uncaught page errors, no failed or >= 400 request to the
  local server. Requests to other hosts are not made: they are blocked by request routing and
  listed separately (none are expected: MathJax is served by the site itself);
- **maths**: MathJax is loaded from the site (not a CDN), ``MathJax.startup.promise`` resolves,
  every math node of the page (``div.math, span.math``) holds an ``mjx-container``, the number
  of ``mjx-container`` equals the number of math nodes, and there is no ``mjx-merror``;
- **formula width**: at the desktop width of the check (a 1280-pixel-wide window) no display
  formula is wider than its box: MathJax gives a display formula a horizontal scroll bar that
  hides its right end past the edge with no visible cue, so a long formula must be split over
  lines (``aligned``). Checked after the solutions are opened, so formulas in solutions count;
  at phone width scrolling is acceptable and not checked;
- **images**: every ``<img>`` loaded (``complete && naturalWidth > 0``) and has real alt text
  (not empty, not the file name, not a placeholder such as "png", "image" or "figure");
- **links**: every link to the site itself (``<a href>`` and ``<link href>``: next/previous,
  stylesheets) resolves: the target file exists and, when the link has a fragment, an element with
  that id (or an ``<a name>``) exists in the target page;
- **Colab**: on chapter pages (built from ``chapters/*.ipynb``) the launch button points at
  ``<colab_url>/github/<org>/<repo>/blob/<branch>/<path_to_book>/chapters/<NN_name>.ipynb``, from
  ``repository:`` and ``launch_buttons:`` of _config.yml;
- **solutions**: every solution dropdown (sphinx-exercise ``:class: dropdown``, which
  sphinx-togglebutton collapses; or a ``<details>``) shows nothing but its title on load and
  shows its content after a click on its toggle (the chevron button at the end of the title, or
  the ``<summary>``; the rest of a solution's title is a link to its exercise, which a click
  follows); chapters 01 and 02 must have at least one;
- **accessibility**: axe-core (node_modules/axe-core, from package.json) finds no ``serious`` or
  ``critical`` violation on a node inside our own content, ``article.bd-article`` (the page body
  that the chapters and pages produce). Violations outside it belong to the theme (navigation
  bars, sidebars, header buttons of sphinx-book-theme / pydata-sphinx-theme): they are reported
  as warnings, with the rule and where, and do not fail the check. axe runs after the solutions
  are opened, so their content is scanned too, in the theme's light mode (dark mode is not
  scanned). axe runs with ``preload: false``: its CSS preloading fetches the stylesheets that
  theme.css ``@import``s relative to the page instead of the stylesheet (``/basic.css``, a 404
  that would count as a failed request); it serves only the css-orientation-lock rule.
  Moderate and minor violations are listed, not checked.

Problems of the theme that these checks found are fixed in the book, not waived here:
_ext/book_fixes.py (a duplicated sphinx-thebe script threw "Identifier 'THEBE_JS_URL' has
already been declared" on every page; bibliography entries had a deprecated ARIA role),
_static/accessibility.css (link contrast inside exercises) and ``html_context.default_mode`` in
_config.yml (a console error on a first visit). ``index.html`` is Jupyter Book's redirect to
``intro.html``: it is checked after the redirect.

A full-page screenshot of every page (taken on load, solutions still closed) is written to
``_build/site-check/<page>.png`` and the whole report to ``_build/site-check/report.json``.

Every page is checked, search.html and genindex.html included. Only ``_static/`` is skipped: the
HTML files there are theme template fragments (e.g. ``sbt-webpack-macros.html``), not pages.

Usage: python tools/site_check.py [--site _build/html] [--out _build/site-check] [PAGE ...]
Exit status: 0 all pages pass, 1 a check failed, 2 the check could not run.
"""
from __future__ import annotations

import argparse
import functools
import html.parser
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CONTENT = "article.bd-article"  # our own content; everything else on a page is the theme's
PAGES_WITH_SOLUTIONS = ("chapters/01_resnets.html", "chapters/02_euler.html")
PLACEHOLDER_ALT = {"png", "jpg", "jpeg", "svg", "gif", "image", "img", "figure", "fig", "picture",
                   "plot", "graph", "chart", "alt", "alt text", "output", "untitled"}
SERIOUS = ("serious", "critical")
TIMEOUT_MS = 60_000


# ---- serving the site ------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the base class's signature
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve `site` on 127.0.0.1 (a free port) in a daemon thread; return (server, base url)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def html_pages(site: Path) -> list[str]:
    """Every HTML page of the site, as paths relative to it (theme fragments in _static skipped)."""
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if p.relative_to(site).parts[0] != "_static")


# ---- what the pages should contain -----------------------------------------------------------

def expected_colab_url(config: dict, page: str) -> str:
    """The Colab launch url of the chapter page `page` (e.g. chapters/01_resnets.html)."""
    repository = config.get("repository") or {}
    url = str(repository["url"]).rstrip("/").removesuffix(".git")
    org_repo = "/".join(urllib.parse.urlparse(url).path.strip("/").split("/")[:2])
    book = str(repository.get("path_to_book") or "").strip("/")
    notebook = "/".join(part for part in (book, page[: -len(".html")] + ".ipynb") if part)
    colab = str((config.get("launch_buttons") or {}).get("colab_url")
                or "https://colab.research.google.com").rstrip("/")
    return f"{colab}/github/{org_repo}/blob/{repository.get('branch', 'main')}/{notebook}"


def is_notebook_page(site: Path, page: str) -> bool:
    return (site / "_sources" / (page[: -len(".html")] + ".ipynb")).is_file()


class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and (name == "id" or (tag == "a" and name == "name")):
                self.ids.add(value)


@functools.cache
def anchors(path: Path) -> frozenset[str]:
    """The ids (and <a name>s) of an HTML file."""
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def link_problem(site: Path, base: str, href: str) -> str | None:
    """Why the internal link `href` (absolute url under `base`) is broken, or None."""
    parts = urllib.parse.urlsplit(href)
    relative = urllib.parse.unquote(parts.path)[len(urllib.parse.urlsplit(base).path):]
    target = site / relative
    if relative == "" or relative.endswith("/"):
        target = target / "index.html"
    if not target.is_file():
        return f"{href}: no file {target.relative_to(site).as_posix()}"
    fragment = urllib.parse.unquote(parts.fragment)
    if fragment and target.suffix == ".html" and fragment not in anchors(target):
        return f"{href}: no id {fragment!r} in {target.relative_to(site).as_posix()}"
    return None


def alt_problem(src: str, alt: str | None) -> str | None:
    """Why `alt` is not real alt text for the image `src`, or None."""
    if alt is None:
        return "no alt attribute"
    text = alt.strip()
    name = Path(urllib.parse.unquote(urllib.parse.urlsplit(src).path)).name
    if not text:
        return "empty alt"
    if text.lower() in PLACEHOLDER_ALT or text in (name, Path(name).stem):
        return f"placeholder alt {text!r}"
    if re.search(r"\.(png|jpe?g|svg|gif|webp)$", text, re.IGNORECASE) or "_images/" in text:
        return f"alt is a file name ({text!r})"
    return None


# ---- one page --------------------------------------------------------------------------------

@dataclass
class PageResult:
    page: str
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    math: tuple[int, int] = (0, 0)        # (typeset containers, math nodes)
    wide_math: int = 0                    # display formulas wider than their box
    images: tuple[int, int] = (0, 0)      # (good, total)
    links: int = 0                        # distinct internal links checked
    solutions: int = 0
    colab: str = "-"
    axe_content: int = 0                  # serious/critical nodes in our content (failures)
    axe_theme: list[dict] = field(default_factory=list)  # serious/critical nodes outside it
    axe_minor: list[str] = field(default_factory=list)   # moderate/minor: "rule (impact, where)"
    external: list[str] = field(default_factory=list)
    seconds: float = 0.0


JS_MATH = """async () => {
  const nodes = Array.from(document.querySelectorAll('div.math, span.math'));
  const scripts = Array.from(document.scripts).map(s => s.src).filter(s => /mathjax/i.test(s));
  if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise)
    return {loaded: false, nodes: nodes.length, scripts};
  await MathJax.startup.promise;
  return {loaded: true, nodes: nodes.length, scripts,
          containers: document.querySelectorAll('mjx-container').length,
          untypeset: nodes.filter(n => !n.querySelector('mjx-container'))
                          .map(n => n.textContent.trim().slice(0, 60)),
          errors: Array.from(document.querySelectorAll('mjx-merror'))
                       .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 60))};
}"""

JS_IMAGES = """async () => {
  const images = Array.from(document.images);
  images.forEach(i => { i.loading = 'eager'; });
  await Promise.all(images.map(i => i.decode().catch(() => null)));
  return images.map(i => ({src: i.getAttribute('src') || '', alt: i.getAttribute('alt'),
                          complete: i.complete, width: i.naturalWidth}));
}"""

JS_AXE = """async (content) => {
  const result = await axe.run(document, {resultTypes: ['violations'], preload: false});
  const inside = (target) => {
    if (target.length !== 1 || typeof target[0] !== 'string') return false;
    try { const el = document.querySelector(target[0]); return !!(el && el.closest(content)); }
    catch (e) { return false; }
  };
  return result.violations.flatMap(v => v.nodes.map(n => ({
    rule: v.id, impact: n.impact || v.impact, help: v.help, target: n.target.flat().join(' '),
    html: n.html.slice(0, 160), inside: inside(n.target)})));
}"""


def check_math(page, result: PageResult, base: str) -> None:
    if page.locator("div.math, span.math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=TIMEOUT_MS)
    math = page.evaluate(JS_MATH)
    remote = [s for s in math["scripts"] if not s.startswith(base)]
    if remote:
        result.failures.append(f"MathJax loaded from outside the site: {remote}")
    if not math["loaded"]:
        result.math = (0, math["nodes"])
        if math["nodes"]:
            result.failures.append(f"{math['nodes']} math nodes but MathJax did not start")
        return
    result.math = (math["containers"], math["nodes"])
    if math["containers"] != math["nodes"]:
        result.failures.append(f"{math['containers']} mjx-container for {math['nodes']} math nodes")
    for text in math["untypeset"][:5]:
        result.failures.append(f"math not typeset: {text!r}")
    for error in math["errors"][:5]:
        result.failures.append(f"MathJax error (mjx-merror): {error!r}")


JS_WIDE_MATH = """() => {
  const items = Array.from(MathJax.startup.document.math || []);
  const tex = (c) => ((items.find(m => m.typesetRoot === c) || {}).math || '').trim();
  return Array.from(document.querySelectorAll('mjx-container[display="true"]'))
    .filter(c => c.clientWidth > 0)
    .map(c => {
      const math = c.querySelector('mjx-math');
      const inner = math ? math.getBoundingClientRect().width : 0;
      return {overflow: Math.max(c.scrollWidth - c.clientWidth, inner - c.clientWidth),
              box: c.clientWidth, tex: tex(c).replace(/\\s+/g, ' ').slice(0, 80),
              where: (c.closest('[id]') || {}).id || ''};
    })
    .filter(m => m.overflow > 1);
}"""


def check_math_width(page, result: PageResult) -> None:
    """No display formula is wider than its box (it would scroll, hiding its right end)."""
    if not page.evaluate("() => !!(window.MathJax && MathJax.startup && MathJax.startup.document)"):
        return
    wide = page.evaluate(JS_WIDE_MATH)
    result.wide_math = len(wide)
    for math in wide:
        result.failures.append(
            f"display formula {math['overflow']:.0f} px wider than its {math['box']} px box "
            f"(in #{math['where']}): split it over lines with \\begin{{aligned}}; "
            f"its TeX: {math['tex']}")


def check_images(page, result: PageResult) -> None:
    images = page.evaluate(JS_IMAGES)
    bad = 0
    for image in images:
        problems = [] if image["complete"] and image["width"] > 0 else ["did not load"]
        problem = alt_problem(image["src"], image["alt"])
        problems += [problem] if problem else []
        if problems:
            bad += 1
            result.failures.append(f"image {image['src']}: {', '.join(problems)}")
    result.images = (len(images) - bad, len(images))


def check_links(page, result: PageResult, site: Path, base: str) -> None:
    hrefs = page.evaluate(
        "() => Array.from(document.querySelectorAll('a[href], link[href]'), a => a.href)")
    internal = sorted({h for h in hrefs if h.startswith(base)})
    own_ids = set(page.evaluate("() => Array.from(document.querySelectorAll('[id]'), e => e.id)"))
    here = page.url.split("#")[0]
    for href in internal:
        problem = link_problem(site, base, href)
        url, _, fragment = href.partition("#")
        if problem and url == here and urllib.parse.unquote(fragment) in own_ids:
            problem = None  # an id that the page's own scripts made
        if problem:
            result.failures.append(f"broken link {problem}")
    result.links = len(internal)


def check_colab(page, result: PageResult, config: dict, site: Path) -> None:
    expected = expected_colab_url(config, result.page)
    colab = expected.split("/github/")[0]
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'), a => a.href)")
    found = sorted({h for h in hrefs if h.startswith(colab + "/")})
    if not is_notebook_page(site, result.page):
        if result.page.startswith("chapters/"):
            result.failures.append("chapter page not built from a notebook (no Colab button)")
        elif found:
            result.warnings.append(f"Colab link on a page that is not a notebook: {found}")
        return
    if found != [expected]:
        result.failures.append(f"Colab button {found or 'missing'}; expected {expected}")
        result.colab = "wrong"
    else:
        result.colab = "ok"


JS_SETTLE = """() => Promise.race([
  Promise.all(document.getAnimations()
    .filter(a => a.effect && a.effect.getTiming().iterations !== Infinity)
    .map(a => a.finished.catch(() => null))),
  new Promise(resolve => setTimeout(resolve, 5000))])"""


def check_solutions(page, result: PageResult) -> None:
    """Solutions are collapsed on load and open on a click on their title."""
    solutions = page.locator(f"{CONTENT} .solution.dropdown, {CONTENT} details.solution, "
                             f"{CONTENT} details:has(> .solution)")
    result.solutions = solutions.count()
    if result.page in PAGES_WITH_SOLUTIONS and result.solutions == 0:
        result.failures.append("no solution dropdown (chapters 01 and 02 have solutions)")
    for i in range(result.solutions):
        solution = solutions.nth(i)
        is_details = solution.evaluate("e => e.tagName === 'DETAILS'")
        title = solution.locator(":scope > summary" if is_details else ":scope > .admonition-title")
        body = solution.locator(":scope > :not(summary):not(.admonition-title)")
        label = (title.first.inner_text().strip().splitlines() or ["?"])[0][:60]
        # The title of a sphinx-exercise solution links to its exercise: a click on that link
        # follows it. The reader opens the solution with the chevron button at the title's end.
        toggle = title.first.locator(".toggle-button")
        target = toggle if not is_details and toggle.count() else title.first
        if body.count() == 0:
            result.failures.append(f"solution {label!r} has no content")
            continue
        shown = [body.nth(j).is_visible() for j in range(body.count())]
        if any(shown):
            result.failures.append(f"solution {label!r} is visible before it is clicked")
        target.click()
        try:
            body.first.wait_for(state="visible", timeout=5_000)
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError
            result.failures.append(f"solution {label!r} does not open when its title is clicked")
    # A solution fades in as it opens: axe, run during the fade, reads its half-transparent
    # text as too low in contrast. Wait for the page's finite animations and transitions.
    page.evaluate(JS_SETTLE)


def check_axe(page, result: PageResult) -> None:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(JS_AXE, CONTENT)
    nodes = [n for n in found if n["impact"] in SERIOUS]
    result.axe_minor = sorted({f"{n['rule']} ({n['impact']}, "
                               f"{'content' if n['inside'] else 'theme'})"
                               for n in found if n["impact"] not in SERIOUS})
    for node in nodes:
        if node["inside"]:
            result.failures.append(f"axe {node['impact']} {node['rule']} ({node['help']}): "
                                   f"{node['target']} {node['html']}")
    result.axe_content = sum(n["inside"] for n in nodes)
    result.axe_theme = [n for n in nodes if not n["inside"]]


def check_page(context, site: Path, base: str, config: dict, page_path: str,
               out: Path) -> PageResult:
    result = PageResult(page_path)
    start = time.perf_counter()
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and result.failures.append(
        f"console error: {m.text} ({m.location.get('url', '')})"))
    page.on("pageerror", lambda e: result.failures.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: r.url.startswith(base) and result.failures.append(
        f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.url.startswith(base) and r.status >= 400 and
            result.failures.append(f"HTTP {r.status}: {r.url}"))

    def route(request_route):
        if request_route.request.url.startswith(base):
            request_route.continue_()
        else:
            result.external.append(request_route.request.url)
            request_route.abort("blockedbyclient")

    page.route("**/*", route)
    try:
        page.goto(base + page_path, wait_until="load", timeout=TIMEOUT_MS)
        page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
        check_math(page, result, base)
        check_images(page, result)
        shot = out / (page_path[: -len(".html")] + ".png")
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        check_colab(page, result, config, site)
        check_links(page, result, site, base)
        check_solutions(page, result)
        check_math_width(page, result)
        check_axe(page, result)
    except Exception as error:  # noqa: BLE001 - report it as this page's failure, go on
        result.failures.append(f"check aborted: {type(error).__name__}: {error}")
    finally:
        page.close()
    result.seconds = time.perf_counter() - start
    return result


# ---- the whole site --------------------------------------------------------------------------

def summary_line(r: PageResult) -> str:
    status = "FAIL" if r.failures else "ok  "
    return (f"{status} {r.page:<34} math {r.math[0]:>3}/{r.math[1]:<3} wide {r.wide_math}"
            f" img {r.images[0]}/{r.images[1]}"
            f"  links {r.links:>3}  solutions {r.solutions}  colab {r.colab:<4}"
            f"  axe {r.axe_content} (theme {len(r.axe_theme)})  {r.seconds:4.1f}s")


def print_axe_summary(results: list[PageResult]) -> None:
    """The serious/critical axe findings outside our content, and the lesser ones, by rule."""
    theme: dict[tuple[str, str, str], list[str]] = {}
    for r in results:
        for node in r.axe_theme:
            theme.setdefault((node["rule"], node["impact"], node["help"]), []).append(
                f"{r.page}: {node['target']}")
    print("\naxe warnings outside our content (theme; serious/critical, not failures):"
          + ("" if theme else " none"))
    for (rule, impact, help_), where in sorted(theme.items()):
        pages = len({w.split(':')[0] for w in where})
        targets = sorted({w.split(': ', 1)[1] for w in where})
        print(f"  {rule} ({impact}): {help_}: {len(where)} nodes on {pages} pages,"
              f" e.g. {', '.join(targets[:3])}")
    minor: dict[str, int] = {}
    for r in results:
        for rule in r.axe_minor:
            minor[rule] = minor.get(rule, 0) + 1
    if minor:
        print("axe, moderate/minor impact (not checked): "
              + "; ".join(f"{rule} on {count} pages" for rule, count in sorted(minor.items())))


def report(results: list[PageResult], out: Path) -> int:
    """Print the per-page lines and the summaries, write report.json; return the exit status."""
    for r in results:
        print(summary_line(r))
        for message in r.failures:
            print(f"       x {message}")
        for message in r.warnings:
            print(f"       ! {message}")
    print_axe_summary(results)
    external = sorted({u for r in results for u in r.external})
    if external:
        print(f"\nexternal requests blocked (not failures): {', '.join(external)}")
    failed = [r.page for r in results if r.failures]
    totals = (sum(r.math[1] for r in results), sum(r.images[1] for r in results),
              sum(r.links for r in results), sum(r.solutions for r in results))
    print(f"\n{len(results)} pages: {totals[0]} math nodes, {totals[1]} images, {totals[2]} "
          f"internal links, {totals[3]} solutions checked; screenshots in {out}")
    (out / "report.json").write_text(json.dumps([r.__dict__ for r in results], indent=1), "utf-8")
    if failed:
        print(f"FAILED: {len(failed)} page(s): {', '.join(failed)}")
        return 1
    print("site check passed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "site-check")
    parser.add_argument("--config", type=Path, default=ROOT / "_config.yml")
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("pages", nargs="*", help="pages to check (default: all)")
    args = parser.parse_args(argv)

    site = args.site.resolve()
    for path, fix in ((site / "index.html", "build the book first: make book"),
                      (Path(args.chromium), "install Chromium: apt-get install chromium"),
                      (AXE, "install the npm packages: npm ci")):
        if not path.is_file():
            print(f"error: {path} is missing; {fix}", file=sys.stderr)
            return 2
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("error: Playwright is missing: pip install -r requirements-site.txt", file=sys.stderr)
        return 2

    config = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
    pages = args.pages or html_pages(site)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.rglob("*.png") if not args.pages else ():
        old.unlink()  # no screenshots of pages that are gone
    server, base = serve(site)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            print(f"site check: {len(pages)} pages of {site} served at {base}; "
                  f"{args.chromium} (Chromium {browser.version}), axe-core in {AXE.parent}")
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            results = [check_page(context, site, base, config, p, args.out) for p in pages]
            browser.close()
    finally:
        server.shutdown()
    return report(results, args.out)


if __name__ == "__main__":
    sys.exit(main())
