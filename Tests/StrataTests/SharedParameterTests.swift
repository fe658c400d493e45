import XCTest

@testable import StrataCore
@testable import StrataNN

/// A module reachable twice (weight tying, a shared block) is one set of
/// parameters, as in PyTorch: `parameters()` lists each tensor once, so an
/// optimiser steps it once, while `stateDict()` keeps every key.
final class SharedParameterTests: XCTestCase {
    /// Applies the same Linear twice, as a user writes a tied block.
    final class Tied: Module {
        var training = true
        let first: Linear
        let second: Linear
        init(_ shared: Linear) {
            first = shared
            second = shared
        }
        func forward(_ x: Tensor) -> Tensor { second(first(x).relu()) }
    }

    func testSharedModuleIsSteppedOnceAndCountedOnce() {
        manualSeed(3)
        let shared = Linear(3, 3)
        let model = Tied(shared)
        XCTAssertEqual(model.namedParameters().map(\.0), ["first.weight", "first.bias"])
        XCTAssertEqual(model.parameterCount, 12)
        XCTAssertEqual(model.namedModules().map(\.0), ["", "first"])
        // PyTorch's state_dict keeps both paths (first.* and second.*).
        XCTAssertEqual(model.stateDict().map(\.0), ["first.weight", "first.bias", "second.weight", "second.bias"])

        let x = Tensor.randn([4, 3])
        let before = shared.weight.scalars
        let optimizer = SGD(parameters: model.parameters(), learningRate: 0.5)
        optimizer.zeroGrad()
        model(x).sum().backward()
        let grad = shared.weight.grad!.scalars
        optimizer.step()
        // One step of lr * grad, where grad already sums both uses.
        let expected = zip(before, grad).map { $0 - 0.5 * $1 }
        assertClose(shared.weight.scalars, expected, rtol: 1e-6, atol: 1e-7)
    }

    /// A tensor stored by two modules (an output layer tied to an input
    /// embedding's weight) is one parameter under its first key.
    func testTiedTensorAppearsOnceUnderItsFirstKey() {
        final class TiedWeight: Module {
            var training = true
            let encoder = Linear(4, 4, bias: false)
            var decoderWeight: Tensor { encoder.weight }
            var ownParameters: [(String, Tensor)] { [("decoder_weight", decoderWeight)] }
            func forward(_ x: Tensor) -> Tensor { linear(encoder(x), weight: decoderWeight, bias: nil) }
        }
        let model = TiedWeight()
        XCTAssertEqual(model.namedParameters().map(\.0), ["decoder_weight"])
        XCTAssertEqual(model.parameters().count, 1)
        XCTAssertEqual(model.stateDict().map(\.0), ["decoder_weight", "encoder.weight"])
    }
}
