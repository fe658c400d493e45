// swift-tools-version:6.0
import PackageDescription

/// libFuzzer targets for Strata's readers (`make fuzz`, Docs/Reliability.md).
///
/// A package of its own, so that a plain `swift build` of Strata never
/// builds them: each target defines `LLVMFuzzerTestOneInput` and links only
/// when built with
///
///     swift build --package-path Fuzz -c release \
///         -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
///
/// The targets call Strata's public API only (the readers a user calls).
let fuzzers = ["safetensors", "safetensors-header", "idx", "csv", "checkpoint"]

let package = Package(
    name: "StrataFuzz",
    dependencies: [.package(name: "Strata", path: "..")],
    targets: [
        // Writes each input to a per-process temporary file for the path-based readers.
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
    ] + fuzzers.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: ["FuzzSupport", .product(name: "Strata", package: "Strata")],
            path: "Sources/fuzz-\(name)"
        )
    }
)
