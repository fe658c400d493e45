// swift-tools-version:6.0
import PackageDescription

/// No target sets compiler flags of its own: debug builds use SwiftPM's
/// `-Onone` and release builds its `-O` (bounds and overflow checks stay
/// on). Sanitizer builds (`make test-sanitize`) and the fuzz targets
/// (Fuzz/, `make fuzz`) pass their flags on the command line.
let package = Package(
    name: "Strata",
    products: [
        // Everything, through the umbrella's re-exports.
        .library(name: "Strata", targets: ["Strata"]),
        // One layer and what is below it, for programs that need less.
        .library(name: "StrataCore", targets: ["StrataCore"]),
        .library(name: "StrataData", targets: ["StrataData"]),
        .library(name: "StrataNN", targets: ["StrataNN"]),
        .library(name: "StrataIO", targets: ["StrataIO"]),
        .library(name: "StrataTraining", targets: ["StrataTraining"]),
        // Data-parallel training over Open MPI (needs libopenmpi-dev); not in the umbrella.
        .library(name: "StrataDistributed", targets: ["StrataDistributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
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
        // libpng and libjpeg-turbo, for ImageFolder's PNG and JPEG files.
        .systemLibrary(
            name: "CPNG",
            path: "Sources/CPNG",
            pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]
        ),
        .systemLibrary(
            name: "CTurboJPEG",
            path: "Sources/CTurboJPEG",
            pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]
        ),
        // The C side of the image readers: wraps both libraries so that
        // libpng's longjmp error handling never reaches Swift.
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CTurboJPEG"], path: "Sources/CImageCodecs"),
        // The C door to Open MPI (Debian's libopenmpi-dev). Only StrataDistributed imports it.
        .systemLibrary(
            name: "CMPI",
            path: "Sources/CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        // The library's layers, each a target that imports only those below it
        // (Docs/Architecture.md draws the graph). Cross-target helpers are
        // `package`, never `public`.
        // Core: the BLAS door, Tensor, autograd, kernels, differentiable ops, losses.
        .target(name: "StrataCore", dependencies: ["COpenBLAS", "CKernels"], path: "Sources/StrataCore"),
        // C loops of StrataCore that Swift compiles poorly (vector selects, Winograd's
        // register-blocked products per instruction set) and the parallelFor worker pool.
        .target(name: "CKernels", path: "Sources/CKernels"),
        // Data: IDX, CSV, CIFAR and image-folder readers (gzip via zlib, PNG and
        // JPEG via CImageCodecs), datasets, transforms, samplers, DataLoader.
        .target(name: "StrataData", dependencies: ["StrataCore", "CZlib", "CImageCodecs"], path: "Sources/StrataData"),
        // nn: Module, layers, initialisers, optimisers and schedules, folding, models.
        .target(name: "StrataNN", dependencies: ["StrataCore"], path: "Sources/StrataNN"),
        // io: safetensors, state dicts, checkpoints.
        .target(name: "StrataIO", dependencies: ["StrataCore", "StrataNN"], path: "Sources/StrataIO"),
        // Training: progress, logs, metrics, charts, NaN guard, evaluation.
        .target(
            name: "StrataTraining",
            dependencies: ["StrataCore", "StrataNN", "StrataData", "StrataIO"],
            path: "Sources/StrataTraining"
        ),
        // The umbrella: `import Strata` re-exports every layer above.
        .target(
            name: "Strata",
            dependencies: ["StrataCore", "StrataData", "StrataNN", "StrataIO", "StrataTraining"],
            path: "Sources/Strata"
        ),
        // Distributed: process group over MPI, DistributedDataParallel, SyncBatchNorm.
        .target(
            name: "StrataDistributed",
            dependencies: ["CMPI", "StrataCore", "StrataNN"],
            path: "Sources/StrataDistributed"
        ),
        // `make test-distributed`: named scenarios run under mpirun (XCTest cannot run under it).
        .executableTarget(
            name: "strata-dist-tests",
            dependencies: ["Strata", "StrataDistributed"],
            path: "Tests/DistributedScenarios"
        ),
        // `make bench-distributed`: dist-allreduce, dist-cnn-step and the SyncBatchNorm overhead, under mpirun.
        .executableTarget(
            name: "strata-dist-bench",
            dependencies: ["Strata", "StrataDistributed"],
            path: "Benchmarks/StrataDistBench"
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
            dependencies: ["Strata", "StrataDistributed", .product(name: "ArgumentParser", package: "swift-argument-parser")],
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
            dependencies: ["Strata", "StrataCore", "StrataData", "StrataIO", "StrataNN", "StrataTraining"],
            path: "Tests/StrataTests",
            resources: [.copy("Fixtures")]
        ),
    ]
)
