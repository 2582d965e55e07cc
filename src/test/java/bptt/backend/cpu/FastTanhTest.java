// FastTanhTest: the tanh approximation against Math.tanh over the whole float range, subnormals and edge cases included.
package bptt.backend.cpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The bound is {@link FastTanh#MAX_RELATIVE_ERROR} (4e-7, as the README states): |fast − tanh|
 * ≤ bound·|tanh| with tanh in double. Checked on every subnormal, every float of [5.5, 6.5]
 * (where the fit is worst: 3.97e-7 at 5.857, found by an exhaustive run over all 2^31 positive
 * floats), every 61st float of the rest of the positive range, and the edge cases; tanh is odd,
 * so every negative counterpart must be the exact negation. The Vector API tanh of the fused
 * step must give bitwise the same values.
 */
class FastTanhTest {
    private static final int BATCH = 1 << 16;

    /** Checks the floats with the given bit patterns and their negatives; returns the largest relative error. */
    private static double check(long fromBits, long toBits, long stride) {
        float[] x = new float[BATCH];
        float[] got = new float[BATCH];
        double worst = 0;
        long bits = fromBits;
        while (bits < toBits) {
            int n = 0;
            for (; n < BATCH && bits < toBits; n++, bits += stride) {
                x[n] = Float.intBitsToFloat((int) bits);
            }
            for (int i = 0; i < n; i++) {
                got[i] = FastTanh.tanh(x[i]);
            }
            for (int i = 0; i < n; i++) {
                double want = Math.tanh(x[i]);
                double err = Math.abs(got[i] - want) / Math.abs(want);
                if (!(err <= FastTanh.MAX_RELATIVE_ERROR)) {
                    fail("tanh(" + x[i] + ") = " + got[i] + ", want " + want + ": relative error " + err);
                }
                if (FastTanh.tanh(-x[i]) != -got[i]) {
                    fail("tanh(" + -x[i] + ") = " + FastTanh.tanh(-x[i]) + " is not −tanh(" + x[i] + ")");
                }
                worst = Math.max(worst, err);
            }
            if (CpuBackend.vectorKernelsUnavailableReason() == null) {
                VectorTanhCheck.sameAsScalar(x, got, n);
            }
        }
        return worst;
    }

    @Test
    void everySubnormalIsWithinTheBound() {
        check(1, Float.floatToRawIntBits(Float.MIN_NORMAL), 1);
    }

    @Test
    void everyFloatWhereTheFitIsWorstIsWithinTheBound() {
        double worst = check(Float.floatToRawIntBits(5.5f), Float.floatToRawIntBits(6.5f) + 1L, 1);
        assertTrue(worst > 3.9e-7, "the worst case 3.97e-7 at 5.857 lies in this range; got " + worst);
    }

    @Test
    void aDenseSweepOfAllNormalFloatsIsWithinTheBound() {
        check(Float.floatToRawIntBits(Float.MIN_NORMAL), Float.floatToRawIntBits(Float.MAX_VALUE) + 1L, 61);
    }

    @Test
    void edgeCases() {
        assertEquals(0f, FastTanh.tanh(0f));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(FastTanh.tanh(-0f)), "tanh(−0) = −0");
        assertEquals(Float.MIN_VALUE, FastTanh.tanh(Float.MIN_VALUE), "the smallest subnormal is its own tanh");
        assertTrue(Float.isNaN(FastTanh.tanh(Float.NaN)));
        for (float big : new float[]{7.9f, 7.90531110763549805f, 8f, 9.01f, 100f, Float.MAX_VALUE, Float.POSITIVE_INFINITY}) {
            float t = FastTanh.tanh(big);
            assertTrue(Math.abs(t - 1.0) <= FastTanh.MAX_RELATIVE_ERROR && t <= 1f, "tanh(" + big + ") = " + t);
            assertEquals(-t, FastTanh.tanh(-big), "tanh(−" + big + ")");
        }
        check(Float.floatToRawIntBits(Float.MIN_NORMAL) - 4L, Float.floatToRawIntBits(Float.MIN_NORMAL) + 4L, 1);
        check(Float.floatToRawIntBits(Float.MAX_VALUE) - 4L, Float.floatToRawIntBits(Float.MAX_VALUE) + 1L, 1);
    }
}
