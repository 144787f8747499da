#!/usr/bin/env bash
# Regenerates the committed protobuf code from Protos/. Builds need none of this: run it only
# after changing a .proto file, then commit the output.
#   Swift:  Sources/LinkcoreWire/Generated/*.pb.swift   (protoc + protoc-gen-swift)
#   C:      sdk/c/generated/linkcore/v1/                (protoc-c, for C peers and policy modules; the
#                                                        package's CLinkcoreProto target builds these same files)
# `--c-only` regenerates only the C files (no Swift toolchain needed).
set -euo pipefail
cd "$(dirname "$0")/.."

c_only=false
[ "${1:-}" = "--c-only" ] && c_only=true

command -v protoc-c >/dev/null || {
    echo "needs protoc-c: apt-get install protobuf-c-compiler" >&2; exit 1; }
protos=(Protos/linkcore/v1/*.proto)

if ! $c_only; then
    command -v protoc >/dev/null || { echo "needs protoc: apt-get install protobuf-compiler" >&2; exit 1; }
    # protoc-gen-swift comes from the same swift-protobuf version the package resolves.
    swift build -c release --product protoc-gen-swift --scratch-path .build-protogen >/dev/null
    plugin="$(swift build -c release --scratch-path .build-protogen --show-bin-path)/protoc-gen-swift"
    out_swift=Sources/LinkcoreWire/Generated
    rm -f "$out_swift"/*.pb.swift
    mkdir -p "$out_swift"
    protoc -I Protos --plugin=protoc-gen-swift="$plugin" \
        --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath \
        --swift_out="$out_swift" "${protos[@]}"
    echo "generated $(ls "$out_swift" | wc -l) Swift files"
fi

out_c=sdk/c/generated
rm -f "$out_c"/linkcore/v1/*.pb-c.[ch]
mkdir -p "$out_c"
# protoc-c's own layout, generated/linkcore/v1/*.pb-c.{c,h}: SwiftPM builds it in place
# (Package.swift: CLinkcoreProto, path "sdk/c/generated", public headers ".").
protoc-c -I Protos --c_out="$out_c" "${protos[@]}"
echo "generated $(ls "$out_c"/linkcore/v1/*.c | wc -l) C files ($out_c)"
