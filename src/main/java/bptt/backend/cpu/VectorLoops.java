// VectorLoops: Vector API versions of the Loops that do double arithmetic on float arrays, bitwise equal to them.
package bptt.backend.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * C2 leaves {@link Loops}' optimizer updates and double accumulation scalar (about 4 ns per
 * element for SGD, 30 times the vector loop here). These run the same IEEE operations in the
 * same order on a vector of doubles at a time (floats widened exactly, no fused multiply-add),
 * so they give bitwise the same results; the tail goes to {@link Loops}. Loaded only with the
 * Vector API module, like {@link VectorKernels}.
 */
final class VectorLoops {
    private VectorLoops() { }

    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** As many floats as D has doubles. */
    private static final VectorSpecies<Float> F = VectorSpecies.of(float.class, VectorShape.forBitSize(D.length() * Float.SIZE));
    private static final int L = D.length();

    private static FloatVector floats(float[] x, int i) { return FloatVector.fromArray(F, x, i); }

    private static DoubleVector wide(FloatVector x) { return (DoubleVector) x.convertShape(VectorOperators.F2D, D, 0); }

    private static DoubleVector wide(float[] x, int i) { return wide(floats(x, i)); }

    private static void narrow(DoubleVector v, float[] x, int i) {
        ((FloatVector) v.convertShape(VectorOperators.D2F, F, 0)).intoArray(x, i);
    }

    /** {@link Loops#sgd} on [0, n). */
    static void sgd(float[] p, float[] g, double step, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            narrow(wide(p, i).sub(wide(g, i).mul(step)), p, i);
        }
        Loops.sgd(p, g, step, i, n);
    }

    /** {@link Loops#adam} on [0, n): beta·m and beta·v are float products there, as here. */
    static void adam(float[] p, float[] g, float[] m, float[] v, int n, float lr, float beta1, float beta2,
                     float eps, double gradScale, double bias1, double bias2) {
        double keep1 = 1 - (double) beta1;
        double keep2 = 1 - (double) beta2;
        int i = 0;
        for (; i + L <= n; i += L) {
            DoubleVector gi = wide(g, i).mul(gradScale);
            narrow(wide(floats(m, i).mul(beta1)).add(gi.mul(keep1)), m, i);
            narrow(wide(floats(v, i).mul(beta2)).add(gi.mul(keep2).mul(gi)), v, i);
            DoubleVector denom = wide(v, i).div(bias2).sqrt().add(eps);
            narrow(wide(p, i).sub(wide(m, i).div(bias1).mul(lr).div(denom)), p, i);
        }
        Loops.adam(p, g, m, v, i, n, lr, beta1, beta2, eps, gradScale, bias1, bias2);
    }

    /** {@link Loops#adagrad} on [0, n): cache + eps is a float sum there, as here. */
    static void adagrad(float[] p, float[] g, float[] cache, int n, float lr, float eps, float gradScale) {
        int i = 0;
        for (; i + L <= n; i += L) {
            DoubleVector gi = wide(g, i).mul(gradScale);
            narrow(wide(cache, i).add(gi.mul(gi)), cache, i);
            narrow(wide(p, i).sub(gi.mul(lr).div(wide(floats(cache, i).add(eps)).sqrt())), p, i);
        }
        Loops.adagrad(p, g, cache, i, n, lr, eps, gradScale);
    }

    /** {@link Loops#accumulate} on [0, n). */
    static void accumulate(double[] acc, float[] x, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            DoubleVector.fromArray(D, acc, i).add(wide(x, i)).intoArray(acc, i);
        }
        Loops.accumulate(acc, x, i, n);
    }
}
