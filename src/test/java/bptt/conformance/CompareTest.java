// CompareTest: the judging rule itself: NaN/Inf fail first, the tolerance formula, indices of mismatches, bitwise repeats.
package bptt.conformance;

import bptt.backend.Backend;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CompareTest {
    private static final Check CHECK = new Check() {
        @Override
        public String name() { return "op"; }

        @Override
        public String shape() { return "N=4"; }

        @Override
        public List<Output> run(Backend backend, long seed) { throw new UnsupportedOperationException(); }
    };

    private static Result compare(float[] got, float[] ref, Tolerance tol) {
        return Compare.against("x", CHECK, 1, List.of(new Output("y", got, tol)), List.of(new Output("y", ref, tol)));
    }

    @Test
    void withinAtolPlusRtolTimesRefPasses() {
        Result r = compare(new float[]{1.0f, 100.5f}, new float[]{1.0f, 100f}, Tolerance.of(0.1, 0.004));
        assertTrue(r.pass(), r.report());
        assertEquals(0.5, r.maxAbs(), 1e-9);
    }

    @Test
    void outsideTheToleranceFailsNamingTheIndex() {
        Result r = compare(new float[]{1f, 2f, 3.5f}, new float[]{1f, 2f, 3f}, Tolerance.of(0.1, 0.01));
        assertFalse(r.pass());
        assertTrue(r.mismatches().get(0).startsWith("y[2]"), r.report());
    }

    @Test
    void nanAndInfFailFirstEvenWhenOtherElementsAreFarOff() {
        Result r = compare(new float[]{9f, Float.NaN, Float.POSITIVE_INFINITY}, new float[]{1f, 2f, 3f},
                Tolerance.of(1e-3, 0));
        assertFalse(r.pass());
        assertTrue(r.mismatches().get(0).startsWith("y[1]") && r.mismatches().get(0).contains("not finite"), r.report());
        assertTrue(r.mismatches().get(1).startsWith("y[2]"), r.report());
        assertTrue(r.mismatches().get(2).startsWith("y[0]"), r.report());
        assertTrue(Double.isNaN(r.maxAbs()));
    }

    @Test
    void nanOnBothSidesFailsBecauseItMayBeAnElementNeitherBackendWrote() {
        Result r = compare(new float[]{1f, Float.NaN}, new float[]{1f, Float.NaN}, Tolerance.of(1e-3, 1e-3));
        assertFalse(r.pass(), r.report());
        assertTrue(r.mismatches().get(0).startsWith("y[1]") && r.mismatches().get(0).contains("neither wrote"), r.report());
        assertTrue(compare(new float[]{Float.POSITIVE_INFINITY}, new float[]{Float.POSITIVE_INFINITY}, Tolerance.EXACT).pass(),
                "equal infinities are the same value");
    }

    @Test
    void scaledToleranceFollowsTheLargestReference() {
        Tolerance tol = Tolerance.scaled(1e-3, 0);
        assertTrue(compare(new float[]{0.05f, 100f}, new float[]{0f, 100f}, tol).pass());
        assertFalse(compare(new float[]{0.2f, 100f}, new float[]{0f, 100f}, tol).pass());
    }

    @Test
    void exactMeansBitwise() {
        assertFalse(compare(new float[]{Math.nextUp(1f)}, new float[]{1f}, Tolerance.EXACT).pass());
        assertTrue(compare(new float[]{1f}, new float[]{1f}, Tolerance.EXACT).pass());
    }

    @Test
    void repeatsMustAgreeInEveryBit() {
        List<Output> a = List.of(new Output("y", new float[]{1f, 0f}, Tolerance.EXACT));
        List<Output> b = List.of(new Output("y", new float[]{1f, -0f}, Tolerance.EXACT));
        Result r = Compare.repeat("x", CHECK, 1, a, b);
        assertFalse(r.pass());
        assertTrue(r.mismatches().get(0).startsWith("y[1]"), r.report());
        assertTrue(Compare.repeat("x", CHECK, 1, a, a).pass());
    }
}
