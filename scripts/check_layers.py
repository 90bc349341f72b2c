#!/usr/bin/env python3
"""Checks the code's layering, which the compiler does not:

1. No import cycles between the files of a crate. Every `use` and every inline
   `crate::…`/`super::…`/`self::…` path is resolved to the file that defines the item
   (following `pub use` re-exports, which are pass-throughs, not dependencies), and the
   file graph must have no strongly connected component larger than one file.
2. The crates above the engine (protocol, server, the binary with its bench and conformance
   tools, integration tests) name only the engine's facade: items re-exported at its root,
   and the `api`, `codec`, `error`, `types` and `limits` modules. The per-stage criterion
   benches and the fuzz targets measure and fuzz inner stages: they build with the engine's
   `internals` feature and may name any module.

Usage: scripts/check_layers.py [--verbose]   (exit status 1 on any violation)
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CRATES = {
    "engine": ROOT / "engine/src/lib.rs",
    "protocol": ROOT / "protocol/src/lib.rs",
    "server": ROOT / "server/src/lib.rs",
    "sluice": ROOT / "src/main.rs",
}

# What crates above the engine may name, by first path segment after `sluice_engine::`.
ENGINE_FACADE_MODULES = {"api", "codec", "error", "types", "limits"}
# Directories allowed everything (they build with the `internals` feature).
INTERNALS_ALLOWED = {"benches", "fuzz"}

MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
ITEM_DEF = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:(?:async|unsafe|const|extern\s+\"C\")\s+)*"
    r"(?:struct|enum|fn|trait|type|const|static|union|mod|macro_rules!)\s+(\w+)",
    re.M,
)
USE_STMT = re.compile(r"^([ \t]*)(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M)
INLINE_PATH = re.compile(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)")
LINE_COMMENT = re.compile(r"//[^\n]*")
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def strip(text):
    """Source without comments and string literals (so paths in docs don't count)."""
    text = BLOCK_COMMENT.sub("", text)
    text = LINE_COMMENT.sub("", text)
    return STRING.sub('""', text)


def expand_use_tree(tree):
    """`a::{b, c::{d, e}, f::*}` -> [[a, b], [a, c, d], [a, c, e], [a, f, *]]."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        return parts + ([cur] if cur else [])

    def walk(prefix, s):
        if "{" in s and s.endswith("}"):
            head = [p for p in s[: s.index("{")].split("::") if p]
            for part in split_top(s[s.index("{") + 1 : -1]):
                walk(prefix + head, part)
        else:
            out.append(prefix + [p for p in s.split("::") if p])

    walk([], tree)
    return out


def use_paths(raw):
    """Paths of one use statement, with `as` aliases removed."""
    raw = raw.replace("\n", " ")
    raw = re.sub(r"\s+as\s+\w+", "", raw)
    return expand_use_tree(raw)


class Crate:
    def __init__(self, name, root):
        self.name = name
        self.root = root
        self.modules = {}  # module path tuple -> file Path
        self.children = {}  # module path -> set of child names
        self.discover((), root)
        self.files = {f: m for m, f in self.modules.items()}
        self.sources = {f: strip(f.read_text()) for f in self.files}
        self.defs = {f: set(ITEM_DEF.findall(src)) for f, src in self.sources.items()}
        self.reexports = {f: self.parse_reexports(f) for f in self.files}

    def discover(self, path, file):
        self.modules[path] = file
        self.children[path] = set()
        text = strip(file.read_text())
        names = MOD_DECL.findall(text)
        # The engine declares its inner modules through a macro (`internal_modules!`).
        for group in re.findall(r"internal_modules!\(([^)]*)\)", text):
            names += [n.strip() for n in group.split(",") if n.strip()]
        for name in names:
            if file.name in ("lib.rs", "main.rs", "mod.rs"):
                base = file.parent
            else:
                base = file.parent / file.stem
            for candidate in (base / f"{name}.rs", base / name / "mod.rs"):
                if candidate.exists():
                    self.children[path].add(name)
                    self.discover(path + (name,), candidate)
                    break

    def parse_reexports(self, file):
        out = []
        for indent, vis, tree in USE_STMT.findall(self.sources[file]):
            if vis and not indent:
                out.extend(use_paths(tree))
        return out

    def absolute(self, module, segs, top_level):
        """Resolve the leading `crate`/`super`/`self`/child segments to an absolute path."""
        if not segs:
            return None
        if segs[0] == "crate":
            return list(segs[1:])
        if segs[0] in ("super", "self"):
            base = list(module)
            rest = list(segs)
            # An indented `use super::` sits in an inline module (tests) of this file.
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    if top_level:
                        base = base[:-1]
                    top_level = True
                rest = rest[1:]
            return base + rest
        if segs[0] in self.children.get(tuple(module), ()):
            return list(module) + list(segs)
        return None  # an external crate or a local name

    def resolve(self, segs, depth=0):
        """The file defining the item an absolute path names."""
        module = ()
        i = 0
        while i < len(segs) and segs[i] in self.children.get(module, ()):
            module = module + (segs[i],)
            i += 1
        file = self.modules[module]
        if i == len(segs) or depth > 20:
            return file
        name = segs[i]
        if name in self.defs[file] or name == "*":
            return file
        for path in self.reexports[file]:
            if path and path[-1] == name:
                target = self.absolute(module, path, True)
                if target is not None:
                    return self.resolve(target + segs[i + 1 :], depth + 1)
        for path in self.reexports[file]:
            if path and path[-1] == "*":
                target = self.absolute(module, path[:-1], True)
                if target is not None:
                    found = self.resolve(target + [name], depth + 1)
                    if found != self.modules.get(tuple(target)):
                        return found
        return file

    def edges(self):
        graph = {f: set() for f in self.files}
        for file, module in self.files.items():
            src = self.sources[file]
            paths = []
            for indent, vis, tree in USE_STMT.findall(src):
                if vis and not indent:
                    continue  # a re-export: a pass-through, not a dependency
                for p in use_paths(tree):
                    paths.append((p, not indent))
            for m in INLINE_PATH.finditer(src):
                line_start = src.rfind("\n", 0, m.start()) + 1
                if re.match(r"\s*(pub(\([^)]*\))?\s+)?use\b", src[line_start:m.start()]):
                    continue
                paths.append((m.group(1).split("::"), True))
            for segs, top in paths:
                target = self.absolute(module, segs, top)
                if target is None:
                    continue
                dest = self.resolve(target)
                if dest != file:
                    graph[file].add(dest)
        return graph


def sccs(graph):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def facade_violations():
    engine = Crate("engine", CRATES["engine"])
    root_items = (
        engine.defs[CRATES["engine"]] | {p[-1] for p in engine.reexports[CRATES["engine"]] if p}
    ) - engine.children[()]
    out = []
    dirs = {
        "protocol": ROOT / "protocol/src",
        "server": ROOT / "server/src",
        "sluice": ROOT / "src",
        "tests": ROOT / "tests",
        "benches": ROOT / "benches",
    }
    fuzz = ROOT / "fuzz/fuzz_targets"
    if fuzz.exists():
        dirs["fuzz"] = fuzz
    for kind, d in dirs.items():
        if kind in INTERNALS_ALLOWED:
            continue
        allowed = ENGINE_FACADE_MODULES
        for f in sorted(d.rglob("*.rs")):
            src = strip(f.read_text())
            for m in re.finditer(r"sluice_engine::(\w+)", src):
                first = m.group(1)
                if first in allowed or first in root_items:
                    continue
                line = src.count("\n", 0, m.start()) + 1
                out.append(f"{f.relative_to(ROOT)}:{line}: sluice_engine::{first}")
            for m in re.finditer(r"use\s+sluice_engine::\{([^;]*)\};", src, re.S):
                for p in use_paths("x::{" + m.group(1) + "}"):
                    first = p[1] if len(p) > 1 else ""
                    if first and first not in allowed and first not in root_items:
                        line = src.count("\n", 0, m.start()) + 1
                        out.append(f"{f.relative_to(ROOT)}:{line}: sluice_engine::{first}")
    return sorted(set(out))


def main():
    verbose = "--verbose" in sys.argv
    failed = False
    for name, root in CRATES.items():
        crate = Crate(name, root)
        graph = crate.edges()
        cycles = [c for c in sccs(graph) if len(c) > 1]
        if verbose:
            n_edges = sum(len(v) for v in graph.values())
            print(f"{name}: {len(graph)} files, {n_edges} file dependencies")
        for comp in cycles:
            failed = True
            files = sorted(str(f.relative_to(ROOT)) for f in comp)
            print(f"{name}: import cycle between {len(files)} files:")
            for f in files:
                deps = sorted(
                    str(d.relative_to(ROOT)) for d in graph[ROOT / f] if d in comp
                )
                print(f"  {f} -> {', '.join(deps)}")
    violations = facade_violations()
    for v in violations:
        failed = True
        print(f"engine internals named outside the engine: {v}")
    if failed:
        sys.exit(1)
    print("layers: no import cycles; crates above the engine use only its facade")


if __name__ == "__main__":
    main()
