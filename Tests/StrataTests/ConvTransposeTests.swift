import Foundation
import XCTest

@testable import StrataCore
@testable import StrataNN

/// One transposed-convolution configuration.
private struct TCase: CustomStringConvertible {
    var n = 2, c = 3, h = 4, w = 5, o = 2
    var kernel: Size2 = 3, stride: Size2 = 1, padding: Size2 = 0, outputPadding: Size2 = 0
    var groups = 1, dilation: Size2 = 1, bias = true
    var outH: Int { (h - 1) * stride.height - 2 * padding.height + dilation.height * (kernel.height - 1) + outputPadding.height + 1 }
    var outW: Int { (w - 1) * stride.width - 2 * padding.width + dilation.width * (kernel.width - 1) + outputPadding.width + 1 }
    var description: String {
        "x [\(n), \(c), \(h), \(w)] -> \(o), k \(kernel) s \(stride) p \(padding) op \(outputPadding) g \(groups) d \(dilation)"
    }
}

/// Transposed convolution by its definition, a scatter written plainly in
/// Double: every input pixel x[n, ci, iy, ix] adds x * w[ci, oc, ky, kx] to
/// output pixel (iy*s - p + ky*d, ix*s - p + kx*d) of each output channel
/// oc of its group.
private func naiveScatter(_ t: TCase, x: [Float], w: [Float], b: [Float]?, g: [Float])
    -> (y: [Float], dx: [Float], dw: [Float], db: [Float])
{
    let (oh, ow) = (t.outH, t.outW)
    let cg = t.c / t.groups, og = t.o / t.groups, (kh, kw) = (t.kernel.height, t.kernel.width)
    var y = [Double](repeating: 0, count: t.n * t.o * oh * ow)
    var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
    var db = [Double](repeating: 0, count: t.o)
    for n in 0..<t.n {
        for ci in 0..<t.c {
            for iy in 0..<t.h {
                for ix in 0..<t.w {
                    let xi = ((n * t.c + ci) * t.h + iy) * t.w + ix
                    for j in 0..<og {
                        let oc = (ci / cg) * og + j
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let oy = iy * t.stride.height - t.padding.height + ky * t.dilation.height
                                let ox = ix * t.stride.width - t.padding.width + kx * t.dilation.width
                                if oy < 0 || oy >= oh || ox < 0 || ox >= ow { continue }
                                let wi = ((ci * og + j) * kh + ky) * kw + kx
                                let yi = ((n * t.o + oc) * oh + oy) * ow + ox
                                y[yi] += Double(x[xi]) * Double(w[wi])
                                dx[xi] += Double(g[yi]) * Double(w[wi])
                                dw[wi] += Double(g[yi]) * Double(x[xi])
                            }
                        }
                    }
                }
            }
        }
    }
    for i in y.indices {
        let oc = (i / (oh * ow)) % t.o
        if let b { y[i] += Double(b[oc]) }
        db[oc] += Double(g[i])
    }
    return (y.map { Float($0) }, dx.map { Float($0) }, dw.map { Float($0) }, db.map { Float($0) })
}

final class ConvTransposeTests: XCTestCase {
    override func tearDown() {
        ConvTuning.forced = nil
        Threading.count = ProcessInfo.processInfo.activeProcessorCount
        super.tearDown()
    }

    private static let cases: [TCase] = [
        TCase(),
        TCase(n: 2, c: 2, h: 3, w: 3, o: 3, kernel: 2, stride: 2),  // exact 2x upsampling
        TCase(n: 1, c: 3, h: 4, w: 3, o: 2, kernel: 3, stride: 2, padding: 1, outputPadding: 1),
        TCase(n: 2, c: 4, h: 3, w: 4, o: 6, kernel: [3, 2], stride: [2, 1], padding: [1, 0], outputPadding: [1, 0], groups: 2),
        TCase(n: 2, c: 4, h: 3, w: 3, o: 4, kernel: 3, stride: 1, padding: 1, groups: 4, bias: false),  // depthwise
        TCase(n: 1, c: 2, h: 4, w: 3, o: 3, kernel: 3, stride: 2, padding: 1, outputPadding: 1, dilation: 2),
        TCase(n: 1, c: 2, h: 3, w: 4, o: 2, kernel: 2, stride: 1, outputPadding: 1, dilation: 2),  // op < dilation only
        TCase(n: 3, c: 3, h: 2, w: 3, o: 4, kernel: 1),  // pointwise
        TCase(n: 2, c: 2, h: 3, w: 2, o: 2, kernel: 1, stride: 3, outputPadding: 2),  // sparse 1x1
        TCase(n: 1, c: 3, h: 3, w: 4, o: 2, kernel: [2, 4], stride: [3, 2], padding: [0, 1], outputPadding: [2, 1], dilation: [1, 2]),
    ]

    private func check(_ t: TCase, seed: UInt64, _ label: String) {
        let gen = RandomGenerator(seed: seed)
        let layer = ConvTranspose2d(
            inputChannels: t.c, outputChannels: t.o, kernelSize: t.kernel, stride: t.stride,
            padding: t.padding, outputPadding: t.outputPadding, groups: t.groups,
            bias: t.bias, dilation: t.dilation, generator: gen)
        XCTAssertEqual(layer.weight.shape, [t.c, t.o / t.groups, t.kernel.height, t.kernel.width])
        let x = Tensor.randn([t.n, t.c, t.h, t.w], generator: gen, requiresGrad: true)
        let y = layer(x)
        XCTAssertEqual(y.shape, [t.n, t.o, t.outH, t.outW], "\(t) \(label)")
        let g = Tensor.randn(y.shape, generator: gen)
        let ref = naiveScatter(t, x: x.scalars, w: layer.weight.scalars, b: layer.bias?.scalars, g: g.scalars)
        assertClose(y.scalars, ref.y, rtol: 1e-4, atol: 1e-4, "y \(t) \(label)")
        y.backward(g)
        assertClose(x.grad?.scalars ?? [], ref.dx, rtol: 1e-4, atol: 1e-4, "dx \(t) \(label)")
        assertClose(layer.weight.grad?.scalars ?? [], ref.dw, rtol: 1e-4, atol: 1e-4, "dw \(t) \(label)")
        if let b = layer.bias { assertClose(b.grad?.scalars ?? [], ref.db, rtol: 1e-4, atol: 1e-4, "db \(t) \(label)") }
    }

    func testMatchesNaiveScatterOnManyShapes() {
        for threads in [1, 2] {
            Threading.count = threads
            for strategy in [ConvStrategy.perSample, .batched] {
                ConvTuning.forced = strategy
                for (i, t) in Self.cases.enumerated() { check(t, seed: UInt64(300 + i), "\(strategy), \(threads) threads") }
            }
        }
        ConvTuning.forced = nil
        for (i, t) in Self.cases.enumerated() { check(t, seed: UInt64(400 + i), "automatic") }
    }

    func testGradCheck() {
        let configs: [(ConvTranspose2d, [Int])] = [
            (
                ConvTranspose2d(2, 3, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, generator: RandomGenerator(seed: 1)),
                [2, 2, 3, 3]
            ),
            (ConvTranspose2d(4, 2, kernelSize: [2, 3], groups: 2, dilation: [2, 1], generator: RandomGenerator(seed: 2)), [1, 4, 3, 4]),
            (ConvTranspose2d(3, 2, kernelSize: 1, bias: false, generator: RandomGenerator(seed: 3)), [2, 3, 2, 3]),
        ]
        for (i, (layer, shape)) in configs.enumerated() {
            assertGradCheck(gradCheck(layer, input: randomAwayFromZero(shape, seed: UInt64(40 + i))), layer.name)
        }
    }

    func testIsTheAdjointOfConv2d() {
        // <conv2d(y, W), x> == <y, convTranspose2d(x, W)> for the same weight.
        let gen = RandomGenerator(seed: 8)
        let w = Tensor.randn([4, 3, 3, 2], generator: gen)
        let y = Tensor.randn([2, 3, 7, 7], generator: gen)
        let cx = conv2d(y, weight: w, stride: 2, padding: [1, 0])
        let x = Tensor.randn(cx.shape, generator: gen)
        let ty = convTranspose2d(x, weight: w, stride: 2, padding: [1, 0], outputPadding: [0, 1])
        XCTAssertEqual(ty.shape, y.shape)
        let lhs = zip(cx.scalars, x.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let rhs = zip(y.scalars, ty.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(lhs, rhs, accuracy: 1e-3 * abs(lhs) + 1e-4)
    }

    func testMatchesPyTorch() throws {
        for name in ["basic", "strided_grouped", "dilated_outpad", "depthwise_nobias", "asymmetric"] {
            let f = try layerFixture("convt_" + name)
            let xs = ints(f["x_shape"]), k = ints(f["kernel"]), s = ints(f["stride"]), p = ints(f["padding"])
            let op = ints(f["output_padding"]), d = ints(f["dilation"])
            let layer = ConvTranspose2d(
                inputChannels: xs[1], outputChannels: f["out_channels"] as? Int ?? 0,
                kernelSize: Size2(k[0], k[1]), stride: Size2(s[0], s[1]), padding: Size2(p[0], p[1]),
                outputPadding: Size2(op[0], op[1]), groups: f["groups"] as? Int ?? 0,
                bias: f["bias"] != nil, dilation: Size2(d[0], d[1]))
            checkAgainstLayerFixture(layer, f, name)
        }
    }

    func testDefaultInitBoundAndValidation() {
        let layer = ConvTranspose2d(8, 6, kernelSize: [3, 5], groups: 2, generator: RandomGenerator(seed: 9))
        XCTAssertEqual(layer.namedParameters().map(\.0), ["weight", "bias"])
        XCTAssertEqual(layer.weight.shape, [8, 3, 3, 5])
        // PyTorch's fanIn for this layout: weight.size(1) * kh * kw = 3 * 15 = 45.
        let bound = 1 / Float(45).squareRoot()
        let w = layer.weight.scalars.map(abs)
        XCTAssertLessThanOrEqual(w.max() ?? 0, bound)
        XCTAssertGreaterThan(w.max() ?? 0, bound * 0.98)
        XCTAssertThrowsError(try layer.validate(inputShape: [2, 6, 4, 4])) { error in
            XCTAssertEqual(
                "\(error)",
                "ConvTranspose2d(8, 6, kernelSize: 3x5, stride: 1x1, padding: 0x0, groups: 2): expected input of shape [N, 8, H, W], got [2, 6, 4, 4]"
            )
        }
        let shrinking = ConvTranspose2d(1, 1, kernelSize: 1, padding: 2)
        XCTAssertThrowsError(try shrinking.validate(inputShape: [1, 1, 3, 3])) { error in
            XCTAssertTrue("\(error)".contains("is not positive"), "\(error)")
        }
        XCTAssertEqual(ConvTranspose2d(3, 5, kernelSize: 4, stride: 2, padding: 1)(Tensor.randn([1, 3, 7, 9])).shape, [1, 5, 14, 18])
    }
}
