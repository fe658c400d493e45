import XCTest

@testable import StrataCore
@testable import StrataData
@testable import StrataIO
@testable import StrataNN
@testable import StrataTraining

/// MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.
final class PoolingTests: XCTestCase {
    override func tearDown() {
        Threading.count = ProcessInfo.processInfo.activeProcessorCount
        super.tearDown()
    }

    /// Distinct values 0.1 apart in random order: no ties, and a 1e-2 finite
    /// difference step never changes which element is the maximum.
    private func distinctInput(_ shape: [Int], seed: UInt64) -> Tensor {
        let n = shape.reduce(1, *)
        let order = RandomGenerator(seed: seed).permutation(n)
        return Tensor(shape: shape, order.map { Float($0) * 0.1 - Float(n) * 0.05 }, requiresGrad: true)
    }

    private func pool(_ name: String) -> (any Module)? {
        switch name {
        case "max_k3s2p1": return MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
        case "max_k2": return MaxPool2d(kernelSize: 2)
        case "max_k32s12": return MaxPool2d(kernelSize: [3, 2], stride: [1, 2], padding: [1, 0])
        case "avg_k3s2p1": return AvgPool2d(kernelSize: 3, stride: 2, padding: 1)
        case "avg_k2": return AvgPool2d(kernelSize: 2)
        case "adaptive_3x4": return AdaptiveAvgPool2d(outputSize: [3, 4])
        case "adaptive_1x1": return AdaptiveAvgPool2d(outputSize: 1)
        default: return nil
        }
    }

    func testMatchesPyTorch() throws {
        let fixture = try loadFixture("conv")
        for threads in [1, 2] {
            Threading.count = threads
            for name in ["max_k3s2p1", "max_k2", "max_k32s12", "avg_k3s2p1", "avg_k2", "adaptive_3x4", "adaptive_1x1"] {
                let f = try XCTUnwrap(fixture["pool_" + name] as? [String: Any], name)
                let layer = try XCTUnwrap(pool(name))
                let x = Tensor(shape: ints(f["x_shape"]), floats(f["x"]), requiresGrad: true)
                let y = layer(x)
                XCTAssertEqual(y.shape, ints(f["y_shape"]), name)
                assertClose(y.scalars, floats(f["y"]), rtol: 1e-5, atol: 1e-6, name)
                y.backward(Tensor(shape: y.shape, floats(f["g"])))
                assertClose(x.grad!.scalars, floats(f["dx"]), rtol: 1e-5, atol: 1e-6, "dx \(name)")
            }
        }
    }

    func testGradChecks() {
        let layers: [(any Module, [Int])] = [
            (MaxPool2d(kernelSize: 2), [2, 2, 6, 6]),
            (MaxPool2d(kernelSize: 3, stride: 2, padding: 1), [1, 2, 7, 6]),
            (MaxPool2d(kernelSize: [2, 3], stride: 1), [1, 1, 5, 6]),
            (AvgPool2d(kernelSize: 2), [2, 2, 5, 6]),
            (AvgPool2d(kernelSize: 3, stride: 2, padding: 1), [1, 2, 7, 6]),
            (AdaptiveAvgPool2d(outputSize: [3, 2]), [1, 2, 7, 5]),
            (AdaptiveAvgPool2d(outputSize: 1), [2, 3, 4, 5]),
        ]
        for (i, (layer, shape)) in layers.enumerated() {
            assertGradCheck(gradCheck(layer, input: distinctInput(shape, seed: UInt64(40 + i))), "\(type(of: layer)) \(shape)")
        }
    }

    func testMaxPoolTiesGoToFirstMaximumInRowMajorOrder() throws {
        // Window 1 = [[1, 1], [1, 0.5]]: three-way tie, the top-left 1 wins.
        // Window 2 = [[0, 2], [2, 2]]: the 2 on the first row wins.
        let x = Tensor(shape: [1, 1, 2, 4], [1, 1, 0, 2, 1, 0.5, 2, 2], requiresGrad: true)
        let y = MaxPool2d(kernelSize: 2)(x)
        XCTAssertEqual(y.scalars, [1, 2])
        y.backward(Tensor(shape: [1, 1, 1, 2], [10, 20]))
        XCTAssertEqual(x.grad!.scalars, [10, 0, 0, 20, 0, 0, 0, 0])
        let f = try XCTUnwrap(try loadFixture("conv")["pool_max_ties"] as? [String: Any])
        XCTAssertEqual(x.grad!.scalars, floats(f["dx"]), "PyTorch agrees")
        // Overlapping windows: a shared maximum collects the gradient of each window.
        let z = Tensor(shape: [1, 1, 1, 3], [0, 5, 1], requiresGrad: true)
        MaxPool2d(kernelSize: [1, 2], stride: 1)(z).backward(Tensor(shape: [1, 1, 1, 2], [1, 2]))
        XCTAssertEqual(z.grad!.scalars, [0, 3, 0])
    }

    func testMaxPoolPropagatesNaNLikePyTorch() {
        // PyTorch 2.x CPU: a NaN wins its window; of several NaNs, the last one
        // in row-major order gets the gradient. Checked on the 2x2 fast path
        // and on the general path (padding 1).
        let nan = Float.nan
        for (pool, values, expected) in [
            (MaxPool2d(kernelSize: 2), [1, nan, 2, nan], [Float(0), 0, 0, 1]),
            (MaxPool2d(kernelSize: 2), [nan, 3, 2, 1], [Float(1), 0, 0, 0]),
            (MaxPool2d(kernelSize: 3, stride: 3, padding: 1), [1, nan, 2, nan], [Float(0), 0, 0, 1]),
        ] {
            let x = Tensor(shape: [1, 1, 2, 2], values, requiresGrad: true)
            let y = pool(x)
            XCTAssertTrue(y.scalars.allSatisfy(\.isNaN))
            y.backward(Tensor.ones(y.shape))
            XCTAssertEqual(x.grad!.scalars, expected)
        }
    }

    func testPaddingIsMinusInfinityForMaxAndCountedForAverage() {
        let x = Tensor(shape: [1, 1, 2, 2], [-1, -2, -3, -4])
        // Every window of a padded max pool sees at least one real (negative) value.
        XCTAssertEqual(MaxPool2d(kernelSize: 2, stride: 1, padding: 1)(x).scalars, [-1, -1, -2, -1, -1, -2, -3, -3, -4])
        // count_include_pad: the corner window holds one value and three zeros, divided by 4.
        XCTAssertEqual(AvgPool2d(kernelSize: 2, stride: 1, padding: 1)(x).scalars[0], -0.25)
    }

    func testGlobalAveragePoolingAndDefaultStride() {
        let x = Tensor.randn([3, 4, 5, 7], generator: RandomGenerator(seed: 3))
        let y = AdaptiveAvgPool2d(outputSize: 1)(x)
        XCTAssertEqual(y.shape, [3, 4, 1, 1])
        for p in 0..<12 {
            let mean = (0..<35).reduce(0.0) { $0 + Double(x.data[p * 35 + $1]) } / 35
            XCTAssertEqual(Double(y.data[p]), mean, accuracy: 1e-5)
        }
        XCTAssertEqual(MaxPool2d(kernelSize: 2).stride, 2)
        XCTAssertEqual(MaxPool2d(kernelSize: 2)(x).shape, [3, 4, 2, 3])
        XCTAssertEqual(AvgPool2d(kernelSize: 3).stride, 3)
        XCTAssertEqual(AdaptiveAvgPool2d(outputSize: [2, 3])(x).shape, [3, 4, 2, 3])
    }

    func testValidateMessages() {
        XCTAssertThrowsError(try MaxPool2d(kernelSize: 2).validate(inputShape: [4, 6, 6])) { error in
            XCTAssertEqual(
                "\(error)", "MaxPool2d(kernelSize: 2x2, stride: 2x2, padding: 0x0): expected input of shape [N, C, H, W], got [4, 6, 6]")
        }
        XCTAssertThrowsError(try AvgPool2d(kernelSize: 5).validate(inputShape: [1, 1, 3, 8])) { error in
            XCTAssertEqual(
                "\(error)",
                "AvgPool2d(kernelSize: 5x5, stride: 5x5, padding: 0x0): kernel 5x5 is larger than the padded input 3x8 (input [1, 1, 3, 8])"
            )
        }
        XCTAssertThrowsError(try AdaptiveAvgPool2d(outputSize: 2).validate(inputShape: [2, 3])) { error in
            XCTAssertEqual("\(error)", "AdaptiveAvgPool2d(outputSize: 2x2): expected input of shape [N, C, H, W], got [2, 3]")
        }
        XCTAssertNoThrow(try MaxPool2d(kernelSize: 3, padding: 1).validate(inputShape: [1, 1, 1, 1]))
    }
}

/// The C 2x2 max pooling (vectorised in release builds) against a plain
/// loop, at strides 1 and 2 in each direction, on even and odd row widths
/// below and above the vector lengths, with ties and NaNs sprinkled in.
final class MaxPoolVectorPathTests: XCTestCase {
    func testMatchesPlainLoopWithTiesAndNaNs() {
        let gen = RandomGenerator(seed: 77)
        for (sh, sw) in [(2, 2), (1, 1), (1, 2), (2, 1)] {
            for width in [4, 6, 7, 8, 9, 14, 15, 16, 17, 28, 34] {
                for height in [2, 5] {
                    let (n, c) = (2, 3)
                    var values = Tensor.randn([n, c, height, width], generator: gen).scalars
                    // Quantised values make ties common; a few NaNs.
                    for i in values.indices {
                        values[i] = (values[i] * 2).rounded() / 2
                        if gen.nextInt(below: 23) == 0 { values[i] = .nan }
                    }
                    let x = Tensor(shape: [n, c, height, width], values, requiresGrad: true)
                    let y = maxPool2d(x, kernelSize: 2, stride: Size2(sh, sw))
                    let (oh, ow) = ((height - 2) / sh + 1, (width - 2) / sw + 1)
                    let label = "stride \(sh)x\(sw) width \(width) height \(height)"
                    XCTAssertEqual(y.shape, [n, c, oh, ow])
                    var expected = [Float](), expectedArg = [Int]()
                    for p in 0..<(n * c) {
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                var best = -Float.infinity, arg = -1
                                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                                    let i = (sh * oy + dy) * width + sw * ox + dx
                                    let v = values[p * height * width + i]
                                    if arg < 0 || v > best || v.isNaN { (best, arg) = (v, i) }
                                }
                                expected.append(best)
                                expectedArg.append(p * height * width + arg)
                            }
                        }
                    }
                    let got = y.scalars
                    for i in got.indices {
                        let same = got[i] == expected[i] || (got[i].isNaN && expected[i].isNaN)
                        XCTAssertTrue(same, "\(label) output \(i): \(got[i]) vs \(expected[i])")
                    }
                    // Each window's gradient lands on the argmax the plain loop
                    // chose (at stride 2, written by the C backward's selects;
                    // zero on the rows and columns outside every window).
                    let gy = Tensor.randn(y.shape, generator: gen)
                    y.backward(gy)
                    var expectedGrad = [Float](repeating: 0, count: values.count)
                    for (o, a) in expectedArg.enumerated() { expectedGrad[a] += gy.scalars[o] }
                    XCTAssertEqual(x.grad?.scalars ?? [], expectedGrad, "argmax, \(label)")
                }
            }
        }
    }
}
