// CpuBackend: the fast CPU backend. GEMM in OpenBLAS on native memory, fused ops in threaded Java.
package bptt.backend.cpu;

import bptt.backend.AbstractBackend;
import bptt.backend.GemmPlan;
import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * Tensors live in native memory ({@link CpuMemory}); every GEMM is the single OpenBLAS call
 * that {@link GemmPlan} describes, on the tensors' addresses. The elementwise and reduction
 * ops run in Java over a persistent {@link WorkerPool}: large ops are split over the cores,
 * small ones (a step of a small batch) stay on the calling thread. Data is moved through
 * per-thread float[] chunks so that the inner loops run on arrays, which C2 vectorises.
 *
 * <p>Determinism: elementwise ops write each element from its own inputs only; reductions
 * ({@link #sumRows}, {@link #sumOfSquares}, {@link #scatterAddColumns}) add in a fixed order
 * that does not depend on the split, so the Java kernels give bitwise the same results for
 * any thread count. sumRows and sumOfSquares accumulate in double like cpu-ref; scatter-add
 * rounds to float after each addition in row order, exactly as cpu-ref stores it. OpenBLAS
 * is reproducible run to run for a fixed OpenBLAS thread count (its results change with that
 * count). Nothing is allocated per call once scratch arrays have grown to the largest shape
 * seen (measured: 0 bytes per recurrent step).
 *
 * <p>OpenBLAS's thread count is process-wide: the last CpuBackend opened sets it.
 */
public final class CpuBackend extends AbstractBackend {
    /** Elements per chunk moved between native memory and the per-thread arrays. */
    private static final int CHUNK = 2048;
    /** Minimum elements per thread for cheap (memory-bound) ops. */
    private static final int GRAIN_CHEAP = 1 << 18;
    /** Minimum elements per thread for ops with real arithmetic per element (tanh, exp). */
    private static final int GRAIN_MATH = 1 << 17;
    /** Elements per partial sum of sumOfSquares: fixed, so the sum does not depend on threads. */
    private static final int SQUARES_BLOCK = 1 << 14;

    private final WorkerPool pool;
    private final Scratch[] scratch;
    private final OpenBlas.Address pa = new OpenBlas.Address();
    private final OpenBlas.Address pb = new OpenBlas.Address();
    private final OpenBlas.Address pc = new OpenBlas.Address();
    private final Kernel kernel = new Kernel();
    private final CellKernels cells = new CellKernels();
    private final int blasThreads;
    private int[] ids = new int[0];
    private float[] table = new float[0];
    private double[] partials = new double[0];

    /** Per-thread scratch, grown on demand and then reused. */
    private static final class Scratch {
        float[] s0 = new float[CHUNK];
        float[] s1 = new float[CHUNK];
        float[] s2 = new float[CHUNK];
        float[] s3 = new float[CHUNK];
        float[] row = new float[0];
        float[] row2 = new float[0];
        double[] acc = new double[0];

        float[] row(int n) {
            if (row.length < n) {
                row = new float[n];
            }
            return row;
        }

        float[] row2(int n) {
            if (row2.length < n) {
                row2 = new float[n];
            }
            return row2;
        }

        double[] acc(int n) {
            if (acc.length < n) {
                acc = new double[n];
            }
            return acc;
        }
    }

    /** Opens the backend with {@code threads} Java threads and as many OpenBLAS threads. */
    public CpuBackend(int threads) { this(threads, threads); }

    /**
     * Opens the backend with {@code javaThreads} for the Java kernels and sets OpenBLAS, which
     * is process-wide, to {@code blasThreads}. Throws {@link IllegalStateException} if the
     * OpenBLAS natives cannot load.
     */
    public CpuBackend(int javaThreads, int blasThreads) {
        String failure = OpenBlas.load();
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
        int n = Math.max(1, javaThreads);
        OpenBlas.setThreads(Math.max(1, blasThreads));
        this.blasThreads = OpenBlas.threads();
        this.pool = new WorkerPool(n);
        this.scratch = new Scratch[n];
        for (int i = 0; i < n; i++) {
            scratch[i] = new Scratch();
        }
    }

    /** One thread per available processor. */
    public CpuBackend() { this(Runtime.getRuntime().availableProcessors()); }

    /** Null when OpenBLAS can load here, else the reason it cannot. */
    public static String unavailableReason() { return OpenBlas.load(); }

    @Override
    public String name() { return "cpu"; }

    @Override
    public String deviceDescription() {
        return "OpenBLAS (" + blasThreads + " threads) + Java kernels (" + pool.threads() + " threads), "
                + System.getProperty("os.arch");
    }

    // ---- memory ----------------------------------------------------------------------------

    private static CpuMemory mem(Tensor t) { return (CpuMemory) t.memory(); }

    private static FloatBuffer buf(Tensor t) { return mem(t).buffer; }

    private static int off(Tensor t) { return (int) t.offset(); }

    private static long addr(Tensor t) { return mem(t).address + t.offset() * Float.BYTES; }

    /** A direct FloatBuffer, which the Java kernels index, spans at most 2 GiB. */
    @Override
    public long maxTensorFloats() { return CpuMemory.MAX_FLOATS; }

    /**
     * Native memory: JavaCPP refuses allocations past its maxBytes (by default the JVM's -Xmx) and
     * maxPhysicalBytes (resident set), and the machine has only so much free.
     */
    @Override
    public long availableBytes() {
        long free = org.bytedeco.javacpp.Pointer.availablePhysicalBytes();  // 0 where the platform cannot tell
        long left = free > 0 ? free : Long.MAX_VALUE;
        long max = org.bytedeco.javacpp.Pointer.maxBytes();
        if (max > 0) {
            left = Math.min(left, max - org.bytedeco.javacpp.Pointer.totalBytes());
        }
        long physical = org.bytedeco.javacpp.Pointer.maxPhysicalBytes();
        if (physical > 0) {
            left = Math.min(left, physical - org.bytedeco.javacpp.Pointer.physicalBytes());
        }
        return Math.max(0, left);
    }

    @Override
    protected DeviceMemory allocMemory(long floats) { return new CpuMemory(this, floats); }

    @Override
    protected void freeMemory(DeviceMemory memory) { ((CpuMemory) memory).release(); }

    @Override
    protected void uploadHook(float[] src, Tensor dst) { buf(dst).put(off(dst), src, 0, src.length); }

    @Override
    protected float[] downloadHook(Tensor src) {
        float[] out = new float[(int) src.size()];
        buf(src).get(off(src), out, 0, out.length);
        return out;
    }

    // ---- GEMM ------------------------------------------------------------------------------

    @Override
    protected void gemmHook(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        GemmPlan.Call p = GemmPlan.plan(transA, a, transB, b, alpha, beta, c);
        if (p.m() == 0 || p.n() == 0) {
            return;
        }
        if (p.k() == 0 || alpha == 0f) {
            scaleMatrix(c, beta);
            return;
        }
        if (beta == 0f && (p.m() == 1 || p.n() == 1)) {
            scaleMatrix(c, 0f);
        }
        OpenBlas.sgemm(p, pa.at(addr(p.a())), pb.at(addr(p.b())), pc.at(addr(p.c())));
    }

    /** C = beta·C (0 when beta is 0, whatever C held), row by row since C may be a strided view. */
    private void scaleMatrix(Tensor c, float beta) {
        FloatBuffer cb = buf(c);
        for (int r = 0; r < c.rows(); r++) {
            int base = off(c) + r * c.ld();
            for (int j = 0; j < c.cols(); j++) {
                cb.put(base + j, beta == 0f ? 0f : beta * cb.get(base + j));
            }
        }
    }

    // ---- elementwise -----------------------------------------------------------------------

    /** The op codes of {@link Kernel}. */
    private static final int FILL = 0, AXPY = 1, SCALE = 2, BIAS_TANH = 3, TANH_BACKWARD = 4, SUM_ROWS = 5,
            SOFTMAX_CE = 6, GATHER = 7, SCATTER_ADD = 8, SQUARES = 9, SGD = 10, ADAM = 11, ADAGRAD = 12;

    /**
     * One reusable task for every op: the op's operands are set in fields, then the pool runs
     * it over a range whose unit depends on the op (elements, rows, columns or blocks).
     */
    private final class Kernel implements WorkerPool.Task {
        int op;
        FloatBuffer x, y, z, w;  // operands, meaning per op
        int xo, yo, zo, wo;      // their element offsets
        int rows, cols;          // the matrix shape, where the op has one
        float f0, f1, f2, f3;    // scalar arguments
        double d0, d1;           // scalar arguments computed in double

        void start(int code, int units, int grain) {
            op = code;
            pool.run(this, units, grain);
        }

        @Override
        public void run(int worker, int from, int to) {
            Scratch s = scratch[worker];
            switch (op) {
                case FILL -> fillRange(s, from, to);
                case AXPY, SCALE, TANH_BACKWARD, SGD, ADAM, ADAGRAD -> streamRange(s, from, to);
                case BIAS_TANH -> biasTanhRows(s, from, to);
                case SUM_ROWS -> sumRowsColumns(s, from, to);
                case SOFTMAX_CE -> softmaxRows(s, from, to);
                case GATHER -> gatherRows(from, to);
                case SCATTER_ADD -> scatterColumns(s, from, to);
                case SQUARES -> squareBlocks(s, from, to);
                default -> throw new IllegalStateException("unknown op " + op);
            }
        }

        private void fillRange(Scratch s, int from, int to) {
            float[] a = s.s0;
            java.util.Arrays.fill(a, f0);
            for (int i = from; i < to; i += CHUNK) {
                int n = Math.min(CHUNK, to - i);
                x.put(xo + i, a, 0, n);
            }
        }

        /** The flat elementwise ops, chunk by chunk through the scratch arrays. */
        private void streamRange(Scratch s, int from, int to) {
            float[] a = s.s0, b = s.s1, c = s.s2, d = s.s3;
            for (int i = from; i < to; i += CHUNK) {
                int n = Math.min(CHUNK, to - i);
                switch (op) {
                    case AXPY -> {              // y += f0·x
                        x.get(xo + i, a, 0, n);
                        y.get(yo + i, b, 0, n);
                        Loops.axpy(f0, a, b, n);
                        y.put(yo + i, b, 0, n);
                    }
                    case SCALE -> {             // x = f0·x
                        x.get(xo + i, a, 0, n);
                        Loops.scale(f0, a, n);
                        x.put(xo + i, a, 0, n);
                    }
                    case TANH_BACKWARD -> {     // y = (1 − x²)·y
                        x.get(xo + i, a, 0, n);
                        y.get(yo + i, b, 0, n);
                        Loops.tanhBackward(a, b, n);
                        y.put(yo + i, b, 0, n);
                    }
                    case SGD -> {               // x = x − d0·y
                        x.get(xo + i, a, 0, n);
                        y.get(yo + i, b, 0, n);
                        Loops.sgd(a, b, d0, n);
                        x.put(xo + i, a, 0, n);
                    }
                    case ADAM -> {              // x param, y grad, z m, w v
                        x.get(xo + i, a, 0, n);
                        y.get(yo + i, b, 0, n);
                        z.get(zo + i, c, 0, n);
                        w.get(wo + i, d, 0, n);
                        Loops.adam(a, b, c, d, n, f0, f1, f2, f3, d0, d1);
                        x.put(xo + i, a, 0, n);
                        z.put(zo + i, c, 0, n);
                        w.put(wo + i, d, 0, n);
                    }
                    case ADAGRAD -> {           // x param, y grad, z cache
                        x.get(xo + i, a, 0, n);
                        y.get(yo + i, b, 0, n);
                        z.get(zo + i, c, 0, n);
                        Loops.adagrad(a, b, c, n, f0, f1, f2);
                        x.put(xo + i, a, 0, n);
                        z.put(zo + i, c, 0, n);
                    }
                    default -> throw new IllegalStateException("not a streaming op " + op);
                }
            }
        }

        /**
         * x (rows, cols) = tanh(x + bias y (1, cols)) for rows [from, to), a whole row at a time:
         * both arrays are indexed from 0, which C2's vectoriser needs (with an offset into the
         * bias it falls back to scalar code, 6x slower).
         */
        private void biasTanhRows(Scratch s, int from, int to) {
            float[] bias = s.row(cols);
            y.get(yo, bias, 0, cols);
            float[] a = s.row2(cols);
            for (int r = from; r < to; r++) {
                int at = xo + r * cols;
                x.get(at, a, 0, cols);
                Loops.biasTanh(a, bias, cols);
                x.put(at, a, 0, cols);
            }
        }

        /** out z (1, cols)[j] = f0·out[j] + Σ_r x[r, j] in row order, for columns [from, to). */
        private void sumRowsColumns(Scratch s, int from, int to) {
            int width = to - from;
            double[] acc = s.acc(width);
            java.util.Arrays.fill(acc, 0, width, 0.0);
            float[] a = s.row(width);
            for (int r = 0; r < rows; r++) {
                x.get(xo + r * cols + from, a, 0, width);
                for (int j = 0; j < width; j++) {
                    acc[j] += a[j];
                }
            }
            for (int j = 0; j < width; j++) {
                int oi = zo + from + j;
                z.put(oi, (float) (f0 == 0f ? acc[j] : f0 * z.get(oi) + acc[j]));
            }
        }

        /**
         * Rows [from, to) of softmax cross-entropy: x logits (rows, cols), y bias (1, cols),
         * ids[] targets, z dlogits (may be x), w losses (rows, 1), f0 gradScale.
         */
        private void softmaxRows(Scratch s, int from, int to) {
            double[] e = s.acc(2 * cols);
            float[] row = s.row(cols);
            for (int j = 0; j < cols; j++) {
                e[cols + j] = y.get(yo + j);
            }
            for (int r = from; r < to; r++) {
                int target = ids[r];
                if (target < 0) {
                    java.util.Arrays.fill(row, 0, cols, 0f);
                    z.put(zo + r * cols, row, 0, cols);
                    w.put(wo + r, 0f);
                    continue;
                }
                x.get(xo + r * cols, row, 0, cols);
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < cols; j++) {
                    double v = row[j] + e[cols + j];
                    e[j] = v;
                    max = Math.max(max, v);
                }
                double sum = 0;
                for (int j = 0; j < cols; j++) {
                    double v = Math.exp(e[j] - max);
                    sum += v;
                    e[j] = v;
                }
                double zTarget = row[target] + e[cols + target];
                w.put(wo + r, (float) (max + Math.log(sum) - zTarget));
                double inv = 1.0 / sum;
                for (int j = 0; j < cols; j++) {
                    row[j] = (float) ((e[j] * inv - (j == target ? 1 : 0)) * f0);
                }
                z.put(zo + r * cols, row, 0, cols);
            }
        }

        /** out z (rows, cols)[r] = column ids[r] of the table, taken from its transpose in {@code table}. */
        private void gatherRows(int from, int to) {
            for (int r = from; r < to; r++) {
                z.put(zo + r * cols, table, ids[r] * cols, cols);
            }
        }

        /**
         * Columns [from, to) of grad y (rows, cols) added into tableGrad z (cols, vocab) at
         * column ids[r], row by row in order; accumulated in {@code table} transposed (vocab, cols).
         */
        private void scatterColumns(Scratch s, int from, int to) {
            int vocab = (int) d0;
            for (int h = from; h < to; h++) {
                for (int v = 0; v < vocab; v++) {
                    table[v * cols + h] = z.get(zo + h * vocab + v);
                }
            }
            int width = to - from;
            float[] a = s.row(width);
            float[] acc = s.row2(width);
            for (int r = 0; r < rows; r++) {
                y.get(yo + r * cols + from, a, 0, width);
                int base = ids[r] * cols + from;
                System.arraycopy(table, base, acc, 0, width);
                Loops.add(acc, a, width);
                System.arraycopy(acc, 0, table, base, width);
            }
            for (int h = from; h < to; h++) {
                for (int v = 0; v < vocab; v++) {
                    z.put(zo + h * vocab + v, table[v * cols + h]);
                }
            }
        }

        /** partials[blk] = Σ x² over block blk of SQUARES_BLOCK elements (rows = element count). */
        private void squareBlocks(Scratch s, int from, int to) {
            float[] a = s.s0;
            for (int blk = from; blk < to; blk++) {
                int start = blk * SQUARES_BLOCK;
                int end = (int) Math.min((long) start + SQUARES_BLOCK, rows);
                double sum = 0;
                for (int i = start; i < end; i += CHUNK) {
                    int n = Math.min(CHUNK, end - i);
                    x.get(xo + i, a, 0, n);
                    sum += Loops.sumOfSquares(a, n);
                }
                partials[blk] = sum;
            }
        }
    }

    @Override
    protected void fillHook(Tensor x, float value) {
        if (value == 0f && Float.floatToRawIntBits(value) == 0) {
            org.bytedeco.javacpp.Pointer.memset(pa.at(addr(x)), 0, x.size() * Float.BYTES);
            return;
        }
        setX(x);
        kernel.f0 = value;
        kernel.start(FILL, (int) x.size(), GRAIN_CHEAP);
    }

    @Override
    protected void copyHook(Tensor src, Tensor dst) {
        buf(dst).put(off(dst), buf(src), off(src), (int) src.size());
    }

    @Override
    protected void axpyHook(float alpha, Tensor x, Tensor y) {
        setXY(x, y);
        kernel.f0 = alpha;
        kernel.start(AXPY, (int) x.size(), GRAIN_CHEAP);
    }

    @Override
    protected void scaleHook(float alpha, Tensor x) {
        setX(x);
        kernel.f0 = alpha;
        kernel.start(SCALE, (int) x.size(), GRAIN_CHEAP);
    }

    @Override
    protected void biasTanhHook(Tensor x, Tensor bias) {
        setXY(x, bias);
        kernel.rows = x.rows();
        kernel.cols = x.cols();
        kernel.start(BIAS_TANH, x.rows(), rowsPer(GRAIN_MATH, x.cols()));
    }

    @Override
    protected void tanhBackwardHook(Tensor a, Tensor da) {
        setXY(a, da);
        kernel.start(TANH_BACKWARD, (int) a.size(), GRAIN_CHEAP);
    }

    @Override
    protected void sumRowsHook(Tensor x, float beta, Tensor out) {
        setX(x);
        kernel.z = buf(out);
        kernel.zo = off(out);
        kernel.rows = x.rows();
        kernel.cols = x.cols();
        kernel.f0 = beta;
        kernel.start(SUM_ROWS, x.cols(), Math.max(16, (int) Math.min(Integer.MAX_VALUE,
                (long) GRAIN_CHEAP / Math.max(1, x.rows()))));
    }

    @Override
    protected void softmaxCrossEntropyHook(Tensor logits, Tensor bias, Tensor targets, float gradScale,
                                           Tensor dlogits, Tensor losses) {
        int v = logits.cols();
        int n = logits.rows();
        int[] t = ids(n);
        FloatBuffer tb = buf(targets);
        for (int r = 0; r < n; r++) {
            int target = (int) tb.get(off(targets) + r);
            if (target >= v) {
                throw new IllegalArgumentException("target " + target + " at row " + r + " is outside the vocabulary of " + v);
            }
            t[r] = target;
        }
        setXY(logits, bias);
        kernel.z = buf(dlogits);
        kernel.zo = off(dlogits);
        kernel.w = buf(losses);
        kernel.wo = off(losses);
        kernel.cols = v;
        kernel.f0 = gradScale;
        kernel.start(SOFTMAX_CE, n, rowsPer(GRAIN_MATH, v));
    }

    @Override
    protected void gatherColumnsHook(Tensor ids, Tensor table, Tensor out) {
        int h = table.rows(), v = table.cols();
        readIds(ids, out.rows(), v);
        float[] tt = table((long) h * v);
        FloatBuffer src = buf(table);
        float[] row = scratch[0].row(v);
        for (int i = 0; i < h; i++) {
            src.get(off(table) + i * v, row, 0, v);
            for (int j = 0; j < v; j++) {
                tt[j * h + i] = row[j];
            }
        }
        kernel.z = buf(out);
        kernel.zo = off(out);
        kernel.cols = h;
        kernel.start(GATHER, out.rows(), rowsPer(GRAIN_CHEAP, h));
    }

    @Override
    protected void scatterAddColumnsHook(Tensor ids, Tensor grad, Tensor tableGrad) {
        int h = grad.cols(), v = tableGrad.cols();
        readIds(ids, grad.rows(), v);
        table((long) h * v);
        kernel.y = buf(grad);
        kernel.yo = off(grad);
        kernel.z = buf(tableGrad);
        kernel.zo = off(tableGrad);
        kernel.rows = grad.rows();
        kernel.cols = h;
        kernel.d0 = v;
        kernel.start(SCATTER_ADD, h, Math.max(8, (int) Math.min(Integer.MAX_VALUE,
                (long) GRAIN_CHEAP / Math.max(1, grad.rows()))));
    }

    @Override
    protected double sumOfSquaresHook(Tensor x) {
        int n = (int) x.size();
        int blocks = (n + SQUARES_BLOCK - 1) / SQUARES_BLOCK;
        if (partials.length < blocks) {
            partials = new double[blocks];
        }
        setX(x);
        kernel.rows = n;
        kernel.start(SQUARES, blocks, Math.max(1, GRAIN_CHEAP / SQUARES_BLOCK));
        double sum = 0;
        for (int b = 0; b < blocks; b++) {
            sum += partials[b];
        }
        return sum;
    }

    @Override
    protected void sgdUpdateHook(Tensor param, Tensor grad, float lr, float gradScale) {
        setXY(param, grad);
        kernel.d0 = (double) lr * gradScale;
        kernel.start(SGD, (int) param.size(), GRAIN_CHEAP);
    }

    @Override
    protected void adamUpdateHook(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1,
                                  float beta2, float eps, int step, float gradScale) {
        setXY(param, grad);
        kernel.z = buf(m);
        kernel.zo = off(m);
        kernel.w = buf(v);
        kernel.wo = off(v);
        kernel.f0 = lr;
        kernel.f1 = beta1;
        kernel.f2 = beta2;
        kernel.f3 = eps;
        kernel.d0 = gradScale;
        kernel.d1 = step;
        kernel.start(ADAM, (int) param.size(), GRAIN_MATH);
    }

    @Override
    protected void adagradUpdateHook(Tensor param, Tensor grad, Tensor cache, float lr, float eps, float gradScale) {
        setXY(param, grad);
        kernel.z = buf(cache);
        kernel.zo = off(cache);
        kernel.f0 = lr;
        kernel.f1 = eps;
        kernel.f2 = gradScale;
        kernel.start(ADAGRAD, (int) param.size(), GRAIN_MATH);
    }

    private void setX(Tensor x) {
        kernel.x = buf(x);
        kernel.xo = off(x);
    }

    private void setXY(Tensor x, Tensor y) {
        setX(x);
        kernel.y = buf(y);
        kernel.yo = off(y);
    }

    /** Rows per part so that each part has about {@code grain} elements. */
    private static int rowsPer(int grain, int cols) { return Math.max(1, grain / Math.max(1, cols)); }

    private int[] ids(int n) {
        if (ids.length < n) {
            ids = new int[n];
        }
        return ids;
    }

    private float[] table(long n) {
        if (table.length < n) {
            table = new float[(int) n];
        }
        return table;
    }

    /** Reads token ids (n, 1) into {@link #ids}, checking each is an integer in [0, vocab). */
    private void readIds(Tensor idTensor, int n, int vocab) {
        int[] t = ids(n);
        FloatBuffer b = buf(idTensor);
        for (int r = 0; r < n; r++) {
            float value = b.get(off(idTensor) + r);
            int id = (int) value;
            if (id < 0 || id >= vocab || id != value) {
                throw new IllegalArgumentException("token id " + value + " at row " + r + " is not in [0," + vocab + ")");
            }
            t[r] = id;
        }
    }

    // ---- recurrent cells: pointwise kernels in CellKernels, on the calling thread ---------------

    @Override
    protected void tanhCellBackwardHook(Tensor a, Tensor dnext, Tensor da) { cells.tanhCellBackward(a, dnext, da); }

    @Override
    protected void lstmCellForwardHook(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h) {
        cells.lstmForward(gates, biasIh, biasHh, cPrev, c, h);
    }

    @Override
    protected void lstmCellBackwardHook(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc) {
        cells.lstmBackward(gates, cPrev, c, dh, dnext, dc);
    }

    @Override
    protected void gruCellForwardHook(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn,
                                      Tensor h) {
        cells.gruForward(gates, hh, biasIh, biasHh, hPrev, hn, h);
    }

    @Override
    protected void gruCellBackwardHook(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext,
                                       Tensor dgatesHh) {
        cells.gruBackward(gates, hn, hPrev, dh, dnext, dgatesHh);
    }

    @Override
    public void close() { pool.close(); }
}
