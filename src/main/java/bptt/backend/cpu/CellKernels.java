// CellKernels: the cpu backend's fused pointwise ops of the recurrent cells (tanh backward, LSTM, GRU).
package bptt.backend.cpu;

import bptt.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * One time step's pointwise work of a cell at B·H sizes, on the calling thread. Each row is
 * moved gate block by gate block into arrays indexed from 0, and a row's math runs in a small
 * method of short loops, one transcendental each: C2 vectorises only loops small enough to unroll
 * and compiles a method called per row fully (a loop computing all four LSTM gates in the
 * kernel's own row loop ran 9× slower). tanh is {@link FastTanh} and σ(x) = ½·tanh(x/2) + ½,
 * both branch-free. The
 * formulas and their order of operations are those of kernels/cells.cl.cu. Nothing is allocated
 * per call once the arrays have grown to the largest H seen. The backward ops also run on a range
 * of rows, so that {@link CellSteps} can split them over the team (one instance per thread).
 */
final class CellKernels {
    /** Elements per chunk of the flat tanh backward. */
    private static final int CHUNK = 2048;

    private float[][] rows = new float[0][];
    private int width;

    /** {@code count} arrays of at least {@code n} floats. */
    private float[][] arrays(int count, int n) {
        if (rows.length < count || width < n) {
            rows = new float[Math.max(count, rows.length)][Math.max(n, width)];
            width = Math.max(n, width);
        }
        return rows;
    }

    private static FloatBuffer buf(Tensor t) { return ((CpuMemory) t.memory()).buffer; }

    private static int off(Tensor t) { return (int) t.offset(); }

    private static float sigmoid(float x) { return 0.5f * FastTanh.tanh(0.5f * x) + 0.5f; }

    /** g = σ((g + a) + b), elementwise: a gate from its pre-activation and two biases. */
    private static void sigmoidOfSum(float[] g, float[] a, float[] b, int n) {
        for (int j = 0; j < n; j++) {
            g[j] = g[j] + a[j] + b[j];
        }
        sigmoid(g, n);
    }

    /** g = σ(((g + a) + b) + c), elementwise: a GRU gate from both sides and both biases. */
    private static void sigmoidOfSum(float[] g, float[] a, float[] b, float[] c, int n) {
        for (int j = 0; j < n; j++) {
            g[j] = g[j] + a[j] + b[j] + c[j];
        }
        sigmoid(g, n);
    }

    /** g = tanh((g + a) + b), elementwise. */
    private static void tanhOfSum(float[] g, float[] a, float[] b, int n) {
        for (int j = 0; j < n; j++) {
            g[j] = g[j] + a[j] + b[j];
        }
        for (int j = 0; j < n; j++) {
            g[j] = FastTanh.tanh(g[j]);
        }
    }

    /**
     * g = σ(g) in place. Sums and activations run as separate loops: a loop that also adds three
     * arrays is too large for C2 to unroll, so it stays scalar (8 ns instead of 1 ns an element).
     */
    private static void sigmoid(float[] g, int n) {
        for (int j = 0; j < n; j++) {
            g[j] = sigmoid(g[j]);
        }
    }

    /** Reads gate block k (H wide) of row r of a (rows, G·H) tensor into dst. */
    private static void getGate(Tensor t, int r, int k, int hidden, float[] dst) {
        buf(t).get(off(t) + r * t.cols() + k * hidden, dst, 0, hidden);
    }

    private static void putGate(Tensor t, int r, int k, int hidden, float[] src) {
        buf(t).put(off(t) + r * t.cols() + k * hidden, src, 0, hidden);
    }

    private static void getRow(Tensor t, int r, float[] dst) { buf(t).get(off(t) + r * t.cols(), dst, 0, t.cols()); }

    private static void putRow(Tensor t, int r, float[] src) { buf(t).put(off(t) + r * t.cols(), src, 0, t.cols()); }

    /** da = (1 − a)(1 + a)·(da + dnext), elementwise. */
    void tanhCellBackward(Tensor a, Tensor dnext, Tensor da) {
        float[][] s = arrays(3, CHUNK);
        float[] av = s[0], nv = s[1], dv = s[2];
        int total = (int) a.size();
        for (int i = 0; i < total; i += CHUNK) {
            int n = Math.min(CHUNK, total - i);
            buf(a).get(off(a) + i, av, 0, n);
            buf(dnext).get(off(dnext) + i, nv, 0, n);
            buf(da).get(off(da) + i, dv, 0, n);
            for (int j = 0; j < n; j++) {
                dv[j] = ((1f - av[j]) * (1f + av[j])) * (dv[j] + nv[j]);
            }
            buf(da).put(off(da) + i, dv, 0, n);
        }
    }

    /** LSTM forward pointwise: see Backend.lstmCellForward. */
    void lstmForward(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h) {
        int hidden = h.cols();
        float[][] s = arrays(15, hidden);  // 0-3 gates, 4 cPrev, 5 c, 6 h, 7-10 biasIh, 11-14 biasHh
        for (int k = 0; k < 4; k++) {
            getGate(biasIh, 0, k, hidden, s[7 + k]);
            getGate(biasHh, 0, k, hidden, s[11 + k]);
        }
        for (int r = 0; r < h.rows(); r++) {
            for (int k = 0; k < 4; k++) {
                getGate(gates, r, k, hidden, s[k]);
            }
            getRow(cPrev, r, s[4]);
            lstmForwardRow(s, hidden);
            for (int k = 0; k < 4; k++) {
                putGate(gates, r, k, hidden, s[k]);
            }
            putRow(c, r, s[5]);
            putRow(h, r, s[6]);
        }
    }

    /** One row of {@link #lstmForward} (or n elements of any layout) on the arrays laid out there. */
    static void lstmForwardRow(float[][] s, int n) {
        float[] gi = s[0], gf = s[1], gg = s[2], go = s[3], cp = s[4], ct = s[5], ht = s[6];
        sigmoidOfSum(gi, s[7], s[11], n);
        sigmoidOfSum(gf, s[8], s[12], n);
        tanhOfSum(gg, s[9], s[13], n);
        sigmoidOfSum(go, s[10], s[14], n);
        for (int j = 0; j < n; j++) {
            ct[j] = gf[j] * cp[j] + gi[j] * gg[j];
        }
        for (int j = 0; j < n; j++) {
            ht[j] = go[j] * FastTanh.tanh(ct[j]);
        }
    }

    /** LSTM backward pointwise: see Backend.lstmCellBackward. */
    void lstmBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc) {
        lstmBackward(gates, cPrev, c, dh, dnext, dc, 0, c.rows());
    }

    /** {@link #lstmBackward} on rows [r0, r1) only. */
    void lstmBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc, int r0, int r1) {
        int hidden = c.cols();
        float[][] s = arrays(9, hidden);   // 0-3 gates, 4 cPrev, 5 c, 6 dh, 7 dnext, 8 dc
        for (int r = r0; r < r1; r++) {
            for (int k = 0; k < 4; k++) {
                getGate(gates, r, k, hidden, s[k]);
            }
            getRow(cPrev, r, s[4]);
            getRow(c, r, s[5]);
            getRow(dh, r, s[6]);
            getRow(dnext, r, s[7]);
            getRow(dc, r, s[8]);
            lstmBackwardRow(s, hidden);
            for (int k = 0; k < 4; k++) {
                putGate(gates, r, k, hidden, s[k]);
            }
            putRow(dc, r, s[8]);
        }
    }

    /** One row of {@link #lstmBackward} on the arrays laid out there. */
    private static void lstmBackwardRow(float[][] s, int n) {
        float[] gi = s[0], gf = s[1], gg = s[2], go = s[3], cp = s[4], tc = s[5], dhv = s[6], dnv = s[7], dcv = s[8];
        for (int j = 0; j < n; j++) {
            tc[j] = FastTanh.tanh(tc[j]);
        }
        for (int j = 0; j < n; j++) {
            float i = gi[j], f = gf[j], g = gg[j], o = go[j], t = tc[j];
            float dht = dhv[j] + dnv[j];
            float dct = dcv[j] + dht * o * ((1f - t) * (1f + t));
            gi[j] = dct * g * i * (1f - i);
            gf[j] = dct * cp[j] * f * (1f - f);
            gg[j] = dct * i * ((1f - g) * (1f + g));
            go[j] = dht * t * o * (1f - o);
            dcv[j] = dct * f;
        }
    }

    /** GRU forward pointwise: see Backend.gruCellForward. */
    void gruForward(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn, Tensor h) {
        int hidden = h.cols();
        float[][] s = arrays(14, hidden);  // 0-2 gates, 3-5 hh (hn in 5), 6 hPrev, 7 h, 8-10 biasIh, 11-13 biasHh
        for (int k = 0; k < 3; k++) {
            getGate(biasIh, 0, k, hidden, s[8 + k]);
            getGate(biasHh, 0, k, hidden, s[11 + k]);
        }
        for (int r = 0; r < h.rows(); r++) {
            for (int k = 0; k < 3; k++) {
                getGate(gates, r, k, hidden, s[k]);
                getGate(hh, r, k, hidden, s[3 + k]);
            }
            getRow(hPrev, r, s[6]);
            gruForwardRow(s, hidden);
            for (int k = 0; k < 3; k++) {
                putGate(gates, r, k, hidden, s[k]);
            }
            putRow(hn, r, s[5]);
            putRow(h, r, s[7]);
        }
    }

    /** One row of {@link #gruForward} (or n elements of any layout) on the arrays laid out there. */
    static void gruForwardRow(float[][] s, int n) {
        float[] gr = s[0], gz = s[1], gn = s[2], hnv = s[5], hp = s[6], ht = s[7], bi2 = s[10], bh2 = s[13];
        sigmoidOfSum(gr, s[8], s[3], s[11], n);
        sigmoidOfSum(gz, s[9], s[4], s[12], n);
        for (int j = 0; j < n; j++) {
            hnv[j] = hnv[j] + bh2[j];
        }
        for (int j = 0; j < n; j++) {
            gn[j] = FastTanh.tanh(gn[j] + bi2[j] + gr[j] * hnv[j]);
        }
        for (int j = 0; j < n; j++) {
            ht[j] = (1f - gz[j]) * gn[j] + gz[j] * hp[j];
        }
    }

    /** GRU backward pointwise: see Backend.gruCellBackward. */
    void gruBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext, Tensor dgatesHh) {
        gruBackward(gates, hn, hPrev, dh, dnext, dgatesHh, 0, hn.rows());
    }

    /** {@link #gruBackward} on rows [r0, r1) only. */
    void gruBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext, Tensor dgatesHh, int r0, int r1) {
        int hidden = hn.cols();
        float[][] s = arrays(8, hidden);   // 0-2 gates, 3 hn, 4 hPrev, 5 dh, 6 dnext, 7 r⊙dn
        for (int r = r0; r < r1; r++) {
            for (int k = 0; k < 3; k++) {
                getGate(gates, r, k, hidden, s[k]);
            }
            getRow(hn, r, s[3]);
            getRow(hPrev, r, s[4]);
            getRow(dh, r, s[5]);
            getRow(dnext, r, s[6]);
            gruBackwardRow(s, hidden);
            for (int k = 0; k < 3; k++) {
                putGate(gates, r, k, hidden, s[k]);
            }
            putGate(dgatesHh, r, 0, hidden, s[0]);
            putGate(dgatesHh, r, 1, hidden, s[1]);
            putGate(dgatesHh, r, 2, hidden, s[7]);
            putRow(dnext, r, s[6]);
        }
    }

    /** One row of {@link #gruBackward} on the arrays laid out there. */
    private static void gruBackwardRow(float[][] s, int n) {
        float[] gr = s[0], gz = s[1], gn = s[2], hnv = s[3], hp = s[4], dhv = s[5], dnv = s[6], dnh = s[7];
        for (int j = 0; j < n; j++) {
            float rv = gr[j], z = gz[j], nv = gn[j];
            float dht = dhv[j] + dnv[j];
            float dn = dht * (1f - z) * ((1f - nv) * (1f + nv));
            gr[j] = dn * hnv[j] * rv * (1f - rv);
            gz[j] = dht * (hp[j] - nv) * z * (1f - z);
            gn[j] = dn;
            dnh[j] = dn * rv;
            dnv[j] = dht * z;
        }
    }
}
