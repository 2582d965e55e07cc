// CellKernels: the cpu backend's fused pointwise ops of the recurrent cells (tanh backward, LSTM, GRU).
package bptt.backend.cpu;

import bptt.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * One time step's pointwise work of a cell at B·H sizes, on the calling thread. Each row is
 * moved gate block by gate block into arrays indexed from 0 and the loops run on those, so C2
 * vectorises them; tanh is {@link FastTanh} and σ(x) = ½·tanh(x/2) + ½, both branch-free. The
 * formulas and their order of operations are those of kernels/cells.cl.cu. Nothing is allocated
 * per call once the arrays have grown to the largest H seen.
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
        float[][] s = arrays(16, hidden);
        float[] gi = s[0], gf = s[1], gg = s[2], go = s[3], cp = s[4], ct = s[5], ht = s[6];
        float[] bi0 = s[7], bi1 = s[8], bi2 = s[9], bi3 = s[10], bh0 = s[11], bh1 = s[12], bh2 = s[13], bh3 = s[14];
        getGate(biasIh, 0, 0, hidden, bi0);
        getGate(biasIh, 0, 1, hidden, bi1);
        getGate(biasIh, 0, 2, hidden, bi2);
        getGate(biasIh, 0, 3, hidden, bi3);
        getGate(biasHh, 0, 0, hidden, bh0);
        getGate(biasHh, 0, 1, hidden, bh1);
        getGate(biasHh, 0, 2, hidden, bh2);
        getGate(biasHh, 0, 3, hidden, bh3);
        for (int r = 0; r < h.rows(); r++) {
            getGate(gates, r, 0, hidden, gi);
            getGate(gates, r, 1, hidden, gf);
            getGate(gates, r, 2, hidden, gg);
            getGate(gates, r, 3, hidden, go);
            getRow(cPrev, r, cp);
            for (int j = 0; j < hidden; j++) {
                float i = sigmoid(gi[j] + bi0[j] + bh0[j]);
                float f = sigmoid(gf[j] + bi1[j] + bh1[j]);
                float g = FastTanh.tanh(gg[j] + bi2[j] + bh2[j]);
                float o = sigmoid(go[j] + bi3[j] + bh3[j]);
                float cv = f * cp[j] + i * g;
                gi[j] = i;
                gf[j] = f;
                gg[j] = g;
                go[j] = o;
                ct[j] = cv;
                ht[j] = o * FastTanh.tanh(cv);
            }
            putGate(gates, r, 0, hidden, gi);
            putGate(gates, r, 1, hidden, gf);
            putGate(gates, r, 2, hidden, gg);
            putGate(gates, r, 3, hidden, go);
            putRow(c, r, ct);
            putRow(h, r, ht);
        }
    }

    /** LSTM backward pointwise: see Backend.lstmCellBackward. */
    void lstmBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc) {
        int hidden = c.cols();
        float[][] s = arrays(10, hidden);
        float[] gi = s[0], gf = s[1], gg = s[2], go = s[3], cp = s[4], ct = s[5], dhv = s[6], dnv = s[7], dcv = s[8];
        for (int r = 0; r < c.rows(); r++) {
            getGate(gates, r, 0, hidden, gi);
            getGate(gates, r, 1, hidden, gf);
            getGate(gates, r, 2, hidden, gg);
            getGate(gates, r, 3, hidden, go);
            getRow(cPrev, r, cp);
            getRow(c, r, ct);
            getRow(dh, r, dhv);
            getRow(dnext, r, dnv);
            getRow(dc, r, dcv);
            for (int j = 0; j < hidden; j++) {
                float i = gi[j], f = gf[j], g = gg[j], o = go[j];
                float dht = dhv[j] + dnv[j];
                float tc = FastTanh.tanh(ct[j]);
                float dct = dcv[j] + dht * o * ((1f - tc) * (1f + tc));
                gi[j] = dct * g * i * (1f - i);
                gf[j] = dct * cp[j] * f * (1f - f);
                gg[j] = dct * i * ((1f - g) * (1f + g));
                go[j] = dht * tc * o * (1f - o);
                dcv[j] = dct * f;
            }
            putGate(gates, r, 0, hidden, gi);
            putGate(gates, r, 1, hidden, gf);
            putGate(gates, r, 2, hidden, gg);
            putGate(gates, r, 3, hidden, go);
            putRow(dc, r, dcv);
        }
    }

    /** GRU forward pointwise: see Backend.gruCellForward. */
    void gruForward(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn, Tensor h) {
        int hidden = h.cols();
        float[][] s = arrays(15, hidden);
        float[] gr = s[0], gz = s[1], gn = s[2], hr = s[3], hz = s[4], hnv = s[5], hp = s[6], ht = s[7];
        float[] bi0 = s[8], bi1 = s[9], bi2 = s[10], bh0 = s[11], bh1 = s[12], bh2 = s[13];
        getGate(biasIh, 0, 0, hidden, bi0);
        getGate(biasIh, 0, 1, hidden, bi1);
        getGate(biasIh, 0, 2, hidden, bi2);
        getGate(biasHh, 0, 0, hidden, bh0);
        getGate(biasHh, 0, 1, hidden, bh1);
        getGate(biasHh, 0, 2, hidden, bh2);
        for (int r = 0; r < h.rows(); r++) {
            getGate(gates, r, 0, hidden, gr);
            getGate(gates, r, 1, hidden, gz);
            getGate(gates, r, 2, hidden, gn);
            getGate(hh, r, 0, hidden, hr);
            getGate(hh, r, 1, hidden, hz);
            getGate(hh, r, 2, hidden, hnv);
            getRow(hPrev, r, hp);
            for (int j = 0; j < hidden; j++) {
                float rv = sigmoid(gr[j] + bi0[j] + hr[j] + bh0[j]);
                float z = sigmoid(gz[j] + bi1[j] + hz[j] + bh1[j]);
                float hnt = hnv[j] + bh2[j];
                float n = FastTanh.tanh(gn[j] + bi2[j] + rv * hnt);
                gr[j] = rv;
                gz[j] = z;
                gn[j] = n;
                hnv[j] = hnt;
                ht[j] = (1f - z) * n + z * hp[j];
            }
            putGate(gates, r, 0, hidden, gr);
            putGate(gates, r, 1, hidden, gz);
            putGate(gates, r, 2, hidden, gn);
            putRow(hn, r, hnv);
            putRow(h, r, ht);
        }
    }

    /** GRU backward pointwise: see Backend.gruCellBackward. */
    void gruBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext, Tensor dgatesHh) {
        int hidden = hn.cols();
        float[][] s = arrays(9, hidden);
        float[] gr = s[0], gz = s[1], gn = s[2], hnv = s[3], hp = s[4], dhv = s[5], dnv = s[6], dnh = s[7];
        for (int r = 0; r < hn.rows(); r++) {
            getGate(gates, r, 0, hidden, gr);
            getGate(gates, r, 1, hidden, gz);
            getGate(gates, r, 2, hidden, gn);
            getRow(hn, r, hnv);
            getRow(hPrev, r, hp);
            getRow(dh, r, dhv);
            getRow(dnext, r, dnv);
            for (int j = 0; j < hidden; j++) {
                float rv = gr[j], z = gz[j], n = gn[j];
                float dht = dhv[j] + dnv[j];
                float dn = dht * (1f - z) * ((1f - n) * (1f + n));
                float dr = dn * hnv[j] * rv * (1f - rv);
                float dz = dht * (hp[j] - n) * z * (1f - z);
                gr[j] = dr;
                gz[j] = dz;
                gn[j] = dn;
                dnh[j] = dn * rv;
                dnv[j] = dht * z;
            }
            putGate(gates, r, 0, hidden, gr);
            putGate(gates, r, 1, hidden, gz);
            putGate(gates, r, 2, hidden, gn);
            putGate(dgatesHh, r, 0, hidden, gr);
            putGate(dgatesHh, r, 1, hidden, gz);
            putGate(dgatesHh, r, 2, hidden, dnh);
            putRow(dnext, r, dnv);
        }
    }
}
