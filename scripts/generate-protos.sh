#!/usr/bin/env bash
# Regenerates the committed protobuf code from Protos/. Builds need none of this: run it only
# after changing a .proto file, then commit the output.
#   Swift:  Sources/LinkcoreWire/Generated/*.pb.swift   (protoc + protoc-gen-swift)
#   C:      Sources/CLinkcoreProto/                     (protoc-c, for C peers and policy modules)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v protoc >/dev/null && command -v protoc-c >/dev/null || {
    echo "needs protoc and protoc-c: apt-get install protobuf-compiler protobuf-c-compiler" >&2; exit 1; }

# protoc-gen-swift comes from the same swift-protobuf version the package resolves.
swift build -c release --product protoc-gen-swift --scratch-path .build-protogen >/dev/null
plugin="$(swift build -c release --scratch-path .build-protogen --show-bin-path)/protoc-gen-swift"

out_swift=Sources/LinkcoreWire/Generated
out_c=Sources/CLinkcoreProto
rm -f "$out_swift"/*.pb.swift "$out_c"/*.pb-c.c "$out_c"/include/linkcore/v1/*.pb-c.h
mkdir -p "$out_swift" "$out_c/include/linkcore/v1"

protos=(Protos/linkcore/v1/*.proto)
protoc -I Protos --plugin=protoc-gen-swift="$plugin" \
    --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath \
    --swift_out="$out_swift" "${protos[@]}"
protoc-c -I Protos --c_out="$out_c" "${protos[@]}"
# SwiftPM wants C sources outside include/ and headers under it.
for f in "$out_c"/linkcore/v1/*.pb-c.c; do mv "$f" "$out_c/"; done
mv "$out_c"/linkcore/v1/*.pb-c.h "$out_c/include/linkcore/v1/"
rm -rf "$out_c/linkcore"
echo "generated $(ls "$out_swift" | wc -l) Swift and $(ls "$out_c"/*.c | wc -l) C files"
