// KernelCall: one kernel launch as pure data (name, launch configuration, typed arguments in ABI order).
package bptt.backend.cuda;

import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What {@link CudaBackend} hands to cuLaunchKernel, without the driver: the kernel, its
 * {@link LaunchConfig}, and the arguments in the order of kernels/README.md (each buffer as
 * allocation + int offset in floats, then ints, then floats). The static factories, one per
 * Backend op, are the only place that knows each kernel's argument list; tests compare them
 * with the kernel signatures in the source.
 */
record KernelCall(String kernel, LaunchConfig launch, List<Arg> args) {

    /** One kernel argument. A BUFFER stands for two C parameters: the pointer and its int offset. */
    record Arg(Kind kind, DeviceMemory memory, int intValue, float floatValue) {
        enum Kind { BUFFER, INT, FLOAT }
    }

    /** Collects arguments in order, checking that every buffer is addressable with the kernels' int offsets. */
    static final class Builder {
        private final String kernel;
        private final List<Arg> args = new ArrayList<>();

        Builder(String kernel) { this.kernel = kernel; }

        Builder buf(Tensor t) { return buf(t.memory(), t.offset(), t.size()); }

        Builder buf(DeviceMemory memory, long offset, long size) {
            if (offset + size > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("kernel " + kernel + ": a buffer reaching element " + (offset + size)
                        + " is beyond the kernels' 32-bit int offsets (2^31-1 floats); use a smaller model or batch");
            }
            args.add(new Arg(Arg.Kind.BUFFER, memory, (int) offset, 0f));
            return this;
        }

        Builder i(long value) {
            if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("kernel " + kernel + ": size " + value + " does not fit an int");
            }
            args.add(new Arg(Arg.Kind.INT, null, (int) value, 0f));
            return this;
        }

        Builder f(float value) {
            args.add(new Arg(Arg.Kind.FLOAT, null, 0, value));
            return this;
        }

        KernelCall launch(LaunchConfig launch) {
            if (!launch.kernel().equals(kernel)) {
                throw new IllegalStateException("arguments of " + kernel + " with the launch of " + launch.kernel());
            }
            return new KernelCall(kernel, launch, Collections.unmodifiableList(args));
        }
    }

    private static Builder call(String kernel) { return new Builder(kernel); }

    // ---- one factory per Backend op --------------------------------------------------------

    static KernelCall fill(Tensor x, float value, LaunchConfig.Limits lim) {
        return call("fill").buf(x).i(x.size()).f(value).launch(LaunchConfig.elementwise("fill", x.size(), lim));
    }

    static KernelCall copy(Tensor src, Tensor dst, LaunchConfig.Limits lim) {
        return call("copy").buf(src).buf(dst).i(src.size()).launch(LaunchConfig.elementwise("copy", src.size(), lim));
    }

    static KernelCall axpy(float alpha, Tensor x, Tensor y, LaunchConfig.Limits lim) {
        return call("axpy").buf(x).buf(y).i(x.size()).f(alpha).launch(LaunchConfig.elementwise("axpy", x.size(), lim));
    }

    static KernelCall scale(float alpha, Tensor x, LaunchConfig.Limits lim) {
        return call("scale").buf(x).i(x.size()).f(alpha).launch(LaunchConfig.elementwise("scale", x.size(), lim));
    }

    /** x (rows, cols), bias (1, cols). */
    static KernelCall biasTanh(Tensor x, Tensor bias, LaunchConfig.Limits lim) {
        return call("bias_tanh").buf(x).buf(bias).i(x.rows()).i(x.cols())
                .launch(LaunchConfig.biasTanh(x.rows(), x.cols(), lim));
    }

    static KernelCall tanhBackward(Tensor a, Tensor da, LaunchConfig.Limits lim) {
        return call("tanh_backward").buf(a).buf(da).i(a.size())
                .launch(LaunchConfig.elementwise("tanh_backward", a.size(), lim));
    }

    /** a, dnext, da (n elements). */
    static KernelCall tanhCellBackward(Tensor a, Tensor dnext, Tensor da, LaunchConfig.Limits lim) {
        return call("tanh_cell_backward").buf(a).buf(dnext).buf(da).i(a.size())
                .launch(LaunchConfig.elementwise("tanh_cell_backward", a.size(), lim));
    }

    /** gates (B, 4H), biases (1, 4H), cPrev, c, h (B, H). */
    static KernelCall lstmCellForward(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h,
                                      LaunchConfig.Limits lim) {
        return call("lstm_cell_forward").buf(gates).buf(biasIh).buf(biasHh).buf(cPrev).buf(c).buf(h)
                .i(h.rows()).i(h.cols()).launch(LaunchConfig.cell("lstm_cell_forward", h.rows(), h.cols(), lim));
    }

    /** gates (B, 4H); cPrev, c, dh, dnext, dc (B, H). */
    static KernelCall lstmCellBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc,
                                       LaunchConfig.Limits lim) {
        return call("lstm_cell_backward").buf(gates).buf(cPrev).buf(c).buf(dh).buf(dnext).buf(dc)
                .i(c.rows()).i(c.cols()).launch(LaunchConfig.cell("lstm_cell_backward", c.rows(), c.cols(), lim));
    }

    /** gates, hh (B, 3H); biases (1, 3H); hPrev, hn, h (B, H). */
    static KernelCall gruCellForward(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn,
                                     Tensor h, LaunchConfig.Limits lim) {
        return call("gru_cell_forward").buf(gates).buf(hh).buf(biasIh).buf(biasHh).buf(hPrev).buf(hn).buf(h)
                .i(h.rows()).i(h.cols()).launch(LaunchConfig.cell("gru_cell_forward", h.rows(), h.cols(), lim));
    }

    /** gates, dgatesHh (B, 3H); hn, hPrev, dh, dnext (B, H). */
    static KernelCall gruCellBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext, Tensor dgatesHh,
                                      LaunchConfig.Limits lim) {
        return call("gru_cell_backward").buf(gates).buf(hn).buf(hPrev).buf(dh).buf(dnext).buf(dgatesHh)
                .i(hn.rows()).i(hn.cols()).launch(LaunchConfig.cell("gru_cell_backward", hn.rows(), hn.cols(), lim));
    }

    /** x (rows, cols), out (1, cols). */
    static KernelCall sumRows(Tensor x, float beta, Tensor out, LaunchConfig.Limits lim) {
        return call("sum_rows").buf(x).buf(out).i(x.rows()).i(x.cols()).f(beta)
                .launch(LaunchConfig.sumRows(x.cols(), lim));
    }

    /** logits, dlogits (rows, cols); bias (1, cols); targets, losses (rows, 1). */
    static KernelCall softmaxCrossEntropy(Tensor logits, Tensor bias, Tensor targets, float gradScale, Tensor dlogits,
                                          Tensor losses, LaunchConfig.Limits lim) {
        return call("softmax_cross_entropy").buf(logits).buf(bias).buf(targets).buf(dlogits).buf(losses)
                .i(logits.rows()).i(logits.cols()).f(gradScale)
                .launch(LaunchConfig.softmaxCrossEntropy(logits.rows(), lim));
    }

    /** predictions, targets, dpredictions (rows, cols); bias (1, cols); mask, losses (rows, 1). */
    static KernelCall meanSquaredError(Tensor predictions, Tensor bias, Tensor targets, Tensor mask, float gradScale,
                                       Tensor dpredictions, Tensor losses, LaunchConfig.Limits lim) {
        return call("mean_squared_error").buf(predictions).buf(bias).buf(targets).buf(mask).buf(dpredictions)
                .buf(losses).i(predictions.rows()).i(predictions.cols()).f(gradScale)
                .launch(LaunchConfig.meanSquaredError(predictions.rows(), lim));
    }

    /** ids (rows, 1), table (hidden, vocab), out (rows, hidden). */
    static KernelCall gatherColumns(Tensor ids, Tensor table, Tensor out, LaunchConfig.Limits lim) {
        return call("gather_columns").buf(ids).buf(table).buf(out).i(out.rows()).i(out.cols()).i(table.cols())
                .launch(LaunchConfig.gatherColumns(out.rows(), out.cols(), lim));
    }

    /** ids (rows, 1), grad (rows, hidden), tableGrad (hidden, vocab). */
    static KernelCall scatterAddColumns(Tensor ids, Tensor grad, Tensor tableGrad, LaunchConfig.Limits lim) {
        return call("scatter_add_columns").buf(ids).buf(grad).buf(tableGrad)
                .i(grad.rows()).i(grad.cols()).i(tableGrad.cols())
                .launch(LaunchConfig.scatterAddColumns(grad.cols(), lim));
    }

    /**
     * dst (n values) = the n integers of {@code width} bytes packed from the start of raw (a
     * staging buffer's device scratch), as floats.
     */
    static KernelCall uploadStaged(DeviceMemory raw, Tensor dst, int width, LaunchConfig.Limits lim) {
        return call("upload_staged").buf(raw, 0, ((long) dst.size() * width + 3) / 4).buf(dst).i(dst.size()).i(width)
                .launch(LaunchConfig.elementwise("upload_staged", dst.size(), lim));
    }

    /** First pass over x into scratch[0, parts); scratch is (1, SUM_PARTS + 1). */
    static KernelCall sumOfSquares(Tensor x, Tensor scratch, LaunchConfig.Limits lim) {
        int parts = LaunchConfig.sumOfSquaresParts(x.size());
        return call("sum_of_squares").buf(x).buf(scratch.memory(), scratch.offset(), parts).i(x.size()).i(parts)
                .launch(LaunchConfig.sumOfSquares(x.size(), lim));
    }

    /** Second pass: scratch[SUM_PARTS] = the ordered sum of scratch[0, parts). */
    static KernelCall sumOfSquaresFinal(long n, Tensor scratch, LaunchConfig.Limits lim) {
        int parts = LaunchConfig.sumOfSquaresParts(n);
        return call("sum_of_squares_final").buf(scratch.memory(), scratch.offset(), parts)
                .buf(scratch.memory(), scratch.offset() + LaunchConfig.SUM_PARTS, 1).i(parts)
                .launch(LaunchConfig.sumOfSquaresFinal(lim));
    }

    static KernelCall sgdUpdate(Tensor param, Tensor grad, float lr, float gradScale, LaunchConfig.Limits lim) {
        return call("sgd_update").buf(param).buf(grad).i(param.size()).f(lr).f(gradScale)
                .launch(LaunchConfig.elementwise("sgd_update", param.size(), lim));
    }

    /** bias1 = 1 - beta1^step and bias2 = 1 - beta2^step are computed here in double, as the kernel expects. */
    static KernelCall adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                                 float eps, int step, float gradScale, LaunchConfig.Limits lim) {
        float bias1 = (float) (1 - Math.pow(beta1, step));
        float bias2 = (float) (1 - Math.pow(beta2, step));
        return call("adam_update").buf(param).buf(grad).buf(m).buf(v).i(param.size())
                .f(lr).f(beta1).f(beta2).f(eps).f(bias1).f(bias2).f(gradScale)
                .launch(LaunchConfig.elementwise("adam_update", param.size(), lim));
    }

    static KernelCall adagradUpdate(Tensor param, Tensor grad, Tensor cache, float lr, float eps, float gradScale,
                                    LaunchConfig.Limits lim) {
        return call("adagrad_update").buf(param).buf(grad).buf(cache).i(param.size()).f(lr).f(eps).f(gradScale)
                .launch(LaunchConfig.elementwise("adagrad_update", param.size(), lim));
    }
}
