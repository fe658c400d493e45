import XCTest

@testable import StrataCore
@testable import StrataNN

/// The bulk fills draw the generator's own xoshiro256** stream, in order,
/// and leave the generator where the fill stopped.
final class RandomFillTests: XCTestCase {
    func testUniformAndNormalFillsFollowTheStreamAndAdvanceIt() {
        let unit = 1.0 / 9_007_199_254_740_992.0
        var reference = TensorTests.ReferenceXoshiro(seed: 11)
        let g = RandomGenerator(seed: 11)
        let u = Tensor(zeros: [5])
        Init.uniform(u, low: -1, high: 3, generator: g)
        let expectedU = (0..<5).map { _ in Float(-1 + 4 * (Double(reference.next() >> 11) * unit)) }
        XCTAssertEqual(u.scalars, expectedU)
        XCTAssertEqual(g.next(), reference.next(), "the generator continues after the uniform fill")

        let n = Tensor(zeros: [3])
        Init.normal(n, mean: 0.5, std: 2, generator: g)
        var expectedN: [Float] = []
        while expectedN.count < 3 {
            let u1 = 1.0 - Double(reference.next() >> 11) * unit
            let u2 = Double(reference.next() >> 11) * unit
            let r = (-2.0 * log(u1)).squareRoot(), a = 2.0 * Double.pi * u2
            expectedN += [0.5 + 2 * Float(r * cos(a)), 0.5 + 2 * Float(r * sin(a))]
        }
        XCTAssertEqual(n.scalars, Array(expectedN.prefix(3)))
        XCTAssertEqual(g.next(), reference.next(), "the generator continues after the normal fill (pairs of draws)")
    }
}
