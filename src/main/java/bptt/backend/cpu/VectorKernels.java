// VectorKernels: the Java Vector API kernels of the cpu backend: a register-blocked GEMM tile over packed weights, tanh, exp.
package bptt.backend.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Only loaded when the JVM runs with {@code --add-modules jdk.incubator.vector} (see
 * {@link VectorSupport}); nothing else in the backend refers to the incubator module.
 *
 * <p>Weights W (K, N) are packed in strips of {@link #STRIP} columns (four vectors): strip s
 * holds W[k][s·STRIP + l] at [k·STRIP + l], zero beyond column N, so one k of a strip is four
 * aligned vector loads. A tile is {@code rows} rows of one strip, row-major with stride STRIP.
 * The micro-kernel keeps 4 rows × 4 vectors of the tile in registers and streams k: per k, four
 * loads of W and four broadcasts of A feed sixteen FMAs.
 *
 * <p>Every tile element is computed as c = fma(w_k, a_k, c) for k = k0, k0+1, … in order,
 * whatever the row blocking, k blocking or thread: the result is bitwise the same for any
 * split.
 */
final class VectorKernels {
    private VectorKernels() { }

    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    static final int LANES = SPECIES.length();
    /** Columns per packed strip: the micro-kernel's width, four vectors. */
    static final int STRIP = 4 * LANES;

    /**
     * tile (rows, STRIP) += a (rows, [k0, k1)) · strip ([k0, k1), STRIP); a is row-major with
     * stride lda, its row 0 at a[a0]; the tile's row 0 is at tile[t0].
     */
    static void multiplyAdd(float[] a, int a0, int lda, int rows, float[] strip, int k0, int k1, float[] tile, int t0) {
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            rows4(a, a0 + r * lda, lda, strip, k0, k1, tile, t0 + r * STRIP);
        }
        for (; r < rows; r++) {
            row1(a, a0 + r * lda, strip, k0, k1, tile, t0 + r * STRIP);
        }
    }

    /** Four tile rows from t: 16 accumulators, four W loads and four broadcasts per k. */
    private static void rows4(float[] a, int a0, int lda, float[] w, int k0, int k1, float[] c, int t) {
        final int l1 = LANES, l2 = 2 * LANES, l3 = 3 * LANES, s = STRIP;
        FloatVector c00 = load(c, t), c01 = load(c, t + l1), c02 = load(c, t + l2), c03 = load(c, t + l3);
        FloatVector c10 = load(c, t + s), c11 = load(c, t + s + l1), c12 = load(c, t + s + l2), c13 = load(c, t + s + l3);
        FloatVector c20 = load(c, t + 2 * s), c21 = load(c, t + 2 * s + l1), c22 = load(c, t + 2 * s + l2),
                c23 = load(c, t + 2 * s + l3);
        FloatVector c30 = load(c, t + 3 * s), c31 = load(c, t + 3 * s + l1), c32 = load(c, t + 3 * s + l2),
                c33 = load(c, t + 3 * s + l3);
        int a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        for (int k = k0; k < k1; k++) {
            int o = k * s;
            FloatVector w0 = load(w, o), w1 = load(w, o + l1), w2 = load(w, o + l2), w3 = load(w, o + l3);
            FloatVector b = FloatVector.broadcast(SPECIES, a[a0 + k]);
            c00 = w0.fma(b, c00);
            c01 = w1.fma(b, c01);
            c02 = w2.fma(b, c02);
            c03 = w3.fma(b, c03);
            b = FloatVector.broadcast(SPECIES, a[a1 + k]);
            c10 = w0.fma(b, c10);
            c11 = w1.fma(b, c11);
            c12 = w2.fma(b, c12);
            c13 = w3.fma(b, c13);
            b = FloatVector.broadcast(SPECIES, a[a2 + k]);
            c20 = w0.fma(b, c20);
            c21 = w1.fma(b, c21);
            c22 = w2.fma(b, c22);
            c23 = w3.fma(b, c23);
            b = FloatVector.broadcast(SPECIES, a[a3 + k]);
            c30 = w0.fma(b, c30);
            c31 = w1.fma(b, c31);
            c32 = w2.fma(b, c32);
            c33 = w3.fma(b, c33);
        }
        c00.intoArray(c, t);
        c01.intoArray(c, t + l1);
        c02.intoArray(c, t + l2);
        c03.intoArray(c, t + l3);
        c10.intoArray(c, t + s);
        c11.intoArray(c, t + s + l1);
        c12.intoArray(c, t + s + l2);
        c13.intoArray(c, t + s + l3);
        c20.intoArray(c, t + 2 * s);
        c21.intoArray(c, t + 2 * s + l1);
        c22.intoArray(c, t + 2 * s + l2);
        c23.intoArray(c, t + 2 * s + l3);
        c30.intoArray(c, t + 3 * s);
        c31.intoArray(c, t + 3 * s + l1);
        c32.intoArray(c, t + 3 * s + l2);
        c33.intoArray(c, t + 3 * s + l3);
    }

    /** One tile row from t (the rows left over by {@link #rows4}, and batch 1). */
    private static void row1(float[] a, int a0, float[] w, int k0, int k1, float[] c, int t) {
        final int l1 = LANES, l2 = 2 * LANES, l3 = 3 * LANES;
        FloatVector c0 = load(c, t), c1 = load(c, t + l1), c2 = load(c, t + l2), c3 = load(c, t + l3);
        for (int k = k0; k < k1; k++) {
            int o = k * STRIP;
            FloatVector b = FloatVector.broadcast(SPECIES, a[a0 + k]);
            c0 = load(w, o).fma(b, c0);
            c1 = load(w, o + l1).fma(b, c1);
            c2 = load(w, o + l2).fma(b, c2);
            c3 = load(w, o + l3).fma(b, c3);
        }
        c0.intoArray(c, t);
        c1.intoArray(c, t + l1);
        c2.intoArray(c, t + l2);
        c3.intoArray(c, t + l3);
    }

    /** A vector from x[at, at + LANES): small enough (9 bytecodes) that C2 always inlines it. */
    private static FloatVector load(float[] x, int at) { return FloatVector.fromArray(SPECIES, x, at); }

    /**
     * tile (rows, STRIP) = tanh(tile + bias), bias (1, STRIP) broadcast over rows: {@link
     * FastTanh#tanh} lane by lane, the same operations in the same order, so bitwise the
     * results of {@link Loops#biasTanh}. Written out here rather than in a helper taking a
     * vector: a helper C2 declines to inline (it may, for a method compiled while its profile
     * is young) passes its vectors as heap objects, hundreds of times slower.
     */
    static void biasTanh(float[] tile, int rows, float[] bias) {
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < STRIP; j += LANES) {
                int at = r * STRIP + j;
                FloatVector x = load(tile, at).add(load(bias, j)).min(FastTanh.CLAMP).max(-FastTanh.CLAMP);
                FloatVector x2 = x.mul(x);
                FloatVector p = x2.mul(FastTanh.A13).add(FastTanh.A11);
                p = x2.mul(p).add(FastTanh.A9);
                p = x2.mul(p).add(FastTanh.A7);
                p = x2.mul(p).add(FastTanh.A5);
                p = x2.mul(p).add(FastTanh.A3);
                p = x2.mul(p).add(FastTanh.A1);
                FloatVector q = x2.mul(FastTanh.B6).add(FastTanh.B4);
                q = x2.mul(q).add(FastTanh.B2);
                q = x2.mul(q).add(FastTanh.B0);
                x.mul(p.div(q)).intoArray(tile, at);
            }
        }
    }

    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;

    /**
     * x[i] = exp(x[i] − shift) for i < n: the JDK's vector exp (Intel's SVML on x86), within an
     * ulp of Math.exp and about 8 times faster than it (5 ns per element here); the tail with
     * Math.exp.
     */
    static void expShifted(double[] x, double shift, int n) {
        int i = 0;
        for (; i + DOUBLES.length() <= n; i += DOUBLES.length()) {
            DoubleVector.fromArray(DOUBLES, x, i).sub(shift).lanewise(VectorOperators.EXP).intoArray(x, i);
        }
        for (; i < n; i++) {
            x[i] = Math.exp(x[i] - shift);
        }
    }
}
