// KernelCalls: the argument list and thread count of every kernel of kernels/, once, for every backend that launches them.
package bptt.backend;

import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;

import java.util.Map;

/**
 * The ABI of {@code kernels/} (kernels/README.md) written once: for each op, which kernels run,
 * with which arguments in which order (each buffer as its allocation and an int offset in floats,
 * then ints, then floats) and how many threads, including the passes of the reductions, whose
 * shapes {@link ReductionPlan} fixes. The cuda and opencl backends subclass it with a
 * {@link #begin} that launches; the tests subclass it with one that records. Ops that need
 * temporary device memory take it from {@link #scratch}, which is theirs until the next op.
 *
 * <p>Nothing here allocates: a backend's {@link Args} can write straight into argument arrays
 * it built once, so a launch costs no garbage and no strings on the success path.
 */
public abstract class KernelCalls {

    /** The arguments of one launch, in the kernel's order, then the launch itself. */
    public interface Args {
        /** A buffer: its allocation and the int offset (in floats) of its first element. */
        Args buf(DeviceMemory memory, long offset, long size);

        default Args buf(Tensor t) { return buf(t.memory(), t.offset(), t.size()); }

        Args i(long value);

        Args f(float value);

        /** Launches the kernel over {@code threads} threads (1-D; nothing for 0): every kernel checks its own bound. */
        void run(long threads);
    }

    /** Starts the call of {@code kernel}: its arguments follow, then {@link Args#run}. */
    protected abstract Args begin(String kernel);

    /** A launching backend's per-kernel slot, or an error: every kernel of kernels/ has one. */
    protected static <S> S slotOf(Map<String, S> slots, String kernel) {
        S slot = slots.get(kernel);
        if (slot == null) {
            throw new IllegalStateException("kernel " + kernel + " is not in kernels/ (KernelSource.kernelNames())");
        }
        return slot;
    }

    /** The int offset of a buffer argument reaching element offset + size: the kernels index with 32-bit ints. */
    public static int offsetArg(String kernel, long offset, long size) {
        if (offset + size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("kernel " + kernel + ": a buffer reaching element " + (offset + size)
                    + " is beyond the kernels' 32-bit int offsets (2^31-1 floats); use a smaller model or batch");
        }
        return (int) offset;
    }

    /** A size argument as the kernels' int. */
    public static int intArg(String kernel, long value) {
        if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("kernel " + kernel + ": size " + value + " does not fit an int");
        }
        return (int) value;
    }

    /** Device memory of at least {@code floats} floats, from its start, that the current op may use until the next. */
    protected abstract DeviceMemory scratch(long floats);

    // ---- elementwise and the cells -------------------------------------------------------------

    public final void fill(Tensor x, float value) { begin("fill").buf(x).i(x.size()).f(value).run(x.size()); }

    public final void copy(Tensor src, Tensor dst) { begin("copy").buf(src).buf(dst).i(src.size()).run(src.size()); }

    public final void axpy(float alpha, Tensor x, Tensor y) {
        begin("axpy").buf(x).buf(y).i(x.size()).f(alpha).run(x.size());
    }

    public final void scale(float alpha, Tensor x) { begin("scale").buf(x).i(x.size()).f(alpha).run(x.size()); }

    /** x (rows, cols), bias (1, cols). */
    public final void biasTanh(Tensor x, Tensor bias) {
        begin("bias_tanh").buf(x).buf(bias).i(x.rows()).i(x.cols()).run(x.size());
    }

    public final void tanhBackward(Tensor a, Tensor da) {
        begin("tanh_backward").buf(a).buf(da).i(a.size()).run(a.size());
    }

    /** a, dnext, da (n elements). */
    public final void tanhCellBackward(Tensor a, Tensor dnext, Tensor da) {
        begin("tanh_cell_backward").buf(a).buf(dnext).buf(da).i(a.size()).run(a.size());
    }

    /** gates (B, 4H), biases (1, 4H), cPrev, c, h (B, H): one thread per (row, unit). */
    public final void lstmCellForward(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h) {
        begin("lstm_cell_forward").buf(gates).buf(biasIh).buf(biasHh).buf(cPrev).buf(c).buf(h).i(h.rows())
                .i(h.cols()).run(h.size());
    }

    /** gates (B, 4H); cPrev, c, dh, dnext, dc (B, H). */
    public final void lstmCellBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc) {
        begin("lstm_cell_backward").buf(gates).buf(cPrev).buf(c).buf(dh).buf(dnext).buf(dc).i(c.rows()).i(c.cols())
                .run(c.size());
    }

    /** gates, hh (B, 3H); biases (1, 3H); hPrev, hn, h (B, H). */
    public final void gruCellForward(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn,
                                     Tensor h) {
        begin("gru_cell_forward").buf(gates).buf(hh).buf(biasIh).buf(biasHh).buf(hPrev).buf(hn).buf(h).i(h.rows())
                .i(h.cols()).run(h.size());
    }

    /** gates, dgatesHh (B, 3H); hn, hPrev, dh, dnext (B, H). */
    public final void gruCellBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext,
                                      Tensor dgatesHh) {
        begin("gru_cell_backward").buf(gates).buf(hn).buf(hPrev).buf(dh).buf(dnext).buf(dgatesHh).i(hn.rows())
                .i(hn.cols()).run(hn.size());
    }

    // ---- reductions ------------------------------------------------------------------------------

    /** out (1, cols) = beta·out + Σ_rows x (rows, cols): parts of rows per (part, column), then the parts per column. */
    public final void sumRows(Tensor x, float beta, Tensor out) {
        int rows = x.rows();
        int cols = x.cols();
        ReductionPlan.Parts plan = ReductionPlan.sumRows(rows, cols);
        long floats = plan.floats(cols);
        DeviceMemory partials = scratch(floats);                            // (parts, cols)
        begin("sum_rows_partials").buf(x).buf(partials, 0, floats).i(rows).i(cols).i(plan.parts()).i(plan.per())
                .run(floats);
        begin("sum_rows_final").buf(partials, 0, floats).buf(out).i(plan.parts()).i(cols).f(beta).run(cols);
    }

    /** total (1, 1) = Σ x² over x's n >= 1 elements: the first pass, then levels of 256 down to one value. */
    public final void sumOfSquares(Tensor x, Tensor total) { sumOfSquares(x, total.memory(), total.offset()); }

    /** The element at {@code totalAt} of {@code totalMemory} = Σ x²; the levels of the tree lie in the scratch memory. */
    private void sumOfSquares(Tensor x, DeviceMemory totalMemory, long totalAt) {
        long n = x.size();
        int[] levels = ReductionPlan.sumOfSquaresLevels(n);
        DeviceMemory tree = scratch(Math.max(1, ReductionPlan.sumOfSquaresScratch(n)));
        boolean single = levels.length == 1;
        begin("sum_of_squares").buf(x).buf(single ? totalMemory : tree, single ? totalAt : 0, levels[0]).i(n)
                .i(levels[0]).run(levels[0]);
        long at = 0;                                                        // where level i - 1's values start
        for (int i = 1; i < levels.length; i++) {
            boolean last = i == levels.length - 1;
            begin("sum_partials").buf(tree, at, levels[i - 1])
                    .buf(last ? totalMemory : tree, last ? totalAt : at + levels[i - 1], levels[i])
                    .i(levels[i - 1]).i(ReductionPlan.TREE_WIDTH).run(levels[i]);
            at += levels[i - 1];
        }
    }

    /**
     * Softmax cross-entropy of logits (rows, cols) + bias (1, cols) against targets (rows, 1):
     * lanes of each row, then each row's logsumexp and loss, then the gradient element by element.
     */
    public final void softmaxCrossEntropy(Tensor logits, Tensor bias, Tensor targets, float gradScale, Tensor dlogits,
                                          Tensor losses) {
        int rows = logits.rows();
        int cols = logits.cols();
        int lanes = ReductionPlan.softmaxLanes(cols);
        long statsFloats = (long) rows * lanes * 2;                         // (rows, lanes, 2): max, sum of exp
        DeviceMemory work = scratch(statsFloats + rows);                    // then (rows): logsumexp
        begin("softmax_lane_stats").buf(logits).buf(bias).buf(work, 0, statsFloats).i(rows).i(cols).i(lanes)
                .run((long) rows * lanes);
        begin("softmax_row_loss").buf(logits).buf(bias).buf(targets).buf(work, 0, statsFloats)
                .buf(work, statsFloats, rows).buf(losses).i(rows).i(cols).i(lanes).run(rows);
        begin("softmax_gradient").buf(logits).buf(bias).buf(targets).buf(work, statsFloats, rows).buf(dlogits)
                .i(rows).i(cols).f(gradScale).run((long) rows * cols);
    }

    /**
     * Mean squared error of predictions (rows, cols) + bias (1, cols) against targets (rows, cols)
     * where mask (rows, 1) is above 0: one thread per row.
     */
    public final void meanSquaredError(Tensor predictions, Tensor bias, Tensor targets, Tensor mask, float gradScale,
                                       Tensor dpredictions, Tensor losses) {
        begin("mean_squared_error").buf(predictions).buf(bias).buf(targets).buf(mask).buf(dpredictions).buf(losses)
                .i(predictions.rows()).i(predictions.cols()).f(gradScale).run(predictions.rows());
    }

    /** out (rows, hidden) = columns ids of table (hidden, vocab): the table transposed, then one row of it per id. */
    public final void gatherColumns(Tensor ids, Tensor table, Tensor out) {
        int hidden = table.rows();
        int vocab = table.cols();
        DeviceMemory tableT = scratch(table.size());                        // (vocab, hidden)
        begin("transpose_table").buf(table).buf(tableT, 0, table.size()).i(hidden).i(vocab).run(table.size());
        begin("gather_rows").buf(ids).buf(tableT, 0, table.size()).buf(out).i(out.rows()).i(hidden).i(vocab)
                .run(out.size());
    }

    /** tableGrad (hidden, vocab)[h, ids[r]] += grad (rows, hidden)[r, h]: per part of rows, then the parts in order. */
    public final void scatterAddColumns(Tensor ids, Tensor grad, Tensor tableGrad) {
        int rows = grad.rows();
        int hidden = grad.cols();
        int vocab = tableGrad.cols();
        ReductionPlan.Parts plan = ReductionPlan.scatterAdd(rows, hidden, vocab);
        long floats = plan.floats((long) hidden * vocab);
        DeviceMemory partials = scratch(floats);                            // (parts, vocab, hidden)
        begin("scatter_add_partials").buf(ids).buf(grad).buf(partials, 0, floats).i(rows).i(hidden).i(vocab)
                .i(plan.parts()).i(plan.per()).run((long) plan.parts() * hidden);
        begin("scatter_add_total").buf(partials, 0, floats).buf(tableGrad).i(hidden).i(vocab).i(plan.parts())
                .run((long) hidden * vocab);
    }

    /**
     * dst (n values) = the n integers of {@code width} bytes (1, 2 or 4) packed from the start of
     * raw (a staging buffer's device scratch), as floats: the device half of an upload of ids.
     */
    public final void uploadStaged(DeviceMemory raw, Tensor dst, int width) {
        begin("upload_staged").buf(raw, 0, (dst.size() * width + 3) / 4).buf(dst).i(dst.size()).i(width)
                .run(dst.size());
    }

    // ---- optimizer steps ---------------------------------------------------------------------------

    /** Places of a step's scalars in the (1, STEP_SCALARS) tensor the update kernels read (kernels/bptt_kernels.cl.cu). */
    public static final int GRAD_SCALE = 0;
    public static final int BIAS1 = 1;
    public static final int BIAS2 = 2;
    public static final int SKIP = 3;
    public static final int SUM_OF_SQUARES = 4;
    public static final int LOSS_SUM = 5;
    public static final int STEP_SCALARS = 6;

    /** scalars (1, STEP_SCALARS) = gradScale, bias1, bias2 and skip = 0: the optimizer ops of the Backend contract. */
    public final void setStepScalars(Tensor scalars, float gradScale, float bias1, float bias2) {
        begin("set_step_scalars").buf(scalars).f(gradScale).f(bias1).f(bias2).run(1);
    }

    /**
     * Global-norm clipping decided on the device: scalars' sum of squares = Σ grads², its loss sum
     * = lossSum (1, 1), gradScale = clip / norm when clip > 0 and the norm exceeds it (else 1), and
     * skip = 1 when either sum is not finite.
     */
    public final void clipScale(Tensor grads, Tensor lossSum, float clip, Tensor scalars) {
        sumOfSquares(grads, scalars.memory(), scalars.offset() + SUM_OF_SQUARES);
        begin("clip_scale").buf(scalars).buf(lossSum).f(clip).run(1);
    }

    public final void sgdUpdate(Tensor param, Tensor grad, float lr, Tensor scalars) {
        begin("sgd_update").buf(param).buf(grad).buf(scalars).i(param.size()).f(lr).run(param.size());
    }

    public final void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                                 float eps, Tensor scalars) {
        begin("adam_update").buf(param).buf(grad).buf(m).buf(v).buf(scalars).i(param.size()).f(lr).f(beta1).f(beta2)
                .f(eps).run(param.size());
    }

    public final void adagradUpdate(Tensor param, Tensor grad, Tensor cache, float lr, float eps, Tensor scalars) {
        begin("adagrad_update").buf(param).buf(grad).buf(cache).buf(scalars).i(param.size()).f(lr).f(eps)
                .run(param.size());
    }

    /** Adam's bias corrections 1 − beta^step, computed in double and rounded once, as the kernels expect. */
    public static float biasCorrection(float beta, int step) { return (float) (1 - Math.pow(beta, step)); }
}
