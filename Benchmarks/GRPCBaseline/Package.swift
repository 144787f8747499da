// swift-tools-version: 6.0
// gRPC baseline for the linkcore transport benchmark: a grpc-swift-2 unary echo over mutual TLS
// (grpc-swift-nio-transport's HTTP/2 transport, NIOSSL). A separate package so its
// dependencies never enter linkcore's own graph. See ../README.md.
import PackageDescription

let package = Package(
    name: "GRPCBaseline",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
    ],
    targets: [
        .executableTarget(
            name: "grpc-echo-bench",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ]
        ),
    ]
)
