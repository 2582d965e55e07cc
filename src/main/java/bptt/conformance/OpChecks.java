// OpChecks: one conformance check per Backend op (and GEMM flag combination) at a given shape.
package bptt.conformance;

import bptt.backend.Backend;
import bptt.backend.StagingBuffer;
import bptt.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Checks of single ops on an (n, c) problem: n rows (a batch of time steps, or N = T·B), c
 * columns (H or V). Reductions get a tolerance that grows with their length, since the
 * reference accumulates in double and a device in float.
 */
public final class OpChecks {
    private OpChecks() { }

    private static final Tolerance ELEMENTWISE = Tolerance.of(1e-6, 1e-6);
    private static final Tolerance TRANSCENDENTAL = Tolerance.of(2e-6, 1e-5);

    /** A float sum of {@code terms} values of unit size: about terms·2^-24 of error in the worst typical case. */
    static Tolerance reduction(long terms) {
        return Tolerance.of(1e-6 * Math.max(1, Math.sqrt(terms)) + 1e-7 * terms, 1e-5);
    }

    /**
     * Two uploads queued back to back from odd offsets of one staging buffer into NaN-poisoned
     * (n, c) tensors: each must land whole although both go through the same device scratch on a
     * GPU. Ids span their encoding's whole range (INT32 includes −2^31).
     */
    private static List<Output> uploadStaged(Scratch s, StagingBuffer.Encoding encoding, int n, int c) {
        int count = n * c;
        StagingBuffer host = s.staging(2L * count + 7, encoding, count);
        for (long i = 0; i < host.length(); i++) {
            switch (encoding) {
                case INT8 -> host.putInt(i, s.random.nextInt(256) - 128);
                case INT16 -> host.putInt(i, s.random.nextInt(65536) - 32768);
                case INT32 -> host.putInt(i, i == 3 ? Integer.MIN_VALUE : s.random.nextInt(1 << 25) - (1 << 24));
                case FLOAT32 -> host.putFloat(i, (float) s.random.nextGaussian());
            }
        }
        Tensor first = s.poisoned(n, c);
        Tensor second = s.poisoned(n, c);
        s.be.uploadStaged(host, 3, first);
        s.be.uploadStaged(host, 3 + count + 1, second);
        return List.of(s.out("first", first, Tolerance.EXACT), s.out("second", second, Tolerance.EXACT));
    }

    /** A check whose body runs on a fresh {@link Scratch}. */
    private record Simple(String name, String shape, Function<Scratch, List<Output>> body) implements Check {
        @Override
        public List<Output> run(Backend backend, long seed) {
            try (Scratch s = new Scratch(backend, seed)) {
                return body.apply(s);
            }
        }
    }

    private static Check check(String name, String shape, Function<Scratch, List<Output>> body) {
        return new Simple(name, shape, body);
    }

    /** Every elementwise, reduction, softmax, gather/scatter and optimizer op on (n, c). */
    public static List<Check> elementwise(int n, int c) {
        String nc = "N=" + n + " C=" + c;
        List<Check> list = new ArrayList<>();
        list.add(check("fill", nc, s -> {
            Tensor x = s.poisoned(n, c);
            float value = (float) s.random.nextGaussian();
            s.be.fill(x, value);
            return List.of(s.out("x", x, Tolerance.EXACT));
        }));
        list.add(check("copy", nc, s -> {
            Tensor src = s.gaussian(n, c, 1);
            Tensor dst = s.poisoned(n, c);
            s.be.copy(src, dst);
            return List.of(s.out("dst", dst, Tolerance.EXACT));
        }));
        list.add(check("axpy", nc, s -> {
            Tensor x = s.gaussian(n, c, 1);
            Tensor y = s.gaussian(n, c, 1);
            s.be.axpy((float) s.random.nextGaussian(), x, y);
            return List.of(s.out("y", y, ELEMENTWISE));
        }));
        list.add(check("scale", nc, s -> {
            Tensor x = s.gaussian(n, c, 1);
            s.be.scale((float) s.random.nextGaussian(), x);
            return List.of(s.out("x", x, ELEMENTWISE));
        }));
        list.add(check("biasTanh", nc, s -> {
            Tensor x = s.gaussian(n, c, 2);
            Tensor bias = s.gaussian(1, c, 1);
            s.be.biasTanh(x, bias);
            return List.of(s.out("x", x, TRANSCENDENTAL));
        }));
        list.add(check("tanhBackward", nc, s -> {
            Tensor a = s.uniform(n, c, -1, 1);
            Tensor da = s.gaussian(n, c, 1);
            s.be.tanhBackward(a, da);
            return List.of(s.out("da", da, ELEMENTWISE));
        }));
        list.add(check("tanhStepForward", "B=" + n + " H=" + c, s -> {
            Tensor hPrev = s.uniform(n, c, -1, 1);
            Tensor waa = s.gaussian(c, c, 1 / Math.sqrt(c));
            Tensor bias = s.gaussian(1, c, 1);
            Tensor pre = s.gaussian(n, c, 1);
            s.be.tanhStepForward(hPrev, waa, bias, pre);
            return List.of(s.out("a", pre, Tolerance.of(1e-5, 1e-5)));
        }));
        list.add(check("tanhStepBackward", "B=" + n + " H=" + c, s -> {
            Tensor a = s.uniform(n, c, -1, 1);
            Tensor waa = s.gaussian(c, c, 1 / Math.sqrt(c));
            Tensor da = s.gaussian(n, c, 1);
            Tensor dnext = s.gaussian(n, c, 1);
            s.be.tanhStepBackward(a, waa, da, dnext);
            return List.of(s.out("dpre", da, ELEMENTWISE), s.out("dnext", dnext, Tolerance.scaled(1e-5, 1e-5)));
        }));
        list.addAll(cells(n, c));
        for (StagingBuffer.Encoding encoding : StagingBuffer.Encoding.values()) {
            list.add(check("uploadStaged " + encoding, nc, s -> uploadStaged(s, encoding, n, c)));
        }
        for (float beta : new float[]{0f, 0.5f}) {
            list.add(check("sumRows beta=" + beta, nc, s -> {
                Tensor x = s.gaussian(n, c, 1);
                Tensor out = beta == 0f ? s.poisoned(1, c) : s.gaussian(1, c, 1);
                s.be.sumRows(x, beta, out);
                return List.of(s.out("out", out, reduction(n)));
            }));
        }
        for (boolean inPlace : new boolean[]{false, true}) {
            list.add(check("softmaxCrossEntropy" + (inPlace ? " in-place" : ""), "N=" + n + " V=" + c, s -> {
                Tensor logits = s.gaussian(n, c, 3);
                Tensor bias = s.gaussian(1, c, 1);
                float[] t = new float[n];
                for (int i = 0; i < n; i++) {
                    t[i] = s.random.nextInt(8) == 0 ? -1 : s.random.nextInt(c);
                }
                Tensor targets = s.tensor(n, 1, t);
                Tensor dlogits = inPlace ? logits : s.poisoned(n, c);
                Tensor losses = s.poisoned(n, 1);
                s.be.softmaxCrossEntropy(logits, bias, targets, 1f / n, dlogits, losses);
                return List.of(s.out("losses", losses, Tolerance.of(1e-5, 1e-5)),
                        s.out("dlogits", dlogits, Tolerance.scaled(1e-5, 1e-5)));
            }));
        }
        for (boolean inPlace : new boolean[]{false, true}) {
            list.add(check("meanSquaredError" + (inPlace ? " in-place" : ""), "N=" + n + " D=" + c, s -> {
                Tensor predictions = s.gaussian(n, c, 3);
                Tensor bias = s.gaussian(1, c, 1);
                Tensor targets = s.gaussian(n, c, 3);
                float[] m = new float[n];
                for (int i = 0; i < n; i++) {
                    m[i] = s.random.nextInt(8) == 0 ? 0 : 1;
                }
                Tensor mask = s.tensor(n, 1, m);
                Tensor dpredictions = inPlace ? predictions : s.poisoned(n, c);
                Tensor losses = s.poisoned(n, 1);
                s.be.meanSquaredError(predictions, bias, targets, mask, 1f / n, dpredictions, losses);
                return List.of(s.out("losses", losses, Tolerance.of(1e-5, 1e-5)),
                        s.out("dpredictions", dpredictions, Tolerance.scaled(1e-5, 1e-5)));
            }));
        }
        list.add(check("gatherColumns", "N=" + n + " H=" + c + " V=" + (c + 2), s -> {
            int v = c + 2;
            Tensor ids = s.ids(n, 0, v);
            Tensor table = s.gaussian(c, v, 1);
            Tensor out = s.poisoned(n, c);
            s.be.gatherColumns(ids, table, out);
            return List.of(s.out("out", out, Tolerance.EXACT));
        }));
        list.add(check("scatterAddColumns", "N=" + n + " H=" + c + " V=" + (c + 2), s -> {
            int v = c + 2;
            Tensor ids = s.ids(n, 0, v);
            Tensor grad = s.gaussian(n, c, 1);
            Tensor tableGrad = s.gaussian(c, v, 1);
            s.be.scatterAddColumns(ids, grad, tableGrad);
            return List.of(s.out("tableGrad", tableGrad, reduction(n)));
        }));
        list.add(check("sumOfSquares", nc, s -> {
            Tensor x = s.gaussian(n, c, 1);
            float sum = (float) s.be.sumOfSquares(x);
            return List.of(new Output("sum", new float[]{sum}, Tolerance.of(0, 1e-6 + 1e-8 * Math.sqrt((double) n * c))));
        }));
        list.add(check("sgdUpdate", nc, s -> {
            Tensor p = s.gaussian(n, c, 1);
            Tensor g = s.gaussian(n, c, 1);
            s.be.sgdUpdate(p, g, 0.1f, 0.5f);
            return List.of(s.out("param", p, ELEMENTWISE));
        }));
        list.add(check("adamUpdate", nc, s -> {
            Tensor p = s.gaussian(n, c, 1);
            Tensor g = s.gaussian(n, c, 1);
            Tensor m = s.gaussian(n, c, 0.1);
            Tensor v = s.uniform(n, c, 0, 0.1);
            int step = 1 + s.random.nextInt(20);
            s.be.adamUpdate(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, step, 0.5f);
            return List.of(s.out("param", p, Tolerance.of(2e-6, 1e-6)), s.out("m", m, ELEMENTWISE),
                    s.out("v", v, ELEMENTWISE));
        }));
        list.add(check("adagradUpdate", nc, s -> {
            Tensor p = s.gaussian(n, c, 1);
            Tensor g = s.gaussian(n, c, 1);
            Tensor cache = s.uniform(n, c, 0, 1);
            s.be.adagradUpdate(p, g, cache, 0.1f, 1e-8f, 0.5f);
            return List.of(s.out("param", p, Tolerance.of(2e-6, 1e-5)), s.out("cache", cache, ELEMENTWISE));
        }));
        return list;
    }

    /**
     * The recurrent cells' ops on a batch of b rows and h units: the tanh cell's fused backward,
     * and LSTM's and GRU's pointwise kernels and whole steps (recurrent GEMM + kernel), forward
     * and backward. Gate activations are drawn in (0, 1); every output is poisoned first.
     */
    static List<Check> cells(int b, int h) {
        String bh = "B=" + b + " H=" + h;
        Tolerance step = Tolerance.scaled(1e-5, 1e-5);
        List<Check> list = new ArrayList<>();
        list.add(check("tanhCellBackward", bh, s -> {
            Tensor a = s.uniform(b, h, -1, 1);
            Tensor dnext = s.gaussian(b, h, 1);
            Tensor da = s.gaussian(b, h, 1);
            s.be.tanhCellBackward(a, dnext, da);
            return List.of(s.out("da", da, ELEMENTWISE));
        }));
        list.add(check("lstmCellForward", bh, s -> {
            Tensor gates = s.gaussian(b, 4 * h, 2);
            Tensor bi = s.gaussian(1, 4 * h, 1);
            Tensor bhh = s.gaussian(1, 4 * h, 1);
            Tensor cPrev = s.gaussian(b, h, 1);
            Tensor c = s.poisoned(b, h);
            Tensor hOut = s.poisoned(b, h);
            s.be.lstmCellForward(gates, bi, bhh, cPrev, c, hOut);
            return List.of(s.out("gates", gates, TRANSCENDENTAL), s.out("c", c, TRANSCENDENTAL),
                    s.out("h", hOut, TRANSCENDENTAL));
        }));
        list.add(check("lstmCellBackward", bh, s -> {
            Tensor gates = s.uniform(b, 4 * h, 0, 1);
            Tensor cPrev = s.gaussian(b, h, 1);
            Tensor c = s.gaussian(b, h, 1);
            Tensor dh = s.gaussian(b, h, 1);
            Tensor dnext = s.gaussian(b, h, 1);
            Tensor dc = s.gaussian(b, h, 1);
            s.be.lstmCellBackward(gates, cPrev, c, dh, dnext, dc);
            return List.of(s.out("dgates", gates, TRANSCENDENTAL), s.out("dc", dc, TRANSCENDENTAL));
        }));
        list.add(check("lstmStepForward", bh, s -> {
            Tensor hPrev = s.uniform(b, h, -1, 1);
            Tensor cPrev = s.gaussian(b, h, 1);
            Tensor whh = s.gaussian(4 * h, h, 1 / Math.sqrt(h));
            Tensor bi = s.gaussian(1, 4 * h, 1);
            Tensor bhh = s.gaussian(1, 4 * h, 1);
            Tensor gates = s.gaussian(b, 4 * h, 1);
            Tensor c = s.poisoned(b, h);
            Tensor hOut = s.poisoned(b, h);
            s.be.lstmStepForward(hPrev, cPrev, whh, bi, bhh, gates, c, hOut);
            return List.of(s.out("gates", gates, step), s.out("c", c, step), s.out("h", hOut, step));
        }));
        list.add(check("lstmStepBackward", bh, s -> {
            Tensor gates = s.uniform(b, 4 * h, 0, 1);
            Tensor cPrev = s.gaussian(b, h, 1);
            Tensor c = s.gaussian(b, h, 1);
            Tensor whh = s.gaussian(4 * h, h, 1 / Math.sqrt(h));
            Tensor dh = s.gaussian(b, h, 1);
            Tensor dc = s.gaussian(b, h, 1);
            Tensor dnext = s.gaussian(b, h, 1);
            s.be.lstmStepBackward(gates, cPrev, c, whh, dh, dc, dnext);
            return List.of(s.out("dgates", gates, step), s.out("dc", dc, step), s.out("dnext", dnext, step));
        }));
        list.add(check("gruCellForward", bh, s -> {
            Tensor gates = s.gaussian(b, 3 * h, 2);
            Tensor hh = s.gaussian(b, 3 * h, 1);
            Tensor bi = s.gaussian(1, 3 * h, 1);
            Tensor bhh = s.gaussian(1, 3 * h, 1);
            Tensor hPrev = s.uniform(b, h, -1, 1);
            Tensor hn = s.poisoned(b, h);
            Tensor hOut = s.poisoned(b, h);
            s.be.gruCellForward(gates, hh, bi, bhh, hPrev, hn, hOut);
            return List.of(s.out("gates", gates, TRANSCENDENTAL), s.out("hn", hn, ELEMENTWISE),
                    s.out("h", hOut, TRANSCENDENTAL));
        }));
        list.add(check("gruCellBackward", bh, s -> {
            Tensor gates = s.uniform(b, 3 * h, 0, 1);
            Tensor hn = s.gaussian(b, h, 1);
            Tensor hPrev = s.uniform(b, h, -1, 1);
            Tensor dh = s.gaussian(b, h, 1);
            Tensor dnext = s.gaussian(b, h, 1);
            Tensor dgatesHh = s.poisoned(b, 3 * h);
            s.be.gruCellBackward(gates, hn, hPrev, dh, dnext, dgatesHh);
            return List.of(s.out("dgates", gates, ELEMENTWISE), s.out("dgatesHh", dgatesHh, ELEMENTWISE),
                    s.out("dnext", dnext, ELEMENTWISE));
        }));
        list.add(check("gruStepForward", bh, s -> {
            Tensor hPrev = s.uniform(b, h, -1, 1);
            Tensor whh = s.gaussian(3 * h, h, 1 / Math.sqrt(h));
            Tensor bi = s.gaussian(1, 3 * h, 1);
            Tensor bhh = s.gaussian(1, 3 * h, 1);
            Tensor gates = s.gaussian(b, 3 * h, 1);
            Tensor hh = s.poisoned(b, 3 * h);
            Tensor hn = s.poisoned(b, h);
            Tensor hOut = s.poisoned(b, h);
            s.be.gruStepForward(hPrev, whh, bi, bhh, gates, hh, hn, hOut);
            return List.of(s.out("gates", gates, step), s.out("hn", hn, step), s.out("h", hOut, step));
        }));
        list.add(check("gruStepBackward", bh, s -> {
            Tensor gates = s.uniform(b, 3 * h, 0, 1);
            Tensor hn = s.gaussian(b, h, 1);
            Tensor hPrev = s.uniform(b, h, -1, 1);
            Tensor whh = s.gaussian(3 * h, h, 1 / Math.sqrt(h));
            Tensor dh = s.gaussian(b, h, 1);
            Tensor dgatesHh = s.poisoned(b, 3 * h);
            Tensor dnext = s.gaussian(b, h, 1);
            s.be.gruStepBackward(gates, hn, hPrev, whh, dh, dgatesHh, dnext);
            return List.of(s.out("dgates", gates, step), s.out("dgatesHh", dgatesHh, step),
                    s.out("dnext", dnext, step));
        }));
        return list;
    }

    /**
     * GEMM C (m,n) = alpha·op(A)·op(B) + beta·C for one flag combination. With pad > 0 every
     * operand is a block inside a wider allocation (ld > cols), and the whole allocation of C is
     * compared, so a write outside the block fails too. beta = 0 poisons C's block with NaN.
     */
    public static Check gemm(boolean transA, boolean transB, int m, int n, int k, float beta, int pad) {
        String name = "gemm " + (transA ? "T" : "N") + (transB ? "T" : "N") + " beta=" + beta + (pad > 0 ? " padded" : "");
        return check(name, "M=" + m + " N=" + n + " K=" + k, s -> {
            int ar = transA ? k : m, ac = transA ? m : k;
            int br = transB ? n : k, bc = transB ? k : n;
            Tensor a = s.gaussian(ar + pad, ac + pad, 1).block(pad / 2, pad - pad / 2, ar, ac);
            Tensor b = s.gaussian(br + pad, bc + pad, 1).block(pad / 2, pad - pad / 2, br, bc);
            float[] cValues = s.gaussianValues((m + pad) * (n + pad), 1);
            if (beta == 0f) {
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        cValues[(i + pad / 2) * (n + pad) + j + pad - pad / 2] = Float.NaN;
                    }
                }
            }
            Tensor cRoot = s.tensor(m + pad, n + pad, cValues);
            Tensor c = cRoot.block(pad / 2, pad - pad / 2, m, n);
            s.be.gemm(transA, a, transB, b, 0.75f, beta, c);
            return List.of(s.out("C", cRoot, Tolerance.scaled(2e-6 * Math.sqrt(k), 1e-5)));
        });
    }

    /** The four flag combinations with beta 0 and 1, plus padded views. */
    public static List<Check> gemms(int m, int n, int k) {
        List<Check> list = new ArrayList<>();
        for (boolean ta : new boolean[]{false, true}) {
            for (boolean tb : new boolean[]{false, true}) {
                list.add(gemm(ta, tb, m, n, k, 0f, 0));
                list.add(gemm(ta, tb, m, n, k, 1f, 3));
            }
        }
        return list;
    }
}
