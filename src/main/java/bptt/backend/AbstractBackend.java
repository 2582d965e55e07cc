// AbstractBackend: shape, ownership and aliasing checks done once, then the backend's hook.
package bptt.backend;

import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Implements every {@link Backend} method as "check, then call the protected hook". Backends
 * extend this and implement the hooks, which may assume valid shapes, tensors of this backend,
 * contiguous elementwise operands and no forbidden aliasing. Also keeps the allocation tally.
 */
public abstract class AbstractBackend implements Backend {
    /** Bytes one staging buffer may span: a ByteBuffer is indexed by int. */
    public static final long MAX_STAGING_BYTES = Integer.MAX_VALUE - 8;

    private long allocated;
    private long peak;
    private final Map<DeviceMemory, Long> live = new IdentityHashMap<>();  // memory -> floats
    private long staged;
    private long stagedPeak;
    private final Set<StagingBuffer> liveStaging = Collections.newSetFromMap(new IdentityHashMap<>());

    // ---- hooks -----------------------------------------------------------------------------

    /** A zero-filled allocation of {@code floats} elements owned by this backend. */
    protected abstract DeviceMemory allocMemory(long floats);

    protected abstract void freeMemory(DeviceMemory memory);

    /** dst is contiguous; src has dst.size() values. */
    protected abstract void uploadHook(float[] src, Tensor dst);

    /** src is contiguous. */
    protected abstract float[] downloadHook(Tensor src);

    /**
     * A zeroed staging buffer; the length, encoding and byte size are checked. By default a Java
     * array, which {@link #uploadStagedHook}'s default copies synchronously.
     */
    protected StagingBuffer allocStagingHook(long length, StagingBuffer.Encoding encoding, int maxUpload) {
        return StagingBuffer.onHeap(this, length, encoding, maxUpload);
    }

    /** Releases what {@link #allocStagingHook} allocated. */
    protected void freeStagingHook(StagingBuffer buffer) { }

    /**
     * Copies dst.size() values from src at first into dst (contiguous, checked to fit). By default
     * widens them to float on the host and calls {@link #uploadHook}.
     */
    protected void uploadStagedHook(StagingBuffer src, long first, Tensor dst) {
        float[] values = new float[Math.toIntExact(dst.size())];
        for (int i = 0; i < values.length; i++) {
            values[i] = src.value(first + i);
        }
        uploadHook(values, dst);
    }

    protected abstract void gemmHook(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c);

    protected abstract void fillHook(Tensor x, float value);

    protected abstract void copyHook(Tensor src, Tensor dst);

    protected abstract void axpyHook(float alpha, Tensor x, Tensor y);

    protected abstract void scaleHook(float alpha, Tensor x);

    protected abstract void biasTanhHook(Tensor x, Tensor bias);

    protected abstract void tanhBackwardHook(Tensor a, Tensor da);

    /** Unfused by default: the recurrent GEMM, then bias+tanh. Operands are checked. */
    protected void tanhStepForwardHook(Tensor hPrev, Tensor waa, Tensor bias, Tensor pre) {
        gemmHook(false, hPrev, true, waa, 1f, 1f, pre);
        biasTanhHook(pre, bias);
    }

    /** By default two launches: da = (1 − a²)·(da + dnext) in one kernel, then dnext = da·Waa. Operands are checked. */
    protected void tanhStepBackwardHook(Tensor a, Tensor waa, Tensor da, Tensor dnext) {
        tanhCellBackwardHook(a, dnext, da);
        gemmHook(false, da, false, waa, 1f, 0f, dnext);
    }

    protected abstract void tanhCellBackwardHook(Tensor a, Tensor dnext, Tensor da);

    protected abstract void lstmCellForwardHook(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c,
                                                Tensor h);

    protected abstract void lstmCellBackwardHook(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext,
                                                 Tensor dc);

    protected abstract void gruCellForwardHook(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev,
                                               Tensor hn, Tensor h);

    protected abstract void gruCellBackwardHook(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext,
                                                Tensor dgatesHh);

    /** By default the recurrent GEMM, then the pointwise kernel. Operands are checked. */
    protected void lstmStepForwardHook(Tensor hPrev, Tensor cPrev, Tensor whh, Tensor biasIh, Tensor biasHh,
                                       Tensor gates, Tensor c, Tensor h) {
        gemmHook(false, hPrev, true, whh, 1f, 1f, gates);
        lstmCellForwardHook(gates, biasIh, biasHh, cPrev, c, h);
    }

    /** By default the pointwise kernel, then the recurrent GEMM dnext = dgates·W_hh. Operands are checked. */
    protected void lstmStepBackwardHook(Tensor gates, Tensor cPrev, Tensor c, Tensor whh, Tensor dh, Tensor dc,
                                        Tensor dnext) {
        lstmCellBackwardHook(gates, cPrev, c, dh, dnext, dc);
        gemmHook(false, gates, false, whh, 1f, 0f, dnext);
    }

    /** By default the recurrent GEMM into hh, then the pointwise kernel. Operands are checked. */
    protected void gruStepForwardHook(Tensor hPrev, Tensor whh, Tensor biasIh, Tensor biasHh, Tensor gates, Tensor hh,
                                      Tensor hn, Tensor h) {
        gemmHook(false, hPrev, true, whh, 1f, 0f, hh);
        gruCellForwardHook(gates, hh, biasIh, biasHh, hPrev, hn, h);
    }

    /** By default the pointwise kernel, then dnext += dgatesHh·W_hh. Operands are checked. */
    protected void gruStepBackwardHook(Tensor gates, Tensor hn, Tensor hPrev, Tensor whh, Tensor dh, Tensor dgatesHh,
                                       Tensor dnext) {
        gruCellBackwardHook(gates, hn, hPrev, dh, dnext, dgatesHh);
        gemmHook(false, dgatesHh, false, whh, 1f, 1f, dnext);
    }

    protected abstract void sumRowsHook(Tensor x, float beta, Tensor out);

    protected abstract void softmaxCrossEntropyHook(Tensor logits, Tensor bias, Tensor targets, float gradScale,
                                                    Tensor dlogits, Tensor losses);

    protected abstract void meanSquaredErrorHook(Tensor predictions, Tensor bias, Tensor targets, Tensor mask,
                                                 float gradScale, Tensor dpredictions, Tensor losses);

    protected abstract void gatherColumnsHook(Tensor ids, Tensor table, Tensor out);

    protected abstract void scatterAddColumnsHook(Tensor ids, Tensor grad, Tensor tableGrad);

    protected abstract double sumOfSquaresHook(Tensor x);

    protected abstract void sgdUpdateHook(Tensor param, Tensor grad, float lr, float gradScale);

    protected abstract void adamUpdateHook(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1,
                                           float beta2, float eps, int step, float gradScale);

    protected abstract void adagradUpdateHook(Tensor param, Tensor grad, Tensor cache, float lr, float eps,
                                              float gradScale);

    // ---- memory ----------------------------------------------------------------------------

    @Override
    public final Tensor alloc(int rows, int cols) {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("cannot allocate a (" + rows + "," + cols + ") tensor");
        }
        long floats = Math.max(1L, (long) rows * cols);
        if (floats > maxTensorFloats()) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "a (%d,%d) tensor of %,d floats (%.1f GiB) exceeds the %,d floats one tensor holds on %s;"
                            + " use a smaller --batch, --seq-len, --hidden or --layers",
                    rows, cols, floats, floats * (double) Float.BYTES / (1L << 30), maxTensorFloats(), name()));
        }
        return new Tensor(allocCounted(floats), 0, rows, cols, Math.max(cols, 1));
    }

    /**
     * Device memory counted in {@link #allocatedBytes} like a tensor's: for a backend's own
     * scratch that grows with what it serves (a staging buffer's device side).
     */
    protected final DeviceMemory allocCounted(long floats) {
        DeviceMemory memory = allocMemory(floats);
        allocated += floats * Float.BYTES;
        peak = Math.max(peak, allocated);
        live.put(memory, floats);
        return memory;
    }

    /** Frees what {@link #allocCounted} returned. */
    protected final void freeCounted(DeviceMemory memory) {
        Long floats = live.remove(memory);
        if (floats == null) {
            throw new IllegalArgumentException("free of memory that is not allocated (freed twice?) on " + name());
        }
        allocated -= floats * Float.BYTES;
        freeMemory(memory);
    }

    @Override
    public final void free(Tensor root) {
        own(root, "free");
        if (root.offset() != 0) {
            throw new IllegalArgumentException("free takes the tensor alloc returned, not a view " + root.describe());
        }
        freeCounted(root.memory());
    }

    @Override
    public final void upload(float[] src, Tensor dst) {
        own(dst, "upload");
        contiguous(dst, "upload");
        if (src.length != dst.size()) {
            throw new IllegalArgumentException("upload of " + src.length + " values into " + dst.shape()
                    + " which holds " + dst.size());
        }
        uploadHook(src, dst);
    }

    @Override
    public final float[] download(Tensor src) {
        own(src, "download");
        contiguous(src, "download");
        return downloadHook(src);
    }

    @Override
    public void uploadDoubles(double[] src, Tensor dst) {
        float[] f = new float[src.length];
        for (int i = 0; i < src.length; i++) {
            f[i] = (float) src[i];
        }
        upload(f, dst);
    }

    @Override
    public double[] downloadDoubles(Tensor src) {
        float[] f = download(src);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @Override
    public final long allocatedBytes() { return allocated; }

    @Override
    public final long peakAllocatedBytes() { return peak; }

    @Override
    public final void resetPeak() {
        peak = allocated;
        stagedPeak = staged;
    }

    /** The sizes in floats of every allocation alive now, in no particular order: what the memory plan is checked against. */
    public final List<Long> liveAllocationFloats() {
        return live.values().stream().toList();
    }

    // ---- host staging ----------------------------------------------------------------------

    @Override
    public final StagingBuffer allocStaging(long length, StagingBuffer.Encoding encoding, int maxUpload) {
        if (length < 1 || maxUpload < 1 || maxUpload > length) {
            throw new IllegalArgumentException("a staging buffer needs 1 <= maxUpload <= length, got length " + length
                    + ", maxUpload " + maxUpload);
        }
        if (length > MAX_STAGING_BYTES / encoding.bytes) {
            throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                    "a window of %,d %s values (%.1f GiB) exceeds the 2 GiB one host staging buffer holds;"
                            + " use a smaller --batch or --seq-len", length, encoding,
                    length * (double) encoding.bytes / (1L << 30)));
        }
        StagingBuffer buffer = allocStagingHook(length, encoding, maxUpload);
        liveStaging.add(buffer);
        staged += buffer.byteSize();
        stagedPeak = Math.max(stagedPeak, staged);
        return buffer;
    }

    @Override
    public final void freeStaging(StagingBuffer buffer) {
        if (!liveStaging.remove(buffer)) {
            throw new IllegalArgumentException("freeStaging: not a live staging buffer of " + name());
        }
        staged -= buffer.byteSize();
        freeStagingHook(buffer);
    }

    @Override
    public final void uploadStaged(StagingBuffer src, long first, Tensor dst) {
        own(dst, "uploadStaged");
        contiguous(dst, "uploadStaged");
        if (!liveStaging.contains(src)) {
            throw new IllegalArgumentException("uploadStaged: not a live staging buffer of " + name());
        }
        if (dst.size() > src.maxUpload() || first < 0 || first + dst.size() > src.length()) {
            throw new IllegalArgumentException("uploadStaged of " + dst.size() + " values from " + first
                    + " of a staging buffer of " + src.length() + " (at most " + src.maxUpload() + " per upload)");
        }
        uploadStagedHook(src, first, dst);
    }

    @Override
    public final long stagingBytes() { return staged; }

    @Override
    public final long peakStagingBytes() { return stagedPeak; }

    // ---- checked ops -----------------------------------------------------------------------

    @Override
    public final void gemm(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        own(a, "gemm A");
        own(b, "gemm B");
        own(c, "gemm C");
        int m = transA ? a.cols() : a.rows();
        int ka = transA ? a.rows() : a.cols();
        int kb = transB ? b.cols() : b.rows();
        int n = transB ? b.rows() : b.cols();
        if (ka != kb || c.rows() != m || c.cols() != n) {
            throw new IllegalArgumentException("gemm shapes do not fit: op(A)" + (transA ? "=A^T" : "=A") + " of A"
                    + a.shape() + " times op(B)" + (transB ? "=B^T" : "=B") + " of B" + b.shape()
                    + " gives (" + m + "," + n + ") with inner " + ka + " vs " + kb + ", but C is " + c.shape());
        }
        if (c.overlaps(a) || c.overlaps(b)) {
            throw new IllegalArgumentException("gemm output C" + c.describe() + " overlaps an input");
        }
        gemmHook(transA, a, transB, b, alpha, beta, c);
    }

    @Override
    public final void fill(Tensor x, float value) {
        elementwise("fill", x);
        fillHook(x, value);
    }

    @Override
    public final void copy(Tensor src, Tensor dst) {
        elementwise("copy", src, dst);
        sameShape("copy", src, dst);
        noOverlap("copy", src, dst);
        copyHook(src, dst);
    }

    @Override
    public final void axpy(float alpha, Tensor x, Tensor y) {
        elementwise("axpy", x, y);
        sameShape("axpy", x, y);
        noOverlap("axpy", x, y);
        axpyHook(alpha, x, y);
    }

    @Override
    public final void scale(float alpha, Tensor x) {
        elementwise("scale", x);
        scaleHook(alpha, x);
    }

    @Override
    public final void biasTanh(Tensor x, Tensor bias) {
        elementwise("biasTanh", x, bias);
        rowVector("biasTanh bias", bias, x.cols());
        noOverlap("biasTanh", x, bias);
        biasTanhHook(x, bias);
    }

    @Override
    public final void tanhBackward(Tensor a, Tensor da) {
        elementwise("tanhBackward", a, da);
        sameShape("tanhBackward", a, da);
        noOverlap("tanhBackward", a, da);
        tanhBackwardHook(a, da);
    }

    @Override
    public final void tanhStepForward(Tensor hPrev, Tensor waa, Tensor bias, Tensor pre) {
        elementwise("tanhStepForward", hPrev, waa, bias, pre);
        sameShape("tanhStepForward hPrev", hPrev, pre);
        square("tanhStepForward waa", waa, pre.cols());
        rowVector("tanhStepForward bias", bias, pre.cols());
        noOverlap("tanhStepForward", pre, hPrev, waa, bias);
        tanhStepForwardHook(hPrev, waa, bias, pre);
    }

    @Override
    public final void tanhStepBackward(Tensor a, Tensor waa, Tensor da, Tensor dnext) {
        elementwise("tanhStepBackward", a, waa, da, dnext);
        sameShape("tanhStepBackward da", a, da);
        sameShape("tanhStepBackward dnext", a, dnext);
        square("tanhStepBackward waa", waa, a.cols());
        noOverlap("tanhStepBackward", da, a, waa, dnext);
        noOverlap("tanhStepBackward", dnext, a, waa);
        tanhStepBackwardHook(a, waa, da, dnext);
    }

    @Override
    public final void tanhCellBackward(Tensor a, Tensor dnext, Tensor da) {
        elementwise("tanhCellBackward", a, dnext, da);
        sameShape("tanhCellBackward dnext", a, dnext);
        sameShape("tanhCellBackward da", a, da);
        noOverlap("tanhCellBackward", da, a, dnext);
        tanhCellBackwardHook(a, dnext, da);
    }

    @Override
    public final void lstmCellForward(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h) {
        checkLstmForward("lstmCellForward", gates, biasIh, biasHh, cPrev, c, h);
        lstmCellForwardHook(gates, biasIh, biasHh, cPrev, c, h);
    }

    @Override
    public final void lstmCellBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc) {
        checkLstmBackward("lstmCellBackward", gates, cPrev, c, dh, dnext, dc);
        lstmCellBackwardHook(gates, cPrev, c, dh, dnext, dc);
    }

    @Override
    public final void lstmStepForward(Tensor hPrev, Tensor cPrev, Tensor whh, Tensor biasIh, Tensor biasHh,
                                      Tensor gates, Tensor c, Tensor h) {
        checkLstmForward("lstmStepForward", gates, biasIh, biasHh, cPrev, c, h);
        recurrent("lstmStepForward", hPrev, whh, 4, h);
        noOverlap("lstmStepForward", gates, hPrev, whh);
        noOverlap("lstmStepForward", c, hPrev, whh);
        noOverlap("lstmStepForward", h, hPrev, whh);
        lstmStepForwardHook(hPrev, cPrev, whh, biasIh, biasHh, gates, c, h);
    }

    @Override
    public final void lstmStepBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor whh, Tensor dh, Tensor dc,
                                       Tensor dnext) {
        checkLstmBackward("lstmStepBackward", gates, cPrev, c, dh, dnext, dc);
        recurrent("lstmStepBackward", dnext, whh, 4, dnext);
        noOverlap("lstmStepBackward", whh, gates, dc, dnext);
        lstmStepBackwardHook(gates, cPrev, c, whh, dh, dc, dnext);
    }

    @Override
    public final void gruCellForward(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn,
                                     Tensor h) {
        checkGruForward("gruCellForward", gates, hh, biasIh, biasHh, hPrev, hn, h);
        gruCellForwardHook(gates, hh, biasIh, biasHh, hPrev, hn, h);
    }

    @Override
    public final void gruCellBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext,
                                      Tensor dgatesHh) {
        checkGruBackward("gruCellBackward", gates, hn, hPrev, dh, dnext, dgatesHh);
        gruCellBackwardHook(gates, hn, hPrev, dh, dnext, dgatesHh);
    }

    @Override
    public final void gruStepForward(Tensor hPrev, Tensor whh, Tensor biasIh, Tensor biasHh, Tensor gates, Tensor hh,
                                     Tensor hn, Tensor h) {
        checkGruForward("gruStepForward", gates, hh, biasIh, biasHh, hPrev, hn, h);
        recurrent("gruStepForward", hPrev, whh, 3, h);
        noOverlap("gruStepForward", hh, hPrev, whh, biasIh, biasHh);
        noOverlap("gruStepForward", whh, gates, hn, h);
        gruStepForwardHook(hPrev, whh, biasIh, biasHh, gates, hh, hn, h);
    }

    @Override
    public final void gruStepBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor whh, Tensor dh, Tensor dgatesHh,
                                      Tensor dnext) {
        checkGruBackward("gruStepBackward", gates, hn, hPrev, dh, dnext, dgatesHh);
        recurrent("gruStepBackward", dnext, whh, 3, dnext);
        noOverlap("gruStepBackward", whh, gates, dgatesHh, dnext);
        gruStepBackwardHook(gates, hn, hPrev, whh, dh, dgatesHh, dnext);
    }

    /** gates (B,4H), biases (1,4H), cPrev, c, h (B,H); c and h written, gates in place. */
    private void checkLstmForward(String op, Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c,
                                  Tensor h) {
        elementwise(op, gates, biasIh, biasHh, cPrev, c, h);
        gateShape(op + " gates", gates, 4, cPrev);
        rowVector(op + " biasIh", biasIh, gates.cols());
        rowVector(op + " biasHh", biasHh, gates.cols());
        sameShape(op + " c", cPrev, c);
        sameShape(op + " h", cPrev, h);
        noOverlap(op, gates, biasIh, biasHh, cPrev, c, h);
        noOverlap(op, c, biasIh, biasHh, cPrev, h);
        noOverlap(op, h, biasIh, biasHh, cPrev);
    }

    /** gates (B,4H) in place; cPrev, c, dh, dnext read; dc in place, all (B,H). */
    private void checkLstmBackward(String op, Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext,
                                   Tensor dc) {
        elementwise(op, gates, cPrev, c, dh, dnext, dc);
        gateShape(op + " gates", gates, 4, c);
        sameShape(op + " cPrev", c, cPrev);
        sameShape(op + " dh", c, dh);
        sameShape(op + " dnext", c, dnext);
        sameShape(op + " dc", c, dc);
        noOverlap(op, gates, cPrev, c, dh, dnext, dc);
        noOverlap(op, dc, cPrev, c, dh, dnext);
    }

    /** gates, hh (B,3H); biases (1,3H); hPrev, hn, h (B,H); gates in place, hn and h written. */
    private void checkGruForward(String op, Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev,
                                 Tensor hn, Tensor h) {
        elementwise(op, gates, hh, biasIh, biasHh, hPrev, hn, h);
        gateShape(op + " gates", gates, 3, hPrev);
        sameShape(op + " hh", gates, hh);
        rowVector(op + " biasIh", biasIh, gates.cols());
        rowVector(op + " biasHh", biasHh, gates.cols());
        sameShape(op + " hn", hPrev, hn);
        sameShape(op + " h", hPrev, h);
        noOverlap(op, gates, hh, biasIh, biasHh, hPrev, hn, h);
        noOverlap(op, hn, hh, biasIh, biasHh, hPrev, h);
        noOverlap(op, h, hh, biasIh, biasHh, hPrev);
    }

    /** gates, dgatesHh (B,3H); hn, hPrev, dh, dnext (B,H); gates and dnext in place, dgatesHh written. */
    private void checkGruBackward(String op, Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext,
                                  Tensor dgatesHh) {
        elementwise(op, gates, hn, hPrev, dh, dnext, dgatesHh);
        gateShape(op + " gates", gates, 3, hPrev);
        sameShape(op + " dgatesHh", gates, dgatesHh);
        sameShape(op + " hn", hPrev, hn);
        sameShape(op + " dh", hPrev, dh);
        sameShape(op + " dnext", hPrev, dnext);
        noOverlap(op, gates, hn, hPrev, dh, dnext, dgatesHh);
        noOverlap(op, dgatesHh, hn, hPrev, dh, dnext);
        noOverlap(op, dnext, hn, hPrev, dh);
    }

    /** (B, G·H) gates of a (B, H) state. */
    private static void gateShape(String what, Tensor gates, int g, Tensor state) {
        if (gates.rows() != state.rows() || gates.cols() != (long) g * state.cols()) {
            throw new IllegalArgumentException(what + " must be (" + state.rows() + "," + (long) g * state.cols()
                    + ") for a " + state.shape() + " state, got " + gates.shape());
        }
    }

    /** A (B,H) state times W_hh (G·H, H), landing in a (B,H) tensor. */
    private void recurrent(String op, Tensor state, Tensor whh, int g, Tensor out) {
        elementwise(op, state, whh);
        if (whh.rows() != (long) g * out.cols() || whh.cols() != out.cols()) {
            throw new IllegalArgumentException(op + " whh must be (" + (long) g * out.cols() + "," + out.cols()
                    + "), got " + whh.shape());
        }
        sameShape(op + " state", state, out);
    }

    @Override
    public final void sumRows(Tensor x, float beta, Tensor out) {
        elementwise("sumRows", x, out);
        rowVector("sumRows out", out, x.cols());
        noOverlap("sumRows", x, out);
        sumRowsHook(x, beta, out);
    }

    @Override
    public final void softmaxCrossEntropy(Tensor logits, Tensor bias, Tensor targets, float gradScale,
                                          Tensor dlogits, Tensor losses) {
        elementwise("softmaxCrossEntropy", logits, bias, targets, dlogits, losses);
        rowVector("softmaxCrossEntropy bias", bias, logits.cols());
        column("softmaxCrossEntropy targets", targets, logits.rows());
        column("softmaxCrossEntropy losses", losses, logits.rows());
        sameShape("softmaxCrossEntropy dlogits", logits, dlogits);
        inPlaceOrApart("softmaxCrossEntropy dlogits must be the logits", logits, dlogits);
        noOverlap("softmaxCrossEntropy", losses, logits, dlogits, bias, targets);
        noOverlap("softmaxCrossEntropy", bias, dlogits);
        softmaxCrossEntropyHook(logits, bias, targets, gradScale, dlogits, losses);
    }

    @Override
    public final void meanSquaredError(Tensor predictions, Tensor bias, Tensor targets, Tensor mask, float gradScale,
                                       Tensor dpredictions, Tensor losses) {
        elementwise("meanSquaredError", predictions, bias, targets, mask, dpredictions, losses);
        rowVector("meanSquaredError bias", bias, predictions.cols());
        sameShape("meanSquaredError targets", predictions, targets);
        column("meanSquaredError mask", mask, predictions.rows());
        column("meanSquaredError losses", losses, predictions.rows());
        sameShape("meanSquaredError dpredictions", predictions, dpredictions);
        inPlaceOrApart("meanSquaredError dpredictions must be the predictions", predictions, dpredictions);
        noOverlap("meanSquaredError", losses, predictions, dpredictions, bias, targets, mask);
        noOverlap("meanSquaredError", bias, dpredictions, targets, mask);
        noOverlap("meanSquaredError", targets, dpredictions, mask);
        noOverlap("meanSquaredError", mask, dpredictions);
        meanSquaredErrorHook(predictions, bias, targets, mask, gradScale, dpredictions, losses);
    }

    @Override
    public final void gatherColumns(Tensor ids, Tensor table, Tensor out) {
        elementwise("gatherColumns", ids, table, out);
        column("gatherColumns ids", ids, out.rows());
        if (table.rows() != out.cols()) {
            throw new IllegalArgumentException("gatherColumns: table " + table.shape() + " has " + table.rows()
                    + " rows but out " + out.shape() + " has " + out.cols() + " columns");
        }
        noOverlap("gatherColumns", out, ids, table);
        gatherColumnsHook(ids, table, out);
    }

    @Override
    public final void scatterAddColumns(Tensor ids, Tensor grad, Tensor tableGrad) {
        elementwise("scatterAddColumns", ids, grad, tableGrad);
        column("scatterAddColumns ids", ids, grad.rows());
        if (tableGrad.rows() != grad.cols()) {
            throw new IllegalArgumentException("scatterAddColumns: tableGrad " + tableGrad.shape() + " has "
                    + tableGrad.rows() + " rows but grad " + grad.shape() + " has " + grad.cols() + " columns");
        }
        noOverlap("scatterAddColumns", tableGrad, ids, grad);
        scatterAddColumnsHook(ids, grad, tableGrad);
    }

    @Override
    public final double sumOfSquares(Tensor x) {
        elementwise("sumOfSquares", x);
        return sumOfSquaresHook(x);
    }

    @Override
    public final void sgdUpdate(Tensor param, Tensor grad, float lr, float gradScale) {
        elementwise("sgdUpdate", param, grad);
        sameShape("sgdUpdate", param, grad);
        noOverlap("sgdUpdate", param, grad);
        sgdUpdateHook(param, grad, lr, gradScale);
    }

    @Override
    public final void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                                 float eps, int step, float gradScale) {
        elementwise("adamUpdate", param, grad, m, v);
        sameShape("adamUpdate grad", param, grad);
        sameShape("adamUpdate m", param, m);
        sameShape("adamUpdate v", param, v);
        noOverlap("adamUpdate", param, grad, m, v);
        noOverlap("adamUpdate", grad, m, v);
        noOverlap("adamUpdate", m, v);
        if (step < 1) {
            throw new IllegalArgumentException("adamUpdate step counts from 1, got " + step);
        }
        adamUpdateHook(param, grad, m, v, lr, beta1, beta2, eps, step, gradScale);
    }

    @Override
    public final void adagradUpdate(Tensor param, Tensor grad, Tensor cache, float lr, float eps, float gradScale) {
        elementwise("adagradUpdate", param, grad, cache);
        sameShape("adagradUpdate grad", param, grad);
        sameShape("adagradUpdate cache", param, cache);
        noOverlap("adagradUpdate", param, grad, cache);
        noOverlap("adagradUpdate", grad, cache);
        adagradUpdateHook(param, grad, cache, lr, eps, gradScale);
    }

    // ---- checks ----------------------------------------------------------------------------

    private void own(Tensor t, String what) {
        if (t.memory().owner() != this) {
            throw new IllegalArgumentException(what + ": tensor " + t.describe() + " belongs to another backend ("
                    + t.memory().owner() + "), not " + name());
        }
    }

    private static void contiguous(Tensor t, String what) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(what + " needs a contiguous tensor, got " + t.describe());
        }
    }

    private void elementwise(String op, Tensor... ts) {
        for (Tensor t : ts) {
            own(t, op);
            contiguous(t, op);
        }
    }

    private static void sameShape(String op, Tensor a, Tensor b) {
        if (a.rows() != b.rows() || a.cols() != b.cols()) {
            throw new IllegalArgumentException(op + ": shapes differ, " + a.shape() + " vs " + b.shape());
        }
    }

    private static void square(String what, Tensor t, int n) {
        if (t.rows() != n || t.cols() != n) {
            throw new IllegalArgumentException(what + " must be (" + n + "," + n + "), got " + t.shape());
        }
    }

    private static void rowVector(String what, Tensor t, int cols) {
        if (t.rows() != 1 || t.cols() != cols) {
            throw new IllegalArgumentException(what + " must be (1," + cols + "), got " + t.shape());
        }
    }

    private static void column(String what, Tensor t, int rows) {
        if (t.cols() != 1 || t.rows() != rows) {
            throw new IllegalArgumentException(what + " must be (" + rows + ",1), got " + t.shape());
        }
    }

    /** A gradient written over its input: the very same elements, or none of them. */
    private static void inPlaceOrApart(String what, Tensor in, Tensor out) {
        if (out != in && out.overlaps(in) && !(out.offset() == in.offset() && out.memory() == in.memory())) {
            throw new IllegalArgumentException(what + " or apart from them");
        }
    }

    private static void noOverlap(String op, Tensor first, Tensor... others) {
        for (Tensor o : others) {
            if (o != first && first.overlaps(o)) {
                throw new IllegalArgumentException(op + ": " + first.describe() + " overlaps " + o.describe());
            }
        }
    }

    @Override
    public String toString() { return name(); }
}
