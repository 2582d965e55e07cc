// ConformanceTest: every backend but cpu-ref against cpu-ref, op by op and for whole forward+backward passes.
package bptt.conformance;

import bptt.backend.Backend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

class ConformanceTest {
    private static final Backend REFERENCE = Conformance.reference();

    static Stream<Arguments> cases(List<Check> checks) {
        List<Arguments> list = new ArrayList<>();
        for (String backend : TestBackends.underTest()) {
            for (Check c : checks) {
                list.add(Arguments.of(backend, Named.of(c.name() + " " + c.shape(), c)));
            }
        }
        return list.stream();
    }

    static Stream<Arguments> ops() { return cases(Conformance.testOps()); }

    static Stream<Arguments> models() { return cases(Conformance.testModels()); }

    static Stream<Arguments> repeats() { return cases(Conformance.determinism()); }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("ops")
    void opMatchesCpuRef(String backend, Check check) {
        Result r = Conformance.run(check, TestBackends.open(backend), REFERENCE, TestBackends.seedFor(check));
        assertTrue(r.pass(), r.report() + TestBackends.reproduce());
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("models")
    void forwardBackwardMatchesCpuRef(String backend, Check check) {
        Result r = Conformance.run(check, TestBackends.open(backend), REFERENCE, TestBackends.seedFor(check));
        assertTrue(r.pass(), r.report() + TestBackends.reproduce());
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("repeats")
    void sameInputsGiveBitwiseSameOutputs(String backend, Check check) {
        Result r = Conformance.repeat(check, TestBackends.open(backend), TestBackends.seedFor(check));
        assertTrue(r.pass(), r.report() + TestBackends.reproduce());
    }

    @AfterAll
    static void close() {
        TestBackends.closeAll();
        REFERENCE.close();
    }
}
