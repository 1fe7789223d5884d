#!/usr/bin/env python3
"""view_chromium.py -- `lexie view`'s page in headless Chromium (issue 13).

Renders tests/data/view/results.jsonl (with --docs docs.jsonl) through the
CLI, opens the page with `chromium --headless --dump-dom` and checks the DOM
after the page's script ran:
  - every grounded span is highlighted with exactly the document's
    characters, sliced here by code points (independently of the C code),
    with its type and layer, across nesting, crossing, emoji, CJK, CR/LF and
    markup-like text;
  - spans with match "none" or offsets outside the text are listed as
    flagged and not highlighted;
  - the page's own check, which slices textContent by the marks' UTF-16
    offsets in JavaScript, passed for every highlight;
  - document text that looks like markup stayed text (one script element);
  - hovering the first span lights it and the relation that names it.
Then it saves a screenshot to OUT/view.png.

usage: view_chromium.py [--lexie build/lexie] [--out build]
Exit status: 0 passed, 1 failed, 77 skipped (no Chromium; scripts/setup.sh
installs Debian's chromium package).  Runs in about 4 s.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "view")
SKIP = 77


def find_chromium():
    env = os.environ.get("LEXIE_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(binary, profile, *args):
    """Runs headless Chromium with a throwaway profile; returns stdout bytes."""
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           "--user-data-dir=" + profile, *args]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          timeout=60, check=True).stdout


class Dom(HTMLParser):
    """Collects each article's highlights: the text under every fragment of
    a span (data-s), concatenated, and its attributes; the flagged list; the
    body's data-selfcheck and the number of script elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.article = None
        self.in_text = False
        self.in_flagged = False
        self.marks = []  # open marks: (article, data-s)
        self.spans = {}  # (article, data-s) -> text
        self.attrs = {}  # (article, data-s) -> attributes of the first fragment
        self.flagged = set()  # (article, data-ss) of flagged list items
        self.selfcheck = None
        self.hovertest = None
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.selfcheck = a.get("data-selfcheck")
            self.hovertest = a.get("data-hovertest")
        elif tag == "script":
            self.scripts += 1
        elif tag == "article":
            self.article = a.get("id")
        elif tag == "div" and a.get("class") == "text":
            self.in_text = True
        elif tag == "ul" and a.get("class") == "flagged":
            self.in_flagged = True
        elif tag == "li" and self.in_flagged and "data-ss" in a:
            self.flagged.add((self.article, a["data-ss"]))
        elif tag == "mark" and self.in_text:
            key = (self.article, a["data-s"])
            self.marks.append(key)
            self.spans.setdefault(key, "")
            self.attrs.setdefault(key, a)

    def handle_endtag(self, tag):
        if tag == "mark" and self.in_text:
            self.marks.pop()
        elif tag == "div" and self.in_text:
            self.in_text = False
        elif tag == "ul":
            self.in_flagged = False

    def handle_data(self, data):
        for key in self.marks:
            self.spans[key] += data


def mentions(result):
    """The mentions of a result line in the page's data-s order, as
    (mention, type, layer)."""
    out = [(m, m.get("type"), "entity") for m in result.get("entities", [])]
    for e in result.get("events", []):
        out.append((e.get("trigger"), e.get("type"), "trigger"))
        out += [(a, a.get("role"), "argument") for a in e.get("arguments", [])]
    for t in result.get("triples", []):
        for slot in ("subject", "relation", "object", "time", "place"):
            if slot in ("subject", "relation", "object") or t.get(slot) is not None:
                out.append((t.get(slot), slot, "triple"))
    return out


def expected():
    """(drawn, n_exact, flagged): drawn[(article, data-s)] = (text, type,
    layer) for every span of a known document with offsets inside its
    text (n_exact of them), and for a document the docs lack, every span
    with a text (its text is rebuilt from them); flagged = the (article,
    data-s) of match "none" and bad offsets."""
    docs = {}
    with open(os.path.join(DATA, "docs.jsonl"), encoding="utf-8", newline="") as f:
        for line in f:
            d = json.loads(line)
            docs[str(d["id"])] = d["text"]
    drawn, flagged, art, n_exact = {}, set(), -1, 0
    with open(os.path.join(DATA, "results.jsonl"), encoding="utf-8", newline="") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if not isinstance(r, dict) or "id" not in r:
                continue
            art += 1
            if "error" in r:
                continue
            text = docs.get(str(r["id"]))
            for k, (m, typ, layer) in enumerate(mentions(r)):
                key = ("doc-%d" % art, str(k))
                s, e = m.get("start"), m.get("end")
                if m.get("match") == "none" or not 0 <= s < e:
                    flagged.add(key)
                elif text is None:
                    drawn[key] = (m["text"], typ, layer)
                elif e <= len(text):
                    drawn[key] = (text[s:e], typ, layer)
                    n_exact += 1
                else:
                    flagged.add(key)
    return drawn, n_exact, flagged


def check(dom, drawn, n_exact, flagged):
    errors = []
    for key, (text, typ, layer) in sorted(drawn.items()):
        got = dom.spans.get(key)
        if got != text:
            errors.append("%s span %s: highlighted %r, document says %r" % (*key, got, text))
            continue
        a = dom.attrs[key]
        if a.get("data-type") != typ or a.get("data-l") != layer:
            errors.append("%s span %s: type %r layer %r, want %r %r" % (
                *key, a.get("data-type"), a.get("data-l"), typ, layer))
    for key in sorted(flagged):
        if key in dom.spans:
            errors.append("%s span %s: flagged but highlighted" % key)
        if key not in dom.flagged:
            errors.append("%s span %s: not in the flagged list" % key)
    extra = set(dom.spans) - set(drawn)
    if extra:
        errors.append("unexpected highlights: %s" % sorted(extra))
    if dom.selfcheck != "ok %d" % n_exact:
        errors.append("page self-check (UTF-16 offsets in JavaScript): %r, want 'ok %d'" % (
            dom.selfcheck, n_exact))
    if dom.scripts != 1:
        errors.append("%d script elements: document text became markup" % dom.scripts)
    if len(drawn) < 20:
        errors.append("only %d highlights expected: the fixture lost its spans" % len(drawn))
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lexie", default=os.environ.get("LEXIE_TEST_CLI", "build/lexie"))
    ap.add_argument("--out", default="build", help="folder for view.png")
    args = ap.parse_args()
    binary = find_chromium()
    if not binary:
        print("view_chromium: skipped: no chromium on PATH (Debian: apt-get install chromium; "
              "scripts/setup.sh installs it)")
        return SKIP
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="lexie-view-")
    try:
        page = os.path.join(tmp, "view.html")
        run = subprocess.run([args.lexie, "view", os.path.join(DATA, "results.jsonl"), "--docs",
                              os.path.join(DATA, "docs.jsonl"), "-o", page],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        # The fixture holds a malformed line and an unknown id: exit 1, page written.
        if run.returncode != 1 or not os.path.exists(page):
            print("view_chromium: lexie view exited %d: %s" % (run.returncode,
                                                              run.stderr.decode()))
            return 1
        url = "file://" + page
        dom = Dom()
        dom.feed(chromium(binary, os.path.join(tmp, "p1"), "--dump-dom",
                          url + "#lexie-hover-test").decode("utf-8"))
        drawn, n_exact, flagged = expected()
        errors = check(dom, drawn, n_exact, flagged)
        # Hovering "Barack Obama" lights its mark, its relation and the relation's reference to it.
        if dom.hovertest != "3":
            errors.append("hover linking: %r elements lit, want 3" % dom.hovertest)
        os.makedirs(args.out, exist_ok=True)
        png = os.path.abspath(os.path.join(args.out, "view.png"))
        if os.path.exists(png):
            os.remove(png)
        chromium(binary, os.path.join(tmp, "p2"), "--hide-scrollbars", "--window-size=1200,2000",
                 "--screenshot=" + png, url)
        with open(png, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                errors.append("%s is not a PNG" % png)
    except (subprocess.SubprocessError, OSError) as e:
        print("view_chromium: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for e in errors:
        print("view_chromium: FAIL %s" % e)
    if errors:
        return 1
    print("view_chromium: %d highlights and %d flagged spans checked in the DOM, self-check %s, "
          "screenshot %s (%.1f s)" % (len(drawn), len(flagged), dom.selfcheck, png,
                                       time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
