// CpuRefBackend: the readable oracle. Plain loops, double accumulation, no tricks.
package bptt.backend.ref;

import bptt.backend.AbstractBackend;
import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;

/**
 * The reference backend every other backend is compared with. Storage is double[]; in the
 * default float32 mode every stored result is rounded to float, so it computes what a float32
 * device should, with double accumulation inside each op. In float64 mode (gradcheck) nothing
 * is rounded, which is what central finite differences need.
 */
public final class CpuRefBackend extends AbstractBackend {
    private static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    private final boolean float64;
    private final long maxTensorFloats;

    private CpuRefBackend(boolean float64, long maxTensorFloats) {
        this.float64 = float64;
        this.maxTensorFloats = maxTensorFloats;
    }

    /** Rounds every stored value to float32, like a device would. */
    public static CpuRefBackend float32() { return new CpuRefBackend(false, MAX_ARRAY); }

    /** Keeps every value in double precision: the finite-difference oracle. */
    public static CpuRefBackend float64() { return new CpuRefBackend(true, MAX_ARRAY); }

    /** float32, holding at most {@code maxTensorFloats} per tensor: stands in for a device with small allocations. */
    public static CpuRefBackend float32(long maxTensorFloats) {
        return new CpuRefBackend(false, Math.min(maxTensorFloats, MAX_ARRAY));
    }

    @Override
    public long maxTensorFloats() { return maxTensorFloats; }

    /** Tensors are double[] on the Java heap: each float32 byte asked for takes two bytes of heap. */
    @Override
    public long availableBytes() {
        Runtime rt = Runtime.getRuntime();
        return (rt.maxMemory() - (rt.totalMemory() - rt.freeMemory())) / 2;
    }

    public boolean isFloat64() { return float64; }

    @Override
    public String name() { return "cpu-ref"; }

    @Override
    public String deviceDescription() {
        return "Java reference loops, " + (float64 ? "float64" : "float32 storage, float64 accumulation");
    }

    private static final class HostMemory implements DeviceMemory {
        final double[] data;
        final CpuRefBackend owner;

        HostMemory(CpuRefBackend owner, long floats) {
            if (floats > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("cpu-ref holds at most 2^31 elements per tensor, asked for " + floats);
            }
            this.owner = owner;
            this.data = new double[(int) floats];
        }

        @Override
        public long capacity() { return data.length; }

        @Override
        public Object owner() { return owner; }
    }

    private static double[] data(Tensor t) { return ((HostMemory) t.memory()).data; }

    /** Index of element (r, c) of t in its backing array. */
    private static int at(Tensor t, int r, int c) { return (int) (t.offset() + (long) r * t.ld() + c); }

    private double store(double v) { return float64 ? v : (double) (float) v; }

    @Override
    protected DeviceMemory allocMemory(long floats) { return new HostMemory(this, floats); }

    @Override
    protected void freeMemory(DeviceMemory memory) { }

    @Override
    protected void uploadHook(float[] src, Tensor dst) {
        double[] d = data(dst);
        for (int i = 0; i < src.length; i++) {
            d[(int) dst.offset() + i] = src[i];
        }
    }

    @Override
    protected float[] downloadHook(Tensor src) {
        double[] d = data(src);
        float[] out = new float[(int) src.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) d[(int) src.offset() + i];
        }
        return out;
    }

    @Override
    public void uploadDoubles(double[] src, Tensor dst) {
        if (src.length != dst.size() || !dst.isContiguous()) {
            super.uploadDoubles(src, dst);
            return;
        }
        double[] d = data(dst);
        for (int i = 0; i < src.length; i++) {
            d[(int) dst.offset() + i] = store(src[i]);
        }
    }

    @Override
    public double[] downloadDoubles(Tensor src) {
        if (!src.isContiguous()) {
            return super.downloadDoubles(src);
        }
        double[] out = new double[(int) src.size()];
        System.arraycopy(data(src), (int) src.offset(), out, 0, out.length);
        return out;
    }

    @Override
    protected void gemmHook(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        double[] A = data(a), B = data(b), C = data(c);
        int k = transA ? a.rows() : a.cols();
        for (int i = 0; i < c.rows(); i++) {
            for (int j = 0; j < c.cols(); j++) {
                double sum = 0;
                for (int p = 0; p < k; p++) {
                    double aip = transA ? A[at(a, p, i)] : A[at(a, i, p)];
                    double bpj = transB ? B[at(b, j, p)] : B[at(b, p, j)];
                    sum += aip * bpj;
                }
                int ci = at(c, i, j);
                C[ci] = store(beta == 0f ? alpha * sum : alpha * sum + beta * C[ci]);
            }
        }
    }

    @Override
    protected void fillHook(Tensor x, float value) {
        double[] X = data(x);
        for (int i = 0; i < x.size(); i++) {
            X[(int) x.offset() + i] = value;
        }
    }

    @Override
    protected void copyHook(Tensor src, Tensor dst) {
        System.arraycopy(data(src), (int) src.offset(), data(dst), (int) dst.offset(), (int) src.size());
    }

    @Override
    protected void axpyHook(float alpha, Tensor x, Tensor y) {
        double[] X = data(x), Y = data(y);
        for (int i = 0; i < x.size(); i++) {
            int yi = (int) y.offset() + i;
            Y[yi] = store(Y[yi] + (double) alpha * X[(int) x.offset() + i]);
        }
    }

    @Override
    protected void scaleHook(float alpha, Tensor x) {
        double[] X = data(x);
        for (int i = 0; i < x.size(); i++) {
            int xi = (int) x.offset() + i;
            X[xi] = store(alpha * X[xi]);
        }
    }

    @Override
    protected void biasTanhHook(Tensor x, Tensor bias) {
        double[] X = data(x), Bias = data(bias);
        for (int r = 0; r < x.rows(); r++) {
            for (int h = 0; h < x.cols(); h++) {
                int xi = at(x, r, h);
                X[xi] = store(Math.tanh(X[xi] + Bias[at(bias, 0, h)]));
            }
        }
    }

    @Override
    protected void tanhBackwardHook(Tensor a, Tensor da) {
        double[] A = data(a), DA = data(da);
        for (int i = 0; i < a.size(); i++) {
            double ai = A[(int) a.offset() + i];
            int di = (int) da.offset() + i;
            DA[di] = store((1 - ai * ai) * DA[di]);
        }
    }

    @Override
    protected void tanhCellBackwardHook(Tensor a, Tensor dnext, Tensor da) {
        double[] A = data(a), N = data(dnext), DA = data(da);
        for (int i = 0; i < a.size(); i++) {
            double ai = A[(int) a.offset() + i];
            int di = (int) da.offset() + i;
            DA[di] = store((1 - ai * ai) * (DA[di] + N[(int) dnext.offset() + i]));
        }
    }

    private static double sigmoid(double x) { return 1 / (1 + Math.exp(-x)); }

    @Override
    protected void lstmCellForwardHook(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h) {
        double[] G = data(gates), BI = data(biasIh), BH = data(biasHh), CP = data(cPrev), C = data(c), Hs = data(h);
        int n = c.cols();
        for (int r = 0; r < c.rows(); r++) {
            for (int j = 0; j < n; j++) {
                int gi = at(gates, r, j), gf = gi + n, gg = gi + 2 * n, go = gi + 3 * n;
                G[gi] = store(sigmoid(G[gi] + BI[at(biasIh, 0, j)] + BH[at(biasHh, 0, j)]));
                G[gf] = store(sigmoid(G[gf] + BI[at(biasIh, 0, n + j)] + BH[at(biasHh, 0, n + j)]));
                G[gg] = store(Math.tanh(G[gg] + BI[at(biasIh, 0, 2 * n + j)] + BH[at(biasHh, 0, 2 * n + j)]));
                G[go] = store(sigmoid(G[go] + BI[at(biasIh, 0, 3 * n + j)] + BH[at(biasHh, 0, 3 * n + j)]));
                double ct = store(G[gf] * CP[at(cPrev, r, j)] + G[gi] * G[gg]);
                C[at(c, r, j)] = ct;
                Hs[at(h, r, j)] = store(G[go] * Math.tanh(ct));
            }
        }
    }

    @Override
    protected void lstmCellBackwardHook(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc) {
        double[] G = data(gates), CP = data(cPrev), C = data(c), DH = data(dh), N = data(dnext), DC = data(dc);
        int n = c.cols();
        for (int r = 0; r < c.rows(); r++) {
            for (int j = 0; j < n; j++) {
                int gi = at(gates, r, j), gf = gi + n, gg = gi + 2 * n, go = gi + 3 * n, ci = at(dc, r, j);
                double i = G[gi], f = G[gf], g = G[gg], o = G[go];
                double dht = DH[at(dh, r, j)] + N[at(dnext, r, j)];
                double tc = Math.tanh(C[at(c, r, j)]);
                double dct = DC[ci] + dht * o * (1 - tc * tc);
                G[gi] = store(dct * g * i * (1 - i));
                G[gf] = store(dct * CP[at(cPrev, r, j)] * f * (1 - f));
                G[gg] = store(dct * i * (1 - g * g));
                G[go] = store(dht * tc * o * (1 - o));
                DC[ci] = store(dct * f);
            }
        }
    }

    @Override
    protected void gruCellForwardHook(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn,
                                      Tensor h) {
        double[] G = data(gates), HH = data(hh), BI = data(biasIh), BH = data(biasHh), HP = data(hPrev);
        double[] HN = data(hn), Hs = data(h);
        int n = h.cols();
        for (int r = 0; r < h.rows(); r++) {
            for (int j = 0; j < n; j++) {
                int gr = at(gates, r, j), gz = gr + n, gn = gr + 2 * n;
                int hr = at(hh, r, j), hz = hr + n, hnn = hr + 2 * n;
                G[gr] = store(sigmoid(G[gr] + BI[at(biasIh, 0, j)] + HH[hr] + BH[at(biasHh, 0, j)]));
                G[gz] = store(sigmoid(G[gz] + BI[at(biasIh, 0, n + j)] + HH[hz] + BH[at(biasHh, 0, n + j)]));
                double hnv = store(HH[hnn] + BH[at(biasHh, 0, 2 * n + j)]);
                HN[at(hn, r, j)] = hnv;
                G[gn] = store(Math.tanh(G[gn] + BI[at(biasIh, 0, 2 * n + j)] + G[gr] * hnv));
                Hs[at(h, r, j)] = store((1 - G[gz]) * G[gn] + G[gz] * HP[at(hPrev, r, j)]);
            }
        }
    }

    @Override
    protected void gruCellBackwardHook(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext,
                                       Tensor dgatesHh) {
        double[] G = data(gates), HN = data(hn), HP = data(hPrev), DH = data(dh), N = data(dnext);
        double[] DG = data(dgatesHh);
        int n = hn.cols();
        for (int r = 0; r < hn.rows(); r++) {
            for (int j = 0; j < n; j++) {
                int gr = at(gates, r, j), gz = gr + n, gn = gr + 2 * n;
                int dr = at(dgatesHh, r, j), ni = at(dnext, r, j);
                double rv = G[gr], z = G[gz], nv = G[gn];
                double dht = DH[at(dh, r, j)] + N[ni];
                double dnPre = dht * (1 - z) * (1 - nv * nv);
                double drPre = dnPre * HN[at(hn, r, j)] * rv * (1 - rv);
                double dzPre = dht * (HP[at(hPrev, r, j)] - nv) * z * (1 - z);
                G[gr] = store(drPre);
                G[gz] = store(dzPre);
                G[gn] = store(dnPre);
                DG[dr] = G[gr];
                DG[dr + n] = G[gz];
                DG[dr + 2 * n] = store(dnPre * rv);
                N[ni] = store(dht * z);
            }
        }
    }

    @Override
    protected void sumRowsHook(Tensor x, float beta, Tensor out) {
        double[] X = data(x), O = data(out);
        for (int c = 0; c < x.cols(); c++) {
            double sum = 0;
            for (int r = 0; r < x.rows(); r++) {
                sum += X[at(x, r, c)];
            }
            int oi = at(out, 0, c);
            O[oi] = store(beta == 0f ? sum : beta * O[oi] + sum);
        }
    }

    @Override
    protected void softmaxCrossEntropyHook(Tensor logits, Tensor bias, Tensor targets, float gradScale,
                                           Tensor dlogits, Tensor losses) {
        double[] Z = data(logits), Bias = data(bias), Tgt = data(targets), D = data(dlogits), L = data(losses);
        int v = logits.cols();
        double[] z = new double[v];
        for (int r = 0; r < logits.rows(); r++) {
            int target = (int) Tgt[at(targets, r, 0)];
            if (target >= v) {
                throw new IllegalArgumentException("target " + target + " at row " + r + " is outside the vocabulary of " + v);
            }
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                z[j] = Z[at(logits, r, j)] + Bias[at(bias, 0, j)];
                max = Math.max(max, z[j]);
            }
            double sum = 0;
            for (int j = 0; j < v; j++) {
                sum += Math.exp(z[j] - max);
            }
            double logSum = max + Math.log(sum);
            L[at(losses, r, 0)] = target < 0 ? 0 : store(logSum - z[target]);
            for (int j = 0; j < v; j++) {
                double grad = target < 0 ? 0 : (Math.exp(z[j] - logSum) - (j == target ? 1 : 0)) * gradScale;
                D[at(dlogits, r, j)] = store(grad);
            }
        }
    }

    @Override
    protected void meanSquaredErrorHook(Tensor predictions, Tensor bias, Tensor targets, Tensor mask, float gradScale,
                                        Tensor dpredictions, Tensor losses) {
        double[] P = data(predictions), Bias = data(bias), Y = data(targets), M = data(mask), D = data(dpredictions),
                L = data(losses);
        int d = predictions.cols();
        double[] e = new double[d];
        for (int r = 0; r < predictions.rows(); r++) {
            boolean scored = M[at(mask, r, 0)] > 0;
            double sum = 0;
            for (int j = 0; j < d; j++) {
                e[j] = P[at(predictions, r, j)] + Bias[at(bias, 0, j)] - Y[at(targets, r, j)];
                sum += e[j] * e[j];
            }
            L[at(losses, r, 0)] = scored ? store(sum / d) : 0;
            for (int j = 0; j < d; j++) {
                D[at(dpredictions, r, j)] = scored ? store(2 * e[j] / d * gradScale) : 0;
            }
        }
    }

    @Override
    protected void gatherColumnsHook(Tensor ids, Tensor table, Tensor out) {
        double[] I = data(ids), W = data(table), O = data(out);
        for (int r = 0; r < out.rows(); r++) {
            int id = checkedId(I[at(ids, r, 0)], table.cols(), r);
            for (int h = 0; h < out.cols(); h++) {
                O[at(out, r, h)] = W[at(table, h, id)];
            }
        }
    }

    @Override
    protected void scatterAddColumnsHook(Tensor ids, Tensor grad, Tensor tableGrad) {
        double[] I = data(ids), G = data(grad), W = data(tableGrad);
        for (int r = 0; r < grad.rows(); r++) {
            int id = checkedId(I[at(ids, r, 0)], tableGrad.cols(), r);
            for (int h = 0; h < grad.cols(); h++) {
                int wi = at(tableGrad, h, id);
                W[wi] = store(W[wi] + G[at(grad, r, h)]);
            }
        }
    }

    private static int checkedId(double value, int vocab, int row) {
        int id = (int) value;
        if (id < 0 || id >= vocab || id != value) {
            throw new IllegalArgumentException("token id " + value + " at row " + row + " is not in [0," + vocab + ")");
        }
        return id;
    }

    @Override
    protected double sumOfSquaresHook(Tensor x) {
        double[] X = data(x);
        double sum = 0;
        for (int i = 0; i < x.size(); i++) {
            double v = X[(int) x.offset() + i];
            sum += v * v;
        }
        return sum;
    }

    @Override
    protected void sgdUpdateHook(Tensor param, Tensor grad, float lr, float gradScale) {
        double[] P = data(param), G = data(grad);
        for (int i = 0; i < param.size(); i++) {
            int pi = (int) param.offset() + i;
            P[pi] = store(P[pi] - (double) lr * gradScale * G[(int) grad.offset() + i]);
        }
    }

    @Override
    protected void adamUpdateHook(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                                  float eps, int step, float gradScale) {
        double[] P = data(param), G = data(grad), M = data(m), V = data(v);
        double bias1 = 1 - Math.pow(beta1, step);
        double bias2 = 1 - Math.pow(beta2, step);
        for (int i = 0; i < param.size(); i++) {
            int pi = (int) param.offset() + i, mi = (int) m.offset() + i, vi = (int) v.offset() + i;
            double g = (double) gradScale * G[(int) grad.offset() + i];
            M[mi] = store(beta1 * M[mi] + (1 - (double) beta1) * g);
            V[vi] = store(beta2 * V[vi] + (1 - (double) beta2) * g * g);
            double denom = Math.sqrt(V[vi] / bias2) + eps;
            P[pi] = store(P[pi] - lr * (M[mi] / bias1) / denom);
        }
    }

    @Override
    protected void adagradUpdateHook(Tensor param, Tensor grad, Tensor cache, float lr, float eps, float gradScale) {
        double[] P = data(param), G = data(grad), C = data(cache);
        for (int i = 0; i < param.size(); i++) {
            int pi = (int) param.offset() + i, ci = (int) cache.offset() + i;
            double g = (double) gradScale * G[(int) grad.offset() + i];
            C[ci] = store(C[ci] + g * g);
            P[pi] = store(P[pi] - lr * g / Math.sqrt(C[ci] + eps));
        }
    }

    @Override
    public void close() { }
}
