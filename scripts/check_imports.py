#!/usr/bin/env python3
"""Checks that Package.swift and the Swift sources agree about module dependencies.

For every target with Swift sources, the modules of this package and of its package dependencies that
the target's files `import` must be exactly the target's declared dependencies: an import of a module
the target does not declare, or a declared dependency that no file imports, fails the check. (Swift
lets a target import a module it reaches only transitively; this check does not.) System modules
(Foundation, Glibc, Testing, ...) are not package modules and are ignored.

Each C target's comment in Package.swift ends with "Imported only by `A`, `B/File.swift`." naming the
Swift modules (any file) or files that import it; the check fails when that list and the files that
actually import the C module differ.

The targets, their paths and dependencies come from `swift package dump-package` (the manifest as
SwiftPM reads it). A product dependency is taken to provide the module of the product's name
(ArgumentParser, Logging).

Usage: scripts/check_imports.py [PACKAGE_DIR]      exit status 0 when consistent, 1 with a report.
"""

import json
import os
import re
import subprocess
import sys

IMPORT = re.compile(
    r"^[ \t]*(?:@[A-Za-z_]+(?:\([^)]*\))?[ \t]+)*"
    r"(?:(?:public|package|internal|fileprivate|private)[ \t]+)?"
    r"import[ \t]+(?:(?:typealias|struct|class|enum|protocol|let|var|func)[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)",
    re.MULTILINE,
)
IMPORTED_ONLY_BY = re.compile(r"Imported only by ((?:`[^`]+`(?:,\s*(?://\s*)?|\s+and\s+(?://\s*)?)?)+)")


def without_comments_and_strings(source: str) -> str:
    """The Swift source with comments and string literals blanked out (lines kept), so that `import` in a
    comment or in an embedded script is not read as an import."""
    out = []
    i, n = 0, len(source)
    while i < n:
        if source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
        elif source.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if source.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif source.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * source.count("\n", i, j))
            i = j
        elif source.startswith('"""', i):
            j = source.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append("\n" * source.count("\n", i, j))
            i = j
        elif source[i] == '"':
            j = i + 1
            while j < n and source[j] not in '"\n':
                j += 2 if source[j] == "\\" else 1
            i = j + 1
        else:
            out.append(source[i])
            i += 1
    return "".join(out)


def swift_files(directory: str):
    for folder, _, names in os.walk(directory):
        for name in sorted(names):
            if name.endswith(".swift"):
                yield os.path.join(folder, name)


def target_directory(package_dir: str, target: dict) -> str:
    if target.get("path"):
        return os.path.join(package_dir, target["path"])
    parent = "Tests" if target["type"] == "test" else "Sources"
    return os.path.join(package_dir, parent, target["name"])


def declared_dependencies(target: dict) -> set:
    names = set()
    for dependency in target.get("dependencies", []):
        # {"byName": [name, condition]}, {"target": [name, condition]}, {"product": [name, package, ...]}
        (kind, value), = dependency.items()
        names.add(value[0])
    return names


def c_shim_comments(manifest_text: str, c_targets: set) -> dict:
    """Target name → the `Imported only by` entries of the comment block right above its declaration."""
    lines = manifest_text.splitlines()
    found = {}
    for index, line in enumerate(lines):
        match = re.search(r'\.(?:systemLibrary|target)\(name:\s*"([^"]+)"', line)
        if not match or match.group(1) not in c_targets:
            continue
        comment = []
        k = index - 1
        while k >= 0 and lines[k].strip().startswith("//"):
            comment.insert(0, lines[k].strip()[2:].strip())
            k -= 1
        text = " ".join(comment)
        listed = IMPORTED_ONLY_BY.search(text)
        found[match.group(1)] = re.findall(r"`([^`]+)`", listed.group(1)) if listed else None
    return found


def main() -> int:
    package_dir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    dump = subprocess.run(
        ["swift", "package", "--package-path", package_dir, "dump-package"], capture_output=True, text=True
    )
    if dump.returncode != 0:
        print(f"check_imports: swift package dump-package failed:\n{dump.stderr}", file=sys.stderr)
        return 1
    manifest = json.loads(dump.stdout)
    targets = manifest["targets"]
    product_modules = {
        value[0]
        for target in targets
        for dependency in target.get("dependencies", [])
        for kind, value in dependency.items()
        if kind == "product"
    }
    package_modules = {target["name"] for target in targets} | product_modules

    problems = []
    importers = {}  # module → [(target, relative file)]
    c_targets = set()
    for target in targets:
        directory = target_directory(package_dir, target)
        files = list(swift_files(directory))
        if not files:
            if target["type"] != "system-target" and not os.path.isdir(directory):
                problems.append(f"{target['name']}: no folder {os.path.relpath(directory, package_dir)}")
            c_targets.add(target["name"])
            continue
        imported = {}
        for path in files:
            with open(path, encoding="utf-8") as handle:
                code = without_comments_and_strings(handle.read())
            for module in IMPORT.findall(code):
                if module in package_modules:
                    imported.setdefault(module, os.path.relpath(path, package_dir))
                    importers.setdefault(module, []).append(
                        (target["name"], os.path.relpath(path, os.path.join(directory, ".."))))
        declared = declared_dependencies(target)
        for module in sorted(set(imported) - declared):
            problems.append(
                f"{target['name']}: {imported[module]} imports {module}, which Package.swift does not list "
                f"among {target['name']}'s dependencies")
        for module in sorted(declared - set(imported)):
            problems.append(
                f"{target['name']}: Package.swift lists the dependency {module}, but no file of "
                f"{os.path.relpath(directory, package_dir)} imports it")

    with open(os.path.join(package_dir, "Package.swift"), encoding="utf-8") as handle:
        comments = c_shim_comments(handle.read(), c_targets)
    for c_target in sorted(c_targets):
        listed = comments.get(c_target)
        actual = sorted({file for _, file in importers.get(c_target, [])})
        if listed is None:
            problems.append(
                f"{c_target}: the comment above it in Package.swift has no \"Imported only by `...`.\" "
                f"(imported by {', '.join(actual) or 'nothing'})")
            continue
        unmatched = [file for file in actual if not any(file == entry or file.startswith(entry + "/") for entry in listed)]
        unused = [entry for entry in listed if not any(file == entry or file.startswith(entry + "/") for file in actual)]
        for file in unmatched:
            problems.append(f"{c_target}: {file} imports it, but its Package.swift comment names only {', '.join(listed)}")
        for entry in unused:
            problems.append(f"{c_target}: its Package.swift comment names {entry}, which does not import it")

    if problems:
        print("Package.swift and the imports disagree:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"check_imports: {len(targets)} targets, dependencies equal to imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
