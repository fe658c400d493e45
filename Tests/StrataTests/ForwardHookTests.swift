import XCTest

@testable import StrataCore
@testable import StrataNN

/// Forward hooks on modules: seen on `module(x)`, in order, replaceable,
/// removable, and per module instance.
final class ForwardHookTests: XCTestCase {
    func testHookSeesTheSubModulesOutputAndCanFeedItsGradient() {
        manualSeed(1)
        let fc1 = Linear(3, 4), act = ReLU(), fc2 = Linear(4, 2)
        let model = Sequential(fc1, act, fc2)
        var captured: Tensor?
        let handle = act.registerForwardHook { module, input, output in
            XCTAssertTrue(module === act)
            XCTAssertEqual(input.shape, [5, 4])
            output.retainsGrad = true
            captured = output
            return nil
        }
        let x = Tensor.randn([5, 3])
        let y = model(x)
        let expected = withNoGrad { fc1(x).relu() }
        XCTAssertEqual(captured?.scalars, expected.scalars)
        // Grad-CAM's ingredient: the activation's gradient after backward.
        y.sum().backward()
        XCTAssertNotNil(captured?.grad)
        XCTAssertEqual(captured?.grad?.shape, [5, 4])
        handle.remove()
        captured = nil
        _ = model(x)
        XCTAssertNil(captured, "a removed hook ran")
        handle.remove()  // idempotent
    }

    func testHooksReplaceInputAndOutputInRegistrationOrder() {
        let layer = Identity()
        var order: [String] = []
        layer.registerForwardPreHook { _, x in
            order.append("pre"); return x * 2
        }
        layer.registerForwardHook { _, input, y in
            order.append("post1")
            XCTAssertEqual(input.scalars, [2, 4], "the hook sees the pre-hook's replacement input")
            return y + 1
        }
        layer.registerForwardHook { _, _, y in
            order.append("post2"); XCTAssertEqual(y.scalars, [3, 5]); return nil
        }
        let out = layer(Tensor([1, 2]))
        XCTAssertEqual(out.scalars, [3, 5])
        XCTAssertEqual(order, ["pre", "post1", "post2"])
    }

    func testHooksBelongToOneInstanceAndNotToDirectForwardCalls() {
        let a = ReLU(), b = ReLU()
        var calls = 0
        a.registerForwardHook { _, _, _ in
            calls += 1; return nil
        }
        _ = b(Tensor([1]))
        XCTAssertEqual(calls, 0)
        _ = a.forward(Tensor([1]))
        XCTAssertEqual(calls, 0, "forward(x) called directly is not hooked, as documented")
        _ = a(Tensor([1]))
        XCTAssertEqual(calls, 1)
    }
}
