// VectorTanhCheck: compares the Vector API tanh with the scalar one bitwise (loaded only when the Vector API is present).
package bptt.backend.cpu;

import jdk.incubator.vector.FloatVector;

import static org.junit.jupiter.api.Assertions.fail;

final class VectorTanhCheck {
    private VectorTanhCheck() { }

    /** VectorKernels.tanh(x[i]) must equal want[i] bit for bit, for i < n. */
    static void sameAsScalar(float[] x, float[] want, int n) {
        int lanes = VectorKernels.LANES;
        float[] got = new float[lanes];
        for (int i = 0; i + lanes <= n; i += lanes) {
            VectorKernels.tanh(FloatVector.fromArray(VectorKernels.SPECIES, x, i)).intoArray(got, 0);
            for (int l = 0; l < lanes; l++) {
                if (Float.floatToRawIntBits(got[l]) != Float.floatToRawIntBits(want[i + l])) {
                    fail("vector tanh(" + x[i + l] + ") = " + got[l] + ", scalar " + want[i + l]);
                }
            }
        }
    }
}
