// VectorLoops: Vector API versions of the Loops that do double arithmetic on float arrays, bitwise equal to them.
package bptt.backend.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * C2 leaves {@link Loops}' double arithmetic on float arrays scalar (about 4 ns per element for
 * SGD, 30 times the vector loop here). These run the same IEEE operations in the same order on a
 * vector of doubles at a time (floats widened exactly, no fused multiply-add), so they give
 * bitwise the same results; the tail goes to {@link Loops}. The one exception is softmax's exp,
 * the JDK's vector exp within 2 ulps of Math.exp. Loaded only with the Vector API module, like
 * {@link VectorKernels}.
 */
final class VectorLoops {
    private VectorLoops() { }

    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /**
     * The float species of {@link VectorKernels}, twice as many lanes as D. One float shape in the
     * process: a second one (a 256-bit FloatVector beside the 512-bit one) pollutes the type
     * profiles of the shared FloatVector code, and C2 then boxes every vector of the step
     * kernel (measured: B=1 steps 25 times slower).
     */
    private static final VectorSpecies<Float> F = VectorKernels.SPECIES;
    private static final int L = D.length();
    /** The upper half of F's lanes. */
    private static final VectorMask<Float> UPPER = F.indexInRange(-L, L);

    // The helpers below take or return vectors, so each must stay within C2's always-inline size
    // (35 bytecodes): a helper it does not inline passes its vectors as heap objects, hundreds of
    // times slower (this happened to a 41-bytecode version of narrow, in some runs only). Vector
    // conversions go through convertShape: JDK 17 does not compile convert(op, part) to
    // registers.

    private static FloatVector floats(float[] x, int i) { return FloatVector.fromArray(F, x, i); }

    /** Lanes [L·part, L·part + L) of x widened. */
    private static DoubleVector wide(FloatVector x, int part) {
        return (DoubleVector) x.convertShape(VectorOperators.F2D, D, part);
    }

    /** x rounded to float, in lanes [0, L) of a float vector. */
    private static FloatVector low(DoubleVector x) { return (FloatVector) x.convertShape(VectorOperators.D2F, F, 0); }

    /** x rounded to float, in lanes [L, 2L) of a float vector. */
    private static FloatVector high(DoubleVector x) { return (FloatVector) x.convertShape(VectorOperators.D2F, F, -1); }

    /** x[i, i + 2L) = (float) lo, (float) hi. */
    private static void narrow(DoubleVector lo, DoubleVector hi, float[] x, int i) {
        low(lo).blend(high(hi), UPPER).intoArray(x, i);
    }

    /** {@link Loops#sgd} on [0, n). */
    static void sgd(float[] p, float[] g, double step, int n) {
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            FloatVector pv = floats(p, i);
            FloatVector gv = floats(g, i);
            narrow(wide(pv, 0).sub(wide(gv, 0).mul(step)), wide(pv, 1).sub(wide(gv, 1).mul(step)), p, i);
        }
        Loops.sgd(p, g, step, i, n);
    }

    /**
     * {@link Loops#adam} on [0, n): beta·m and beta·v are float products there, as here, and the
     * update reads m and v back as the floats just stored.
     */
    static void adam(float[] p, float[] g, float[] m, float[] v, int n, float lr, float beta1, float beta2,
                     float eps, double gradScale, double bias1, double bias2) {
        double keep1 = 1 - (double) beta1;
        double keep2 = 1 - (double) beta2;
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            FloatVector gv = floats(g, i);
            DoubleVector g0 = wide(gv, 0).mul(gradScale);
            DoubleVector g1 = wide(gv, 1).mul(gradScale);
            FloatVector m1 = floats(m, i).mul(beta1);
            narrow(wide(m1, 0).add(g0.mul(keep1)), wide(m1, 1).add(g1.mul(keep1)), m, i);
            FloatVector v1 = floats(v, i).mul(beta2);
            narrow(wide(v1, 0).add(g0.mul(keep2).mul(g0)), wide(v1, 1).add(g1.mul(keep2).mul(g1)), v, i);
            FloatVector mv = floats(m, i);
            FloatVector vv = floats(v, i);
            FloatVector pv = floats(p, i);
            DoubleVector step0 = wide(mv, 0).div(bias1).mul(lr).div(wide(vv, 0).div(bias2).sqrt().add(eps));
            DoubleVector step1 = wide(mv, 1).div(bias1).mul(lr).div(wide(vv, 1).div(bias2).sqrt().add(eps));
            narrow(wide(pv, 0).sub(step0), wide(pv, 1).sub(step1), p, i);
        }
        Loops.adam(p, g, m, v, i, n, lr, beta1, beta2, eps, gradScale, bias1, bias2);
    }

    /** {@link Loops#adagrad} on [0, n): cache + eps is a float sum there, as here. */
    static void adagrad(float[] p, float[] g, float[] cache, int n, float lr, float eps, float gradScale) {
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            FloatVector gv = floats(g, i);
            DoubleVector g0 = wide(gv, 0).mul(gradScale);
            DoubleVector g1 = wide(gv, 1).mul(gradScale);
            FloatVector cv = floats(cache, i);
            narrow(wide(cv, 0).add(g0.mul(g0)), wide(cv, 1).add(g1.mul(g1)), cache, i);
            FloatVector shifted = floats(cache, i).add(eps);
            FloatVector pv = floats(p, i);
            narrow(wide(pv, 0).sub(g0.mul(lr).div(wide(shifted, 0).sqrt())),
                    wide(pv, 1).sub(g1.mul(lr).div(wide(shifted, 1).sqrt())), p, i);
        }
        Loops.adagrad(p, g, cache, i, n, lr, eps, gradScale);
    }

    /** {@link Loops#accumulate} on [0, n). */
    static void accumulate(double[] acc, float[] x, int n) {
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            FloatVector xv = floats(x, i);
            DoubleVector.fromArray(D, acc, i).add(wide(xv, 0)).intoArray(acc, i);
            DoubleVector.fromArray(D, acc, i + L).add(wide(xv, 1)).intoArray(acc, i + L);
        }
        Loops.accumulate(acc, x, i, n);
    }

    /** {@link Loops#softmaxRow} with the vector exp of {@link VectorKernels#expShifted}. */
    static double softmaxRow(float[] row, double[] e, int cols, int target, float gradScale) {
        double zTarget = row[target] + e[cols + target];
        DoubleVector top = DoubleVector.broadcast(D, Double.NEGATIVE_INFINITY);
        int j = 0;
        for (; j + 2 * L <= cols; j += 2 * L) {
            FloatVector z = floats(row, j);
            DoubleVector lo = wide(z, 0).add(DoubleVector.fromArray(D, e, cols + j));
            DoubleVector hi = wide(z, 1).add(DoubleVector.fromArray(D, e, cols + j + L));
            lo.intoArray(e, j);
            hi.intoArray(e, j + L);
            top = top.max(lo).max(hi);
        }
        double max = top.reduceLanes(VectorOperators.MAX);
        for (int i = j; i < cols; i++) {
            double v = row[i] + e[cols + i];
            e[i] = v;
            max = Math.max(max, v);
        }
        VectorKernels.expShifted(e, max, cols);
        double sum = Loops.sum(e, cols);
        double inv = 1.0 / sum;
        for (int i = 0; i < j; i += 2 * L) {
            narrow(DoubleVector.fromArray(D, e, i).mul(inv).mul(gradScale),
                    DoubleVector.fromArray(D, e, i + L).mul(inv).mul(gradScale), row, i);
        }
        Loops.softmaxGradient(row, e, cols, target, gradScale, inv, j);
        return max + Math.log(sum) - zTarget;
    }
}
