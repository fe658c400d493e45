// swift-tools-version:6.0
import PackageDescription

/// Release builds of the library are compiled with `-Ounchecked` only where
/// noted; everything else uses the package defaults (`-Onone` / `-O`).
let package = Package(
    name: "Strata",
    products: [
        .library(name: "Strata", targets: ["Strata"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The C door to OpenBLAS (CBLAS) and LAPACKE. Only Sources/Strata/BLAS imports it.
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        // zlib, for gzip-compressed IDX and CSV files.
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "Strata",
            dependencies: ["COpenBLAS", "CZlib"],
            path: "Sources/Strata"
        ),
        // `make bench`: the benchmark harness (never part of `make test`).
        .executableTarget(
            name: "strata-bench",
            dependencies: [
                "Strata",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/StrataBench"
        ),
        // Example programs (Examples/*, `make demo`, `make fashion`, ...).
        .executableTarget(
            name: "fashion-cnn",
            dependencies: ["Strata", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/FashionCNN"
        ),
        .executableTarget(
            name: "bn-init-sweep",
            dependencies: ["Strata", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/BNInitSweep",
            exclude: ["pytorch_crosscheck.py"]
        ),
        .executableTarget(
            name: "small-batch",
            dependencies: ["Strata", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/SmallBatch"
        ),
        .testTarget(
            name: "StrataTests",
            dependencies: ["Strata"],
            path: "Tests/StrataTests",
            resources: [.copy("Fixtures")]
        ),
    ]
)
