import XCTest

@testable import StrataCore
@testable import StrataData

/// Per-sample transforms, checked against hand-derived results.
final class TransformTests: XCTestCase {
    /// [c, h, w] filled with 1, 2, 3, ...
    func ramp(_ c: Int, _ h: Int, _ w: Int) -> Tensor { Tensor(shape: [c, h, w], (1...(c * h * w)).map(Float.init)) }
    /// A fresh generator seeded 0 for each test, released in tearDown:
    /// XCTest keeps its test-case objects alive, so a stored generator would
    /// show as a leak of the library under AddressSanitizer.
    var g0: RandomGenerator!

    override func setUp() { g0 = RandomGenerator(seed: 0) }
    override func tearDown() { g0 = nil }

    func testNormalizePerChannelAndBroadcast() throws {
        let x = ramp(2, 1, 2)
        assertClose(try Normalize(mean: [1, 3], std: [2, 0.5]).apply(x, generator: g0).scalars, [0, 0.5, 0, 2])
        assertClose(try Normalize(mean: [1], std: [1]).apply(x, generator: g0).scalars, [0, 1, 2, 3])
        XCTAssertThrowsError(try Normalize(mean: [0, 0, 0], std: [1, 1, 1]).apply(x, generator: g0))
        XCTAssertEqual(x.scalars, [1, 2, 3, 4], "input unchanged")
    }

    func testPadAndCenterCrop() throws {
        let x = ramp(1, 2, 2)
        let p = try Pad(left: 1, top: 0, right: 2, bottom: 1, fill: -1).apply(x, generator: g0)
        XCTAssertEqual(p.shape, [1, 3, 5])
        XCTAssertEqual(p.scalars, [-1, 1, 2, -1, -1, -1, 3, 4, -1, -1, -1, -1, -1, -1, -1])
        let c = try CenterCrop(height: 1, width: 3).apply(ramp(1, 3, 5), generator: g0)
        XCTAssertEqual(c.scalars, [7, 8, 9])
        XCTAssertThrowsError(try CenterCrop(4).apply(x, generator: g0)) { XCTAssertTrue("\($0)".contains("CenterCrop")) }
    }

    func testRandomCropIsAWindowOfThePaddedImageAndCoversEveryOffset() throws {
        let x = ramp(2, 3, 3)
        let padded = try Pad(1).apply(x, generator: g0)
        var offsets = Set<[Int]>()
        for seed in 0..<200 {
            let out = try RandomCrop(3, padding: 1).apply(x, generator: RandomGenerator(seed: UInt64(seed)))
            XCTAssertEqual(out.shape, [2, 3, 3])
            // Find the window of the padded image it equals.
            var found: [Int]?
            for top in 0...2 {
                for left in 0...2 {
                    let w = cropped(padded, c: 2, h: 5, w: 5, top: top, left: left, height: 3, width: 3)
                    if w.scalars == out.scalars { found = [top, left] }
                }
            }
            XCTAssertNotNil(found, "seed \(seed)")
            if let found { offsets.insert(found) }
        }
        XCTAssertEqual(offsets.count, 9, "all 3 x 3 offsets occur")
        let a = try RandomCrop(3, padding: 1).apply(x, generator: RandomGenerator(seed: 5))
        let b = try RandomCrop(3, padding: 1).apply(x, generator: RandomGenerator(seed: 5))
        XCTAssertEqual(a.scalars, b.scalars, "same generator seed, same crop")
        XCTAssertThrowsError(try RandomCrop(5).apply(x, generator: g0)) { XCTAssertTrue("\($0)".contains("RandomCrop")) }
    }

    func testHorizontalFlip() throws {
        let x = ramp(2, 2, 3)
        XCTAssertEqual(try RandomHorizontalFlip(p: 1).apply(x, generator: g0).scalars, [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10])
        XCTAssertEqual(try RandomHorizontalFlip(p: 0).apply(x, generator: g0).scalars, x.scalars)
        let flips = (0..<400).filter { s in
            (try? RandomHorizontalFlip().apply(x, generator: RandomGenerator(seed: UInt64(s))).scalars[0]) == 3
        }.count
        XCTAssertGreaterThan(flips, 150)
        XCTAssertLessThan(flips, 250)
    }

    func testRandomErasingFillsOneRectangleWithinTheScale() throws {
        let x = Tensor(shape: [2, 10, 10], [Float](repeating: 1, count: 200))
        var erasedSome = false
        for seed in 0..<50 {
            let out = try RandomErasing(p: 1, scale: 0.1...0.2, value: 0).apply(x, generator: RandomGenerator(seed: UInt64(seed)))
            let zeros = (0..<100).filter { out.scalars[$0] == 0 }
            XCTAssertEqual(zeros, (0..<100).filter { out.scalars[100 + $0] == 0 }, "the same rectangle in every channel")
            guard let first = zeros.first, let last = zeros.last else { continue }
            erasedSome = true
            let (h, w) = (last / 10 - first / 10 + 1, last % 10 - first % 10 + 1)
            XCTAssertEqual(zeros.count, h * w, "a rectangle")
            // sqrt rounding lets the area stray a little beyond the scale.
            XCTAssertTrue((6...26).contains(zeros.count), "area \(zeros.count)")
        }
        XCTAssertTrue(erasedSome)
        XCTAssertEqual(try RandomErasing(p: 0).apply(x, generator: g0).scalars, x.scalars)
    }

    func testResizeBilinearHalfPixel() throws {
        // PyTorch: F.interpolate([[1, 2]], size=4, mode="linear") = [1, 1.25, 1.75, 2].
        let up = try Resize(height: 1, width: 4).apply(Tensor(shape: [1, 1, 2], [1, 2]), generator: g0)
        assertClose(up.scalars, [1, 1.25, 1.75, 2])
        // Halving averages each 2 x 2 block.
        let x = ramp(1, 4, 4)
        let down = try Resize(height: 2, width: 2).apply(x, generator: g0)
        assertClose(down.scalars, [3.5, 5.5, 11.5, 13.5])
        XCTAssertEqual(try Resize(height: 4, width: 4).apply(x, generator: g0).scalars, x.scalars)
    }

    func testComposeAppliesInOrder() throws {
        let x = ramp(1, 1, 3)
        let t = Compose([RandomHorizontalFlip(p: 1), Pad(left: 1, top: 0, right: 0, bottom: 0), Normalize(mean: [1], std: [1])])
        XCTAssertEqual(try t.apply(x, generator: g0).scalars, [-1, 2, 1, 0])
    }
}
