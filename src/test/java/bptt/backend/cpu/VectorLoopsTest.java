// VectorLoopsTest: the Vector API loops give bitwise the results of the plain loops they replace; the vector exp is within 2 ulps.
package bptt.backend.cpu;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Random data over several magnitudes, lengths with and without a scalar tail. */
class VectorLoopsTest {
    @BeforeAll
    static void needsTheVectorApi() {
        String reason = CpuBackend.vectorKernelsUnavailableReason();
        assumeTrue(reason == null, "Vector API kernels unavailable: " + reason);
    }

    private static float[] randoms(Random random, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextGaussian() * scale * Math.pow(10, random.nextInt(7) - 3));
        }
        return v;
    }

    private static float[] positive(Random random, int n) {
        float[] v = randoms(random, n, 1);
        for (int i = 0; i < n; i++) {
            v[i] = Math.abs(v[i]);
        }
        return v;
    }

    /** The softmax's vector exp stays within 2 ulps of Math.exp over the range a softmax feeds it. */
    @Test
    void vectorExpIsWithinTwoUlpsOfMathExp() {
        Random random = new Random(5);
        int n = 100_003;
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = -750 * random.nextDouble() * random.nextDouble();
        }
        double[] got = x.clone();
        VectorKernels.expShifted(got, -1.5, n);
        for (int i = 0; i < n; i++) {
            double want = Math.exp(x[i] + 1.5);
            assertTrue(Math.abs(got[i] - want) <= 2 * Math.ulp(want), "exp(" + (x[i] + 1.5) + ") = " + got[i] + ", Math.exp " + want);
        }
    }

    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {1, 7, 8, 64, 1000, 2048})
    void sameBitsAsThePlainLoops(int n) {
        Random random = new Random(n);
        float[] p = randoms(random, n, 1);
        float[] g = randoms(random, n, 1);
        float[] m = randoms(random, n, 0.1);
        float[] v = positive(random, n);

        float[] p1 = p.clone();
        float[] p2 = p.clone();
        Loops.sgd(p1, g, 0.0375, 0, n);
        VectorLoops.sgd(p2, g, 0.0375, n);
        assertArrayEquals(p1, p2, "sgd");

        double bias1 = Loops.adamBias(0.9f, 7);
        double bias2 = Loops.adamBias(0.999f, 7);
        float[] m1 = m.clone();
        float[] m2 = m.clone();
        float[] v1 = v.clone();
        float[] v2 = v.clone();
        Loops.adam(p1, g, m1, v1, 0, n, 0.003f, 0.9f, 0.999f, 1e-8f, 0.25, bias1, bias2);
        VectorLoops.adam(p2, g, m2, v2, n, 0.003f, 0.9f, 0.999f, 1e-8f, 0.25, bias1, bias2);
        assertArrayEquals(m1, m2, "adam m");
        assertArrayEquals(v1, v2, "adam v");
        assertArrayEquals(p1, p2, "adam param");

        float[] c1 = v.clone();
        float[] c2 = v.clone();
        Loops.adagrad(p1, g, c1, 0, n, 0.1f, 1e-8f, 0.5f);
        VectorLoops.adagrad(p2, g, c2, n, 0.1f, 1e-8f, 0.5f);
        assertArrayEquals(c1, c2, "adagrad cache");
        assertArrayEquals(p1, p2, "adagrad param");

        double[] a1 = new double[n];
        double[] a2 = new double[n];
        for (int r = 0; r < 5; r++) {
            float[] x = randoms(random, n, 1);
            Loops.accumulate(a1, x, 0, n);
            VectorLoops.accumulate(a2, x, n);
        }
        assertArrayEquals(a1, a2, "accumulate");

        int cols = Math.max(1, n / 8);
        double[] e1 = new double[2 * cols];
        for (int j = 0; j < cols; j++) {
            e1[cols + j] = random.nextGaussian();
        }
        double[] e2 = e1.clone();
        float[] row1 = randoms(random, cols, 3);
        float[] row2 = row1.clone();
        int target = random.nextInt(cols);
        double loss1 = Loops.softmaxRow(row1, e1, cols, target, 0.01f);
        double loss2 = VectorLoops.softmaxRow(row2, e2, cols, target, 0.01f);
        assertEquals(loss1, loss2, 1e-12 * Math.max(1, Math.abs(loss1)), "softmax loss");
        for (int j = 0; j < cols; j++) {
            assertEquals(row1[j], row2[j], Math.ulp(row1[j]), "softmax gradient " + j + " (the exps may differ by 2 ulps)");
        }
    }
}
