#!/usr/bin/env bash
# Regenerates the committed protobuf code from Protos/. Builds need none of this: run it only
# after changing a .proto file, then commit the output.
#   Swift:  Sources/LinkcoreWire/Generated/*.pb.swift   (protoc + protoc-gen-swift)
#   C:      Sources/CLinkcoreProto/                     (protoc-c, for C peers and policy modules)
#           sdk/c/generated/linkcore/v1/                (the same files, so the C SDK builds with make alone)
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

out_c=Sources/CLinkcoreProto
out_sdk=sdk/c/generated
rm -f "$out_c"/*.pb-c.c "$out_c"/include/linkcore/v1/*.pb-c.h "$out_sdk"/linkcore/v1/*.pb-c.[ch]
mkdir -p "$out_c/include/linkcore/v1" "$out_sdk"
# The SDK keeps protoc-c's own layout: generated/linkcore/v1/*.pb-c.{c,h}.
protoc-c -I Protos --c_out="$out_sdk" "${protos[@]}"
# SwiftPM wants C sources outside include/ and headers under it.
cp "$out_sdk"/linkcore/v1/*.pb-c.c "$out_c/"
cp "$out_sdk"/linkcore/v1/*.pb-c.h "$out_c/include/linkcore/v1/"
echo "generated $(ls "$out_c"/*.c | wc -l) C files (Sources/CLinkcoreProto and $out_sdk)"
