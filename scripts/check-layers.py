#!/usr/bin/env python3
"""Checks that module dependencies point down the layers drawn in docs/architecture.md.

Reads two things: each target's declared dependencies (`swift package dump-package`) and the
`import` lines of its Swift sources, and fails when either names a module of a higher layer,
when a module is missing from the table below (so a new module must be placed deliberately), or
when the domain reaches for the wire format, OpenSSL or NIO. Run by scripts/test.sh.
"""
import json, os, re, subprocess, sys

# Bottom up. A module may depend on modules of a LOWER layer only; within a layer, only the
# pairs listed in SAME_LAYER are allowed (and they must not form a cycle: SwiftPM checks that).
LAYERS = [
    ("C interop", ["COpenSSL", "CSystemd", "CSQLite", "CProtobufC", "CLinkcoreProto", "CLinkcorePolicy", "CPKCS11"]),
    ("Foundations", ["LinkcoreShapes", "LinkcoreInstruments", "LinkcoreCrypto", "LinkcoreSystemd"]),
    ("Formats and engines", ["LinkcoreWire", "LinkcoreSQLite", "LinkcoreAudit", "LinkcoreLinkCodes", "LinkcorePKI",
                             "LinkcoreConfig", "LinkcoreTLS", "LinkcoreMetrics", "LinkcoreAdapterAPI",
                             "LinkcoreCard", "LinkcoreCardVerifier"]),
    ("Stores", ["LinkcoreStore", "LinkcorePostgresStore", "LinkcoreRegistry", "LinkcoreJPKI"]),
    ("Domain and policy", ["LinkcoreDomain", "LinkcorePolicy", "LinkcorePolicyTables", "LinkcorePolicyModuleKit",
                           "LinkcoreOCSP"]),
    ("Sessions", ["LinkcoreTransport"]),
    ("Peers and process services", ["LinkcoreClient", "LinkcoreLifecycle"]),
    ("Processes", ["LinkcoreDaemon", "LinkcoreAdapter", "LinkcorePortal", "PolicyWhitelistModule", "PolicyFeesModule",
                   "PolicyEventsModule"]),
    ("Executables", ["linkcored", "linkctl", "linkcore-matcher", "linkcore-adapter", "linkcore-card", "linkcore-jpki",
                     "linkcore-portal"]),
]
SAME_LAYER = {
    ("CLinkcoreProto", "CProtobufC"),  # protoc-c's output needs its runtime
    # The portal reuses the adapter's core session (CoreSession, CoreEndpoint) rather than a
    # second connection manager; docs/portal.md says how it could move down into LinkcoreClient.
    ("LinkcorePortal", "LinkcoreAdapter"),
    # The PostgreSQL engine implements the store interface (and its records) it sits beside.
    ("LinkcorePostgresStore", "LinkcoreStore"),
}
# What the domain must never see: it is pure logic over interfaces (issue 13, item 4).
DOMAIN_FORBIDDEN = re.compile(r"^(LinkcoreWire|COpenSSL|NIO\w*|LinkcoreTLS|LinkcoreTransport|SwiftProtobuf|CLinkcoreProto)$")
# Test support, benchmarks and tests sit above everything and are not checked.
UNCHECKED = re.compile(r"(Tests$|^BenchSupport$|-bench$|^LinkcoreTestSupport$)")

def main() -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    manifest = json.loads(subprocess.run(["swift", "package", "--package-path", root, "dump-package"],
                                         check=True, capture_output=True, text=True).stdout)
    layer = {m: i for i, (_, mods) in enumerate(LAYERS) for m in mods}
    names = {t["name"] for t in manifest["targets"]}
    errors = []

    def check(src: str, dst: str, how: str) -> None:
        if src == "LinkcoreDomain" and DOMAIN_FORBIDDEN.match(dst):
            errors.append(f"{src} {how} {dst}: the domain must not depend on the wire format, OpenSSL or NIO")
        if dst not in names or dst not in layer:
            return  # an external package (swift-nio, swift-log, ...) or a system module
        if layer[dst] > layer[src] or (layer[dst] == layer[src] and src != dst and (src, dst) not in SAME_LAYER):
            errors.append(f"{src} ({LAYERS[layer[src]][0]}) {how} {dst} ({LAYERS[layer[dst]][0]}): a dependency must point down")

    for t in manifest["targets"]:
        name = t["name"]
        if UNCHECKED.search(name):
            continue
        if name not in layer:
            errors.append(f"{name}: not placed in a layer in scripts/check-layers.py (and docs/architecture.md)")
            continue
        for dep in t.get("dependencies", []):
            kind, value = next(iter(dep.items()))
            dst = value[0]
            check(name, dst, "depends on")
        path = t.get("path") or os.path.join("Sources", name)
        for folder, _, files in os.walk(os.path.join(root, path)):
            for f in files:
                if f.endswith(".swift"):
                    with open(os.path.join(folder, f), encoding="utf-8") as fh:
                        for line in fh:
                            m = re.match(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:public |package |internal )?import\s+(?:\w+\s+)?(\w+)", line)
                            if m:
                                check(name, m.group(1), f"imports ({os.path.relpath(os.path.join(folder, f), root)})")
    for e in sorted(set(errors)):
        print("check-layers:", e, file=sys.stderr)
    if errors:
        return 1
    print(f"check-layers: {len(layer)} modules in {len(LAYERS)} layers, every dependency points down")
    return 0

if __name__ == "__main__":
    sys.exit(main())
