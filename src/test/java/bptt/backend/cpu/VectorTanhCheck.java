// VectorTanhCheck: compares the fused step's vector tanh with the scalar one bitwise (loaded only when the Vector API is present).
package bptt.backend.cpu;

import static org.junit.jupiter.api.Assertions.fail;

final class VectorTanhCheck {
    private VectorTanhCheck() { }

    /** VectorKernels.biasTanh with a zero bias must give want[i] = FastTanh.tanh(x[i]) bit for bit, for i < n. */
    static void sameAsScalar(float[] x, float[] want, int n) {
        int strip = VectorKernels.STRIP;
        int rows = (n + strip - 1) / strip;
        float[] tile = new float[rows * strip];
        System.arraycopy(x, 0, tile, 0, n);
        VectorKernels.biasTanh(tile, rows, new float[strip]);
        for (int i = 0; i < n; i++) {
            if (Float.floatToRawIntBits(tile[i]) != Float.floatToRawIntBits(want[i])) {
                fail("vector tanh(" + x[i] + ") = " + tile[i] + ", scalar " + want[i]);
            }
        }
    }
}
