// swift-tools-version: 6.2
// linkcore's fuzzing targets (issue 17, item 1): one libFuzzer executable per parser, built with
// `-sanitize=fuzzer,address` by scripts/fuzz.sh. A package of its own, depending on linkcore by
// path through its `LinkcoreFuzzable*` products, so that these flags (which must reach every
// module to instrument it) never enter linkcore's build or `swift test`. Built alone, without the
// script's flags, the executables do not link: libFuzzer provides their driver.
import Foundation
import PackageDescription

// A path dependency is named by its directory (the checkout's name: "main", "linkcore", ...).
let linkcore = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent

func fuzzer(_ name: String, _ products: [String], extra: [Target.Dependency] = []) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: linkcore) } + extra
    )
}

let package = Package(
    name: "LinkcoreFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // libFuzzer's LLVMFuzzerRunDriver, declared for Swift (C interop only in C* targets).
        .target(name: "CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"]),
        fuzzer("FuzzFrames", ["LinkcoreFuzzableWire"], extra: [.product(name: "NIOEmbedded", package: "swift-nio"),
                                                            .product(name: "NIOCore", package: "swift-nio")]),
        fuzzer("FuzzConfig", ["LinkcoreFuzzableConfig"]),
        fuzzer("FuzzLinkCode", ["LinkcoreFuzzableLinkCodes"]),
        fuzzer("FuzzRegistryCSV", ["LinkcoreFuzzableRegistry"]),
        fuzzer("FuzzPolicyDecision", ["LinkcoreFuzzablePolicy"]),
        fuzzer("FuzzAdapterJSON", ["LinkcoreFuzzableAdapter"]),
        fuzzer("FuzzPortalForms", ["LinkcoreFuzzablePortal"]),
        fuzzer("FuzzOCSP", ["LinkcoreFuzzableOCSP"]),
    ]
)
