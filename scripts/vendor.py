#!/usr/bin/env python3
"""Copy the browser builds we serve from node_modules/ into webapp/static/vendor/.

Run after `npm ci`. Only the files listed in FILES are copied; anything else under
webapp/static/vendor/ (git-ignored, generated) is removed, so the folder always matches
this list and package-lock.json. Files whose content is unchanged are left alone, so a
second run changes nothing. Standard library only.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "webapp" / "static" / "vendor"

# npm package -> (folder under vendor/, [(path in package, path under that folder)])
BPMN_FONT = "dist/assets/bpmn-font"
FILES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "bpmn-js": (
        "bpmn-js",
        [
            ("dist/bpmn-navigated-viewer.production.min.js", "bpmn-navigated-viewer.production.min.js"),
            ("dist/bpmn-modeler.production.min.js", "bpmn-modeler.production.min.js"),
            ("dist/assets/diagram-js.css", "assets/diagram-js.css"),
            ("dist/assets/bpmn-js.css", "assets/bpmn-js.css"),
            (f"{BPMN_FONT}/css/bpmn.css", "assets/bpmn-font/css/bpmn.css"),
            *(
                (f"{BPMN_FONT}/font/bpmn.{ext}", f"assets/bpmn-font/font/bpmn.{ext}")
                for ext in ("woff2", "woff", "ttf", "eot", "svg")
            ),
            ("LICENSE", "LICENSE"),
        ],
    ),
    "@bpmn-io/form-js": (
        "form-js",
        [
            ("dist/form-viewer.umd.js", "form-viewer.umd.js"),
            ("dist/form-editor.umd.js", "form-editor.umd.js"),
            ("dist/assets/form-js.css", "assets/form-js.css"),
            ("dist/assets/form-js-editor.css", "assets/form-js-editor.css"),
            ("LICENSE", "LICENSE"),
        ],
    ),
    # The in-browser modeler (webapp/static/js/modeler.js): properties panel with the Camunda
    # Platform provider (its UMD build bundles @bpmn-io/properties-panel; the CSS comes from there),
    # the Camunda moddle extension as JSON, and dmn-js for responsibility tables.
    "bpmn-js-properties-panel": (
        "bpmn-js-properties-panel",
        [
            ("dist/bpmn-js-properties-panel.umd.js", "bpmn-js-properties-panel.umd.js"),
            ("LICENSE", "LICENSE"),
        ],
    ),
    # German palette, context pad and replace menu: an ES module (`export default {...}`),
    # imported by js/modeler_de.js, so it is served as is.
    "bpmn-js-i18n": (
        "bpmn-js-i18n",
        [
            ("translations/de.js", "de.js"),
            ("LICENSE", "LICENSE"),
        ],
    ),
    "@bpmn-io/properties-panel": (
        "properties-panel",
        [
            ("dist/assets/properties-panel.css", "assets/properties-panel.css"),
            ("LICENSE", "LICENSE"),
        ],
    ),
    "camunda-bpmn-moddle": (
        "camunda-bpmn-moddle",
        [
            ("resources/camunda.json", "camunda.json"),
            ("LICENSE", "LICENSE"),
        ],
    ),
    "dmn-js": (
        "dmn-js",
        [
            ("dist/dmn-modeler.production.min.js", "dmn-modeler.production.min.js"),
            *(
                (f"dist/assets/{name}.css", f"assets/{name}.css")
                for name in (
                    "diagram-js",
                    "dmn-js-shared",
                    "dmn-js-drd",
                    "dmn-js-decision-table",
                    "dmn-js-decision-table-controls",
                    "dmn-js-literal-expression",
                    "dmn-js-boxed-expression",
                    "dmn-js-boxed-expression-controls",
                )
            ),
            ("dist/assets/dmn-font/css/dmn.css", "assets/dmn-font/css/dmn.css"),
            *(
                (f"dist/assets/dmn-font/font/dmn.{ext}", f"assets/dmn-font/font/dmn.{ext}")
                for ext in ("woff2", "woff", "ttf", "eot", "svg")
            ),
            ("LICENSE", "LICENSE"),
        ],
    ),
    "chart.js": (
        "chart.js",
        [
            ("dist/chart.umd.min.js", "chart.umd.min.js"),
            ("LICENSE.md", "LICENSE.md"),
        ],
    ),
    "axe-core": (
        "axe-core",
        [
            ("axe.min.js", "axe.min.js"),
            ("LICENSE", "LICENSE"),
            ("LICENSE-3RD-PARTY.txt", "LICENSE-3RD-PARTY.txt"),
        ],
    ),
}


def fail(message: str) -> None:
    print(f"vendor.py: {message}", file=sys.stderr)
    raise SystemExit(1)


def check_installed() -> None:
    """Stop with a clear message when node_modules is missing or older than package.json."""
    if not NODE_MODULES.is_dir():
        fail("node_modules/ is missing: run `npm ci` in the project root first.")
    wanted = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["dependencies"]
    for package in FILES:
        manifest = NODE_MODULES / package / "package.json"
        if not manifest.is_file():
            fail(f"{package} is not installed: run `npm ci`.")
        installed = json.loads(manifest.read_text(encoding="utf-8"))["version"]
        if installed != wanted[package]:
            fail(f"{package} {installed} is installed but package.json pins {wanted[package]}: run `npm ci`.")


def copy_all() -> tuple[int, int]:
    """Copy every listed file; return (files served, files changed or removed)."""
    expected: set[Path] = set()
    changed = 0
    for package, (folder, files) in FILES.items():
        for source_name, target_name in files:
            source = NODE_MODULES / package / source_name
            target = VENDOR / folder / target_name
            if not source.is_file():
                fail(f"{package}: {source_name} is missing in node_modules (layout changed?)")
            expected.add(target)
            if target.is_file() and filecmp.cmp(source, target, shallow=False):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            changed += 1
    for path in sorted(VENDOR.rglob("*"), reverse=True):
        if path.is_file() and path not in expected:
            path.unlink()
            changed += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return len(expected), changed


def main() -> None:
    check_installed()
    served, changed = copy_all()
    print(f"vendor: {served} files in {VENDOR.relative_to(ROOT)} ({changed} changed)")


if __name__ == "__main__":
    main()
