// swift-tools-version:6.0
import PackageDescription

/// libFuzzer targets for Strata's readers (`make fuzz`, Docs/Reliability.md).
///
/// A package of its own, so that a plain `swift build` of Strata never
/// builds them: each target's main hands its test function to libFuzzer's
/// `LLVMFuzzerRunDriver`, which links only when built with
///
///     swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address \
///         -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
///
/// (lld: the system's gold stops with an internal error on these links.)
/// (`-parse-as-library` with libFuzzer's own main does not link: SwiftPM
/// aliases `main` to `<target>_main` on Linux.)
/// The targets call Strata's public API only (the readers a user calls).
let fuzzers = ["safetensors", "safetensors-header", "idx", "csv", "checkpoint"]

let package = Package(
    name: "StrataFuzz",
    dependencies: [.package(name: "Strata", path: "..")],
    targets: [
        // libFuzzer's driver entry point, declared for Swift.
        .target(name: "CLibFuzzer", path: "Sources/CLibFuzzer"),
        // Runs the driver; writes each input to a per-process temporary file.
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], path: "Sources/FuzzSupport"),
    ]
        + fuzzers.map { name in
            .executableTarget(
                name: "fuzz-\(name)",
                dependencies: ["FuzzSupport", .product(name: "Strata", package: "Strata")],
                path: "Sources/fuzz-\(name)"
            )
        }
)
