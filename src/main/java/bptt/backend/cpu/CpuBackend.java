// CpuBackend: the fast CPU backend. GEMM in OpenBLAS on native memory, fused ops in threaded Java.
package bptt.backend.cpu;

import bptt.backend.AbstractBackend;
import bptt.backend.StagingBuffer;
import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * Tensors live in native memory ({@link CpuMemory}). One {@link ThreadTeam} does all the work:
 * OpenBLAS is set to one thread and each GEMM worth splitting is cut into blocks that the team's
 * threads hand to OpenBLAS ({@link TeamGemm}); the elementwise and reduction ops run in Java over
 * the same team, large ones split, small ones (a step of a small batch) on the calling thread.
 * So the process never runs more compute threads than the team has, and no second pool spins
 * against it. The recurrent step is fused ({@link RecurrentSteps}: Waa packed once per sweep,
 * Vector API tile, bias+tanh in the same pass) when the Vector API is available
 * ({@link VectorSupport}), else it is OpenBLAS plus the loops; with it, the optimizer updates and
 * row sums also run on {@link VectorLoops} (bitwise the plain loops' results, which C2 leaves
 * scalar) and softmax's exp on the JDK's vector exp. Data is moved through per-thread float[]
 * chunks so that the inner loops run on arrays, which C2 vectorises.
 *
 * <p>Determinism: elementwise ops write each element from its own inputs only; reductions
 * ({@link #sumRows}, {@link #sumOfSquares}, {@link #scatterAddColumns}) add in a fixed order
 * that does not depend on the split, and the fused step computes each element with the same
 * fma sequence on any thread, so the Java kernels give bitwise the same results for any thread
 * count. sumRows and sumOfSquares accumulate in double like cpu-ref; scatter-add rounds to
 * float after each addition in row order, exactly as cpu-ref stores it. GEMM blocks depend on
 * the shape and the team size only, so everything is reproducible for a fixed thread count.
 * Nothing is allocated per recurrent step once scratch arrays have grown to the largest shape
 * seen.
 *
 * <p>Every hook that writes a tensor calls {@link #written}, which tells {@link PackedWeights}
 * that packed copies of that memory are stale; a new hook that writes must do the same.
 */
public final class CpuBackend extends AbstractBackend {
    /** Elements per chunk moved between native memory and the per-thread arrays. */
    private static final int CHUNK = 2048;
    /** Elements per partial sum of sumOfSquares: fixed, so the sum does not depend on threads. */
    private static final int SQUARES_BLOCK = 1 << 14;

    /**
     * When ops split over the team, and which kernels run. Grains are the least work per part:
     * elements for cheap (memory-bound) ops and for ops with real arithmetic per element (tanh,
     * exp), FLOPs for a GEMM, multiply-adds for a recurrent step. Tests lower them to 1 so that
     * every op splits even at small shapes.
     */
    record Tuning(long cheapGrain, long mathGrain, long gemmGrain, long stepGrain, boolean vectorKernels) {
        /**
         * The defaults: a part is worth ~50-300 µs of one core (memory-bound elements ~0.5 ns,
         * exp or tanh elements ~10-20 ns, GEMM FLOPs ~0.01 ns); a B=1, H=256 step (65K
         * multiply-adds, ~3 µs) stays on the calling thread.
         */
        static Tuning defaults() {
            return new Tuning(1 << 18, 1 << 14, 1 << 22, 1 << 18, VectorSupport.unavailableReason() == null);
        }

        /** Every op with at least two units of work splits over the team. */
        Tuning splitEverything() { return new Tuning(1, 1, 1, 1, vectorKernels); }

        Tuning withVectorKernels(boolean on) { return new Tuning(cheapGrain, mathGrain, gemmGrain, stepGrain, on); }
    }

    private final Tuning tuning;
    /** Whether the elementwise ops use {@link VectorLoops} (with the vector kernels). */
    private final boolean vectorLoops;
    private final ThreadTeam team;
    private final TeamGemm gemm;
    private final PackedWeights packs;
    private final RecurrentSteps steps;
    /** The LSTM and GRU steps on the same packed weights; null without the vector kernels. */
    private final CellSteps cellSteps;
    private final Scratch[] scratch;
    private final OpenBlas.Address fillAddress = new OpenBlas.Address();
    private final Kernel kernel = new Kernel();
    private final CellKernels cells = new CellKernels();
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

    /** Opens the backend with a team of {@code threads} threads (the caller and threads − 1 workers). */
    public CpuBackend(int threads) { this(threads, Tuning.defaults()); }

    /**
     * Opens the backend with a team of {@code threads} and the given tuning (the vector kernels
     * only where {@link VectorSupport} allows). Throws {@link IllegalStateException} if the
     * OpenBLAS natives cannot load.
     */
    CpuBackend(int threads, Tuning tuning) {
        String failure = OpenBlas.load();
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
        OpenBlas.setThreads(1);
        boolean vector = tuning.vectorKernels() && VectorSupport.unavailableReason() == null;
        this.tuning = tuning.withVectorKernels(vector);
        this.vectorLoops = vector;
        this.team = new ThreadTeam(threads);
        this.gemm = new TeamGemm(team, tuning.gemmGrain());
        this.packs = vector ? new PackedWeights(team) : null;
        this.steps = vector ? new RecurrentSteps(team, packs, tuning.stepGrain()) : null;
        this.cellSteps = vector ? new CellSteps(team, packs, tuning.stepGrain()) : null;
        if (vector) {
            VectorWarmup.start();
        }
        this.scratch = new Scratch[team.size()];
        for (int i = 0; i < scratch.length; i++) {
            scratch[i] = new Scratch();
        }
    }

    /** One thread per available processor. */
    public CpuBackend() { this(Runtime.getRuntime().availableProcessors()); }

    /** Null when OpenBLAS can load here, else the reason it cannot. */
    public static String unavailableReason() { return OpenBlas.load(); }

    /** Null when the Vector API kernels can run in this JVM, else why not. */
    public static String vectorKernelsUnavailableReason() { return VectorSupport.unavailableReason(); }

    @Override
    public String name() { return "cpu"; }

    @Override
    public String deviceDescription() {
        return team.size() + " threads, each running OpenBLAS single-threaded and " + VectorSupport.describe(vectorKernels())
                + ", " + System.getProperty("os.arch");
    }

    /** Whether the fused recurrent step runs on the Vector API kernels. */
    boolean vectorKernels() { return tuning.vectorKernels(); }

    /** The team (tests check that ops really split). */
    ThreadTeam team() { return team; }

    // ---- memory ----------------------------------------------------------------------------

    private static FloatBuffer buf(Tensor t) { return CpuMemory.buffer(t); }

    private static int off(Tensor t) { return CpuMemory.offset(t); }

    /** Marks t's memory as written: packed copies of it are stale from now on. */
    private static void written(Tensor t) { CpuMemory.of(t).version++; }

    private static void written(Tensor first, Tensor... more) {
        written(first);
        for (Tensor t : more) {
            written(t);
        }
    }

    private void checkOpen() { team.checkOpen(); }

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
    protected void freeMemory(DeviceMemory memory) {
        if (packs != null) {
            packs.forget((CpuMemory) memory);
        }
        ((CpuMemory) memory).release();
    }

    @Override
    protected void uploadHook(float[] src, Tensor dst) {
        checkOpen();
        buf(dst).put(off(dst), src, 0, src.length);
        written(dst);
    }

    @Override
    public StagingBuffer.Layout stagingLayout() { return new StagingBuffer.Layout(StagingBuffer.Place.NATIVE, false); }

    /** Host staging in native memory beside the tensors, out of the Java heap. */
    @Override
    protected StagingBuffer allocStagingHook(long length, StagingBuffer.Encoding encoding, int maxUpload) {
        return StagingBuffer.direct(this, length, encoding, maxUpload);
    }

    @Override
    protected void uploadStagedHook(StagingBuffer src, long first, Tensor dst) {
        checkOpen();
        src.copyTo(first, buf(dst), off(dst), (int) dst.size());
        written(dst);
    }

    @Override
    protected float[] downloadHook(Tensor src) {
        checkOpen();
        float[] out = new float[(int) src.size()];
        buf(src).get(off(src), out, 0, out.length);
        return out;
    }

    // ---- GEMM ------------------------------------------------------------------------------

    @Override
    protected void gemmHook(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        checkOpen();
        gemm.gemm(transA, a, transB, b, alpha, beta, c);
        written(c);
    }

    // ---- the recurrent step ----------------------------------------------------------------

    @Override
    protected void tanhStepForwardHook(Tensor hPrev, Tensor waa, Tensor bias, Tensor pre) {
        if (steps == null || !steps.forward(hPrev, waa, bias, pre)) {
            super.tanhStepForwardHook(hPrev, waa, bias, pre);
        }
        written(pre);
    }

    @Override
    protected void tanhStepBackwardHook(Tensor a, Tensor waa, Tensor da, Tensor dnext) {
        if (steps == null || !steps.backward(a, waa, da, dnext)) {
            super.tanhStepBackwardHook(a, waa, da, dnext);
        }
        written(da);
        written(dnext);
    }

    // ---- elementwise -----------------------------------------------------------------------

    /** The op codes of {@link Kernel}. */
    private static final int FILL = 0, AXPY = 1, SCALE = 2, BIAS_TANH = 3, TANH_BACKWARD = 4, SUM_ROWS = 5,
            SOFTMAX_CE = 6, GATHER = 7, SCATTER_ADD = 8, SQUARES = 9, SGD = 10, ADAM = 11, ADAGRAD = 12, MSE = 13;

    /**
     * One reusable task for every op: the op's operands are set in fields, then the team runs
     * it over a range whose unit depends on the op (elements, rows, columns or blocks).
     */
    private final class Kernel implements ThreadTeam.Task {
        int op;
        FloatBuffer x, y, z, w, u;  // operands, meaning per op
        int xo, yo, zo, wo, uo;     // their element offsets
        int rows, cols;          // the matrix shape, where the op has one
        float f0, f1, f2, f3;    // scalar arguments
        double d0, d1;           // scalar arguments computed in double

        void start(int code, int units, long grain) {
            op = code;
            team.run(this, units, grain);
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
                case MSE -> squaredErrorRows(s, from, to);
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
                        if (vectorLoops) {
                            VectorLoops.sgd(a, b, d0, n);
                        } else {
                            Loops.sgd(a, b, d0, 0, n);
                        }
                        x.put(xo + i, a, 0, n);
                    }
                    case ADAM -> {              // x param, y grad, z m, w v
                        x.get(xo + i, a, 0, n);
                        y.get(yo + i, b, 0, n);
                        z.get(zo + i, c, 0, n);
                        w.get(wo + i, d, 0, n);
                        double bias1 = Loops.adamBias(f1, d1);
                        double bias2 = Loops.adamBias(f2, d1);
                        if (vectorLoops) {
                            VectorLoops.adam(a, b, c, d, n, f0, f1, f2, f3, d0, bias1, bias2);
                        } else {
                            Loops.adam(a, b, c, d, 0, n, f0, f1, f2, f3, d0, bias1, bias2);
                        }
                        x.put(xo + i, a, 0, n);
                        z.put(zo + i, c, 0, n);
                        w.put(wo + i, d, 0, n);
                    }
                    case ADAGRAD -> {           // x param, y grad, z cache
                        x.get(xo + i, a, 0, n);
                        y.get(yo + i, b, 0, n);
                        z.get(zo + i, c, 0, n);
                        if (vectorLoops) {
                            VectorLoops.adagrad(a, b, c, n, f0, f1, f2);
                        } else {
                            Loops.adagrad(a, b, c, 0, n, f0, f1, f2);
                        }
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
                if (vectorLoops) {
                    VectorLoops.accumulate(acc, a, width);
                } else {
                    Loops.accumulate(acc, a, 0, width);
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
                double loss = vectorLoops ? VectorLoops.softmaxRow(row, e, cols, target, f0)
                        : Loops.softmaxRow(row, e, cols, target, f0);
                w.put(wo + r, (float) loss);
                z.put(zo + r * cols, row, 0, cols);
            }
        }

        /**
         * Rows [from, to) of the mean squared error: x predictions (rows, cols), y bias (1, cols),
         * u targets (rows, cols), ids[r] 1 where row r is scored, z dpredictions (may be x),
         * w losses (rows, 1), f0 gradScale. Each row sums its columns in order, in double.
         */
        private void squaredErrorRows(Scratch s, int from, int to) {
            float[] row = s.row(cols);
            float[] target = s.row2(cols);
            for (int r = from; r < to; r++) {
                if (ids[r] == 0) {
                    java.util.Arrays.fill(row, 0, cols, 0f);
                    z.put(zo + r * cols, row, 0, cols);
                    w.put(wo + r, 0f);
                    continue;
                }
                x.get(xo + r * cols, row, 0, cols);
                u.get(uo + r * cols, target, 0, cols);
                double sum = 0;
                for (int j = 0; j < cols; j++) {
                    double e = (double) row[j] + y.get(yo + j) - target[j];
                    sum += e * e;
                    row[j] = (float) (2 * e / cols * f0);
                }
                w.put(wo + r, (float) (sum / cols));
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
        checkOpen();
        if (value == 0f && Float.floatToRawIntBits(value) == 0) {
            org.bytedeco.javacpp.Pointer.memset(fillAddress.at(CpuMemory.address(x)), 0, x.size() * Float.BYTES);
        } else {
            setX(x);
            kernel.f0 = value;
            kernel.start(FILL, (int) x.size(), tuning.cheapGrain());
        }
        written(x);
    }

    @Override
    protected void copyHook(Tensor src, Tensor dst) {
        checkOpen();
        buf(dst).put(off(dst), buf(src), off(src), (int) src.size());
        written(dst);
    }

    @Override
    protected void axpyHook(float alpha, Tensor x, Tensor y) {
        setXY(x, y);
        kernel.f0 = alpha;
        kernel.start(AXPY, (int) x.size(), tuning.cheapGrain());
        written(y);
    }

    @Override
    protected void scaleHook(float alpha, Tensor x) {
        setX(x);
        kernel.f0 = alpha;
        kernel.start(SCALE, (int) x.size(), tuning.cheapGrain());
        written(x);
    }

    @Override
    protected void biasTanhHook(Tensor x, Tensor bias) {
        setXY(x, bias);
        kernel.rows = x.rows();
        kernel.cols = x.cols();
        kernel.start(BIAS_TANH, x.rows(), rowsPer(tuning.mathGrain(), x.cols()));
        written(x);
    }

    @Override
    protected void tanhBackwardHook(Tensor a, Tensor da) {
        setXY(a, da);
        kernel.start(TANH_BACKWARD, (int) a.size(), tuning.cheapGrain());
        written(da);
    }

    @Override
    protected void sumRowsHook(Tensor x, float beta, Tensor out) {
        setX(x);
        kernel.z = buf(out);
        kernel.zo = off(out);
        kernel.rows = x.rows();
        kernel.cols = x.cols();
        kernel.f0 = beta;
        kernel.start(SUM_ROWS, x.cols(), rowsPer(tuning.cheapGrain(), x.rows()));
        written(out);
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
        kernel.start(SOFTMAX_CE, n, rowsPer(tuning.mathGrain(), v));
        written(dlogits);
        written(losses);
    }

    @Override
    protected void meanSquaredErrorHook(Tensor predictions, Tensor bias, Tensor targets, Tensor mask, float gradScale,
                                        Tensor dpredictions, Tensor losses) {
        int n = predictions.rows();
        int[] scored = ids(n);
        FloatBuffer mb = buf(mask);
        for (int r = 0; r < n; r++) {
            scored[r] = mb.get(off(mask) + r) > 0 ? 1 : 0;
        }
        setXY(predictions, bias);
        kernel.u = buf(targets);
        kernel.uo = off(targets);
        kernel.z = buf(dpredictions);
        kernel.zo = off(dpredictions);
        kernel.w = buf(losses);
        kernel.wo = off(losses);
        kernel.cols = predictions.cols();
        kernel.f0 = gradScale;
        kernel.start(MSE, n, rowsPer(tuning.cheapGrain(), predictions.cols()));
        written(dpredictions);
        written(losses);
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
        kernel.start(GATHER, out.rows(), rowsPer(tuning.cheapGrain(), h));
        written(out);
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
        kernel.start(SCATTER_ADD, h, rowsPer(tuning.cheapGrain(), grad.rows()));
        written(tableGrad);
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
        kernel.start(SQUARES, blocks, Math.max(1, tuning.cheapGrain() / SQUARES_BLOCK));
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
        kernel.start(SGD, (int) param.size(), tuning.cheapGrain());
        written(param);
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
        kernel.start(ADAM, (int) param.size(), tuning.mathGrain());
        written(param);
        written(m);
        written(v);
    }

    @Override
    protected void adagradUpdateHook(Tensor param, Tensor grad, Tensor cache, float lr, float eps, float gradScale) {
        setXY(param, grad);
        kernel.z = buf(cache);
        kernel.zo = off(cache);
        kernel.f0 = lr;
        kernel.f1 = eps;
        kernel.f2 = gradScale;
        kernel.start(ADAGRAD, (int) param.size(), tuning.mathGrain());
        written(param);
        written(cache);
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

    /** Rows (or columns) per part so that each part has about {@code grain} elements; at least 1. */
    private static long rowsPer(long grain, int cols) { return Math.max(1, grain / Math.max(1, cols)); }

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
    protected void tanhCellBackwardHook(Tensor a, Tensor dnext, Tensor da) {
        cells.tanhCellBackward(a, dnext, da);
        written(da);
    }

    @Override
    protected void lstmCellForwardHook(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h) {
        cells.lstmForward(gates, biasIh, biasHh, cPrev, c, h);
        written(gates);
        written(c);
        written(h);
    }

    @Override
    protected void lstmCellBackwardHook(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc) {
        cells.lstmBackward(gates, cPrev, c, dh, dnext, dc);
        written(gates);
        written(dc);
    }

    @Override
    protected void gruCellForwardHook(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn,
                                      Tensor h) {
        cells.gruForward(gates, hh, biasIh, biasHh, hPrev, hn, h);
        written(gates);
        written(hn);
        written(h);
    }

    @Override
    protected void gruCellBackwardHook(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext,
                                       Tensor dgatesHh) {
        cells.gruBackward(gates, hn, hPrev, dh, dnext, dgatesHh);
        written(gates);
        written(dgatesHh);
        written(dnext);
    }

    // ---- recurrent cells: whole steps fused over the team (CellSteps), with the vector kernels --

    @Override
    protected void lstmStepForwardHook(Tensor hPrev, Tensor cPrev, Tensor whh, Tensor biasIh, Tensor biasHh,
                                       Tensor gates, Tensor c, Tensor h) {
        if (cellSteps == null || !cellSteps.lstmForward(hPrev, cPrev, whh, biasIh, biasHh, gates, c, h)) {
            super.lstmStepForwardHook(hPrev, cPrev, whh, biasIh, biasHh, gates, c, h);
        }
        written(gates, c, h);
    }

    @Override
    protected void lstmStepBackwardHook(Tensor gates, Tensor cPrev, Tensor c, Tensor whh, Tensor dh, Tensor dc,
                                        Tensor dnext) {
        if (cellSteps == null || !cellSteps.lstmBackward(gates, cPrev, c, whh, dh, dc, dnext)) {
            super.lstmStepBackwardHook(gates, cPrev, c, whh, dh, dc, dnext);
        }
        written(gates, dc, dnext);
    }

    @Override
    protected void gruStepForwardHook(Tensor hPrev, Tensor whh, Tensor biasIh, Tensor biasHh, Tensor gates, Tensor hh,
                                      Tensor hn, Tensor h) {
        if (cellSteps == null || !cellSteps.gruForward(hPrev, whh, biasIh, biasHh, gates, hn, h)) {
            super.gruStepForwardHook(hPrev, whh, biasIh, biasHh, gates, hh, hn, h);
        }
        written(gates, hh, hn, h);
    }

    @Override
    protected void gruStepBackwardHook(Tensor gates, Tensor hn, Tensor hPrev, Tensor whh, Tensor dh, Tensor dgatesHh,
                                       Tensor dnext) {
        if (cellSteps == null || !cellSteps.gruBackward(gates, hn, hPrev, whh, dh, dgatesHh, dnext)) {
            super.gruStepBackwardHook(gates, hn, hPrev, whh, dh, dgatesHh, dnext);
        }
        written(gates, dgatesHh, dnext);
    }

    @Override
    public void close() { team.close(); }
}
