// ProfilingBackend: wraps any Backend and times each op (GEMMs by shape), for `bench --profile`.
package bptt.backend;

import bptt.tensor.Tensor;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A decorator that synchronizes after every op and adds its wall time to a per-op tally; GEMMs
 * are tallied per (transA, transB, m, n, k) so the per-step recurrent GEMM shows apart from the
 * big weight-gradient GEMMs. The synchronization makes asynchronous backends slower than they
 * really are, so use it to see where time goes, not to measure throughput.
 */
public final class ProfilingBackend implements Backend {
    private final Backend inner;
    private final Map<String, long[]> tally = new LinkedHashMap<>(); // op -> {calls, nanos}

    public ProfilingBackend(Backend inner) { this.inner = inner; }

    /** One row of the profile. */
    public record Entry(String op, long calls, double millis) { }

    /** Per-op totals since creation or {@link #reset}, slowest first. */
    public List<Entry> entries() {
        List<Entry> list = new ArrayList<>();
        tally.forEach((op, v) -> list.add(new Entry(op, v[0], v[1] / 1e6)));
        list.sort(Comparator.comparingDouble(Entry::millis).reversed());
        return list;
    }

    public void reset() { tally.clear(); }

    private long start() { return System.nanoTime(); }

    /** Runs one op and adds its synchronized wall time to {@code op}'s tally. */
    private void timed(String op, Runnable body) {
        long t = start();
        body.run();
        stop(op, t);
    }

    private void stop(String op, long t0) {
        inner.synchronize();
        long[] v = tally.computeIfAbsent(op, k -> new long[2]);
        v[0]++;
        v[1] += System.nanoTime() - t0;
    }

    @Override
    public String name() { return inner.name(); }

    @Override
    public String deviceDescription() { return inner.deviceDescription(); }

    @Override
    public Tensor alloc(int rows, int cols) { return inner.alloc(rows, cols); }

    @Override
    public void free(Tensor root) { inner.free(root); }

    @Override
    public void upload(float[] src, Tensor dst) {
        long t = start();
        inner.upload(src, dst);
        stop("upload", t);
    }

    @Override
    public float[] download(Tensor src) {
        long t = start();
        float[] out = inner.download(src);
        stop("download", t);
        return out;
    }

    @Override
    public void uploadDoubles(double[] src, Tensor dst) {
        long t = start();
        inner.uploadDoubles(src, dst);
        stop("upload", t);
    }

    @Override
    public double[] downloadDoubles(Tensor src) {
        long t = start();
        double[] out = inner.downloadDoubles(src);
        stop("download", t);
        return out;
    }

    @Override
    public long allocatedBytes() { return inner.allocatedBytes(); }

    @Override
    public long peakAllocatedBytes() { return inner.peakAllocatedBytes(); }

    @Override
    public void resetPeak() { inner.resetPeak(); }

    @Override
    public void synchronize() { inner.synchronize(); }

    @Override
    public StagingBuffer allocStaging(long length, StagingBuffer.Encoding encoding, int maxUpload) {
        return inner.allocStaging(length, encoding, maxUpload);
    }

    @Override
    public StagingBuffer.Layout stagingLayout() { return inner.stagingLayout(); }

    @Override
    public void freeStaging(StagingBuffer buffer) { inner.freeStaging(buffer); }

    @Override
    public void uploadStaged(StagingBuffer src, long first, Tensor dst) {
        timed("uploadStaged", () -> inner.uploadStaged(src, first, dst));
    }

    @Override
    public long stagingBytes() { return inner.stagingBytes(); }

    @Override
    public long peakStagingBytes() { return inner.peakStagingBytes(); }

    @Override
    public void gemm(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        long t = start();
        inner.gemm(transA, a, transB, b, alpha, beta, c);
        int k = transA ? a.rows() : a.cols();
        stop(String.format(Locale.ROOT, "gemm %s%s m=%d n=%d k=%d", transA ? "T" : "N", transB ? "T" : "N",
                c.rows(), c.cols(), k), t);
    }

    @Override
    public void fill(Tensor x, float value) {
        long t = start();
        inner.fill(x, value);
        stop("fill", t);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        long t = start();
        inner.copy(src, dst);
        stop("copy", t);
    }

    @Override
    public void axpy(float alpha, Tensor x, Tensor y) {
        long t = start();
        inner.axpy(alpha, x, y);
        stop("axpy", t);
    }

    @Override
    public void scale(float alpha, Tensor x) {
        long t = start();
        inner.scale(alpha, x);
        stop("scale", t);
    }

    @Override
    public void biasTanh(Tensor x, Tensor bias) {
        long t = start();
        inner.biasTanh(x, bias);
        stop("biasTanh", t);
    }

    @Override
    public void tanhStepForward(Tensor hPrev, Tensor waa, Tensor bias, Tensor pre) {
        long t = start();
        inner.tanhStepForward(hPrev, waa, bias, pre);
        stop("tanhStepForward", t);
    }

    @Override
    public void tanhStepBackward(Tensor a, Tensor waa, Tensor da, Tensor dnext) {
        long t = start();
        inner.tanhStepBackward(a, waa, da, dnext);
        stop("tanhStepBackward", t);
    }

    @Override
    public void tanhCellBackward(Tensor a, Tensor dnext, Tensor da) {
        timed("tanhCellBackward", () -> inner.tanhCellBackward(a, dnext, da));
    }

    @Override
    public void lstmCellForward(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h) {
        timed("lstmCellForward", () -> inner.lstmCellForward(gates, biasIh, biasHh, cPrev, c, h));
    }

    @Override
    public void lstmCellBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc) {
        timed("lstmCellBackward", () -> inner.lstmCellBackward(gates, cPrev, c, dh, dnext, dc));
    }

    @Override
    public void lstmStepForward(Tensor hPrev, Tensor cPrev, Tensor whh, Tensor biasIh, Tensor biasHh, Tensor gates,
                                Tensor c, Tensor h) {
        timed("lstmStepForward", () -> inner.lstmStepForward(hPrev, cPrev, whh, biasIh, biasHh, gates, c, h));
    }

    @Override
    public void lstmStepBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor whh, Tensor dh, Tensor dc, Tensor dnext) {
        timed("lstmStepBackward", () -> inner.lstmStepBackward(gates, cPrev, c, whh, dh, dc, dnext));
    }

    @Override
    public void gruCellForward(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn,
                               Tensor h) {
        timed("gruCellForward", () -> inner.gruCellForward(gates, hh, biasIh, biasHh, hPrev, hn, h));
    }

    @Override
    public void gruCellBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext, Tensor dgatesHh) {
        timed("gruCellBackward", () -> inner.gruCellBackward(gates, hn, hPrev, dh, dnext, dgatesHh));
    }

    @Override
    public void gruStepForward(Tensor hPrev, Tensor whh, Tensor biasIh, Tensor biasHh, Tensor gates, Tensor hh,
                               Tensor hn, Tensor h) {
        timed("gruStepForward", () -> inner.gruStepForward(hPrev, whh, biasIh, biasHh, gates, hh, hn, h));
    }

    @Override
    public void gruStepBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor whh, Tensor dh, Tensor dgatesHh,
                                Tensor dnext) {
        timed("gruStepBackward", () -> inner.gruStepBackward(gates, hn, hPrev, whh, dh, dgatesHh, dnext));
    }

    @Override
    public void tanhBackward(Tensor a, Tensor da) {
        long t = start();
        inner.tanhBackward(a, da);
        stop("tanhBackward", t);
    }

    @Override
    public void sumRows(Tensor x, float beta, Tensor out) {
        long t = start();
        inner.sumRows(x, beta, out);
        stop("sumRows", t);
    }

    @Override
    public void softmaxCrossEntropy(Tensor logits, Tensor bias, Tensor targets, float gradScale, Tensor dlogits,
                                    Tensor losses) {
        long t = start();
        inner.softmaxCrossEntropy(logits, bias, targets, gradScale, dlogits, losses);
        stop("softmaxCrossEntropy", t);
    }

    @Override
    public void meanSquaredError(Tensor predictions, Tensor bias, Tensor targets, Tensor mask, float gradScale,
                                 Tensor dpredictions, Tensor losses) {
        long t = start();
        inner.meanSquaredError(predictions, bias, targets, mask, gradScale, dpredictions, losses);
        stop("meanSquaredError", t);
    }

    @Override
    public void gatherColumns(Tensor ids, Tensor table, Tensor out) {
        long t = start();
        inner.gatherColumns(ids, table, out);
        stop("gatherColumns", t);
    }

    @Override
    public void scatterAddColumns(Tensor ids, Tensor grad, Tensor tableGrad) {
        long t = start();
        inner.scatterAddColumns(ids, grad, tableGrad);
        stop("scatterAddColumns", t);
    }

    @Override
    public double sumOfSquares(Tensor x) {
        long t = start();
        double s = inner.sumOfSquares(x);
        stop("sumOfSquares", t);
        return s;
    }

    @Override
    public void sgdUpdate(Tensor param, Tensor grad, float lr, float gradScale) {
        long t = start();
        inner.sgdUpdate(param, grad, lr, gradScale);
        stop("sgdUpdate", t);
    }

    @Override
    public void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                           float eps, int step, float gradScale) {
        long t = start();
        inner.adamUpdate(param, grad, m, v, lr, beta1, beta2, eps, step, gradScale);
        stop("adamUpdate", t);
    }

    @Override
    public void adagradUpdate(Tensor param, Tensor grad, Tensor cache, float lr, float eps, float gradScale) {
        long t = start();
        inner.adagradUpdate(param, grad, cache, lr, eps, gradScale);
        stop("adagradUpdate", t);
    }

    @Override
    public void close() { inner.close(); }
}
