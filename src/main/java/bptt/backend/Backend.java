// Backend: the small device contract the RNN is written against (memory, GEMM, fused ops).
package bptt.backend;

import bptt.tensor.Tensor;

/**
 * Everything the RNN needs from a device. Tensors are row-major float32 views; every method
 * validates shapes, ownership and aliasing once (in {@link AbstractBackend}) before the
 * device-specific hook runs. Token ids and class targets travel as float tensors of shape
 * (N,1) holding exact integers (a target below 0 means "no target here" and is ignored).
 *
 * <p>Elementwise ops take contiguous tensors; {@link #gemm} accepts any view with a leading
 * dimension. Every op is deterministic: the same inputs give bitwise the same outputs.
 */
public interface Backend extends AutoCloseable {

    /** Short name used on the command line: cpu-ref, cpu, opencl, cuda. */
    String name();

    /** One line on the device this backend runs on. */
    String deviceDescription();

    // ---- memory ----------------------------------------------------------------------------

    /** A new zero-filled (rows, cols) tensor. */
    Tensor alloc(int rows, int cols);

    /** Frees an allocation returned by {@link #alloc}. Views of it become invalid. */
    void free(Tensor root);

    /** Copies src (row-major, rows*cols values) into dst. */
    void upload(float[] src, Tensor dst);

    /** Copies dst's elements into a new row-major array. */
    float[] download(Tensor src);

    /** Like {@link #upload} in double precision; backends storing float32 round. */
    void uploadDoubles(double[] src, Tensor dst);

    /** Like {@link #download} in double precision (exact on a float64 reference). */
    double[] downloadDoubles(Tensor src);

    /** Bytes currently allocated through this backend. */
    long allocatedBytes();

    /** Highest value {@link #allocatedBytes} has reached since creation or {@link #resetPeak}. */
    long peakAllocatedBytes();

    void resetPeak();

    /** The most floats one tensor may hold here (kernels index with int; devices limit allocations). */
    default long maxTensorFloats() { return Integer.MAX_VALUE; }

    /**
     * Bytes of float32 tensors this backend can still allocate, as far as it can tell before
     * trying (a memory estimate is held against it); Long.MAX_VALUE when it cannot tell.
     */
    default long availableBytes() { return Long.MAX_VALUE; }

    /** Waits until all queued work is done (for timing). */
    default void synchronize() { }

    // ---- host staging: a window's inputs and targets ----------------------------------------

    /**
     * Host memory for {@code length} values in {@code encoding}, zeroed, at one address until
     * {@link #freeStaging}: pinned on cuda, a direct buffer on cpu and opencl, a Java array on
     * cpu-ref. Uploads from it copy at most {@code maxUpload} values; a backend that converts
     * integers on the device allocates a device scratch of that many values here (counted in
     * {@link #allocatedBytes}).
     */
    StagingBuffer allocStaging(long length, StagingBuffer.Encoding encoding, int maxUpload);

    /** Where {@link #allocStaging} puts host memory and whether it adds a device scratch (memory plans need it). */
    default StagingBuffer.Layout stagingLayout() { return StagingBuffer.Layout.HEAP; }

    /** Frees a buffer {@link #allocStaging} returned (and its device scratch). */
    void freeStaging(StagingBuffer buffer);

    /**
     * dst (contiguous, n = dst.size() ≤ maxUpload values) = src[first, first + n), integers
     * converted exactly to float. Stream-ordered like a kernel: it may return before the copy ran,
     * so the host must not write those values of src until the backend synchronizes. A CUDA graph
     * capturing it records a host-to-device memcpy node (and, for integers, one kernel).
     */
    void uploadStaged(StagingBuffer src, long first, Tensor dst);

    /** Bytes of host staging allocated through this backend now. */
    long stagingBytes();

    /** Highest value {@link #stagingBytes} has reached since creation or {@link #resetPeak}. */
    long peakStagingBytes();

    // ---- GEMM ------------------------------------------------------------------------------

    /**
     * C = alpha * op(A) * op(B) + beta * C, where op(X) is X or its transpose. When beta is 0,
     * C is not read (NaN in C does not propagate), as in reference BLAS.
     */
    void gemm(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c);

    // ---- fused elementwise and reduction ops (kernels/, one per method) --------------------

    /** x = value everywhere. */
    void fill(Tensor x, float value);

    /** dst = src (same shape, no overlap). */
    void copy(Tensor src, Tensor dst);

    /** y = y + alpha * x. */
    void axpy(float alpha, Tensor x, Tensor y);

    /** x = alpha * x. */
    void scale(float alpha, Tensor x);

    /** x (N,H) = tanh(x + bias), bias (1,H) broadcast over rows: the recurrent step's activation. */
    void biasTanh(Tensor x, Tensor bias);

    /** da (N,H) = (1 - a^2) * da, elementwise, in place: turns dL/da_t into dL/dpre_t. */
    void tanhBackward(Tensor a, Tensor da);

    /**
     * One forward time step of a tanh cell: pre (B,H) holds x_t·Waxᵀ on entry and
     * a_t = tanh(pre + hPrev·Waaᵀ + bias) on return; hPrev (B,H), waa (H,H), bias (1,H). The same
     * values as {@code gemm(false, hPrev, true, waa, 1, 1, pre)} then {@code biasTanh(pre, bias)};
     * a backend may fuse them (the cpu backend does at small batch).
     */
    void tanhStepForward(Tensor hPrev, Tensor waa, Tensor bias, Tensor pre);

    /**
     * One backward time step of a tanh cell: da (B,H) holds dL/da_t from above on entry;
     * da = (1 − a²) ⊙ (da + dnext) becomes dL/dpre_t, and dnext (B,H) = da·Waa is overwritten
     * with the gradient flowing into the previous step. a (B,H) is a_t, waa (H,H).
     */
    void tanhStepBackward(Tensor a, Tensor waa, Tensor da, Tensor dnext);

    /** The tanh cell's fused backward pointwise: da (B,H) = (1 − a²) ⊙ (da + dnext), a and dnext (B,H) read. */
    void tanhCellBackward(Tensor a, Tensor dnext, Tensor da);

    // ---- LSTM and GRU cells (PyTorch's nn.LSTM and nn.GRU; gates stacked i,f,g,o and r,z,n) --

    /**
     * LSTM pointwise forward of one step. gates (B,4H) holds x·W_ihᵀ + h·W_hhᵀ (no bias) on
     * entry and the activations i = σ, f = σ, g = tanh, o = σ of (that + biasIh + biasHh) on
     * return; biasIh, biasHh (1,4H); cPrev (B,H) is read; c = f⊙cPrev + i⊙g and h = o⊙tanh(c),
     * both (B,H), are written.
     */
    void lstmCellForward(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h);

    /**
     * LSTM pointwise backward of one step. gates (B,4H): the activations on entry, dL/d(pre-
     * activations) on return (in place). cPrev, c (B,H) read; dh (B,H) dL/dh_t from above and
     * dnext (B,H) dL/dh_t through step t+1, both read; dc (B,H): dL/dc_t through step t+1 on
     * entry, dL/dc_{t-1} on return.
     */
    void lstmCellBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc);

    /**
     * One LSTM forward step: gates (B,4H) += hPrev·W_hhᵀ, then {@link #lstmCellForward}. hPrev,
     * cPrev, c, h (B,H); whh (4H,H). A backend may fuse the two.
     */
    void lstmStepForward(Tensor hPrev, Tensor cPrev, Tensor whh, Tensor biasIh, Tensor biasHh, Tensor gates,
                         Tensor c, Tensor h);

    /**
     * One LSTM backward step: {@link #lstmCellBackward} with dnext as the recurrent gradient,
     * then dnext (B,H) = dgates·W_hh (overwritten with dL/dh_{t-1}).
     */
    void lstmStepBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor whh, Tensor dh, Tensor dc, Tensor dnext);

    /**
     * GRU pointwise forward of one step. gates (B,3H) holds x·W_ihᵀ (no bias) on entry and the
     * activations r, z, n on return; hh (B,3H) = hPrev·W_hhᵀ (no bias) is read; biasIh, biasHh
     * (1,3H); hn (B,H) = hh_n + b_hn is written (the backward pass needs it), and
     * h = (1−z)⊙n + z⊙hPrev (B,H), where r,z = σ(gates + b_i + hh + b_h), n = tanh(gates_n + b_in + r⊙hn).
     */
    void gruCellForward(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn, Tensor h);

    /**
     * GRU pointwise backward of one step. gates (B,3H): r, z, n on entry, the input side's
     * dL/d(pre-activations) dr, dz, dn on return (in place); dgatesHh (B,3H) receives the
     * recurrent side's dr, dz, r⊙dn; hn, hPrev (B,H) read; dh (B,H) from above read; dnext (B,H):
     * dL/dh_t through step t+1 on entry, the direct part z⊙(dh + dnext) of dL/dh_{t-1} on return.
     */
    void gruCellBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext, Tensor dgatesHh);

    /**
     * One GRU forward step: hh (B,3H) = hPrev·W_hhᵀ (scratch), then {@link #gruCellForward}.
     * A backend may fuse the two.
     */
    void gruStepForward(Tensor hPrev, Tensor whh, Tensor biasIh, Tensor biasHh, Tensor gates, Tensor hh, Tensor hn,
                        Tensor h);

    /**
     * One GRU backward step: {@link #gruCellBackward}, then dnext (B,H) += dgatesHh·W_hh, which
     * leaves dL/dh_{t-1} in dnext.
     */
    void gruStepBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor whh, Tensor dh, Tensor dgatesHh, Tensor dnext);

    /** out (1,C) = beta * out + sum over the rows of x (N,C), in fixed row order. */
    void sumRows(Tensor x, float beta, Tensor out);

    /**
     * Row-wise softmax cross-entropy of (logits + bias) against integer targets.
     * logits (N,V), bias (1,V), targets (N,1). Writes losses (N,1) = -log softmax[target]
     * (0 where target < 0) and dlogits (N,V) = gradScale * (softmax - onehot(target))
     * (0 rows where target < 0). dlogits may be the logits tensor itself.
     */
    void softmaxCrossEntropy(Tensor logits, Tensor bias, Tensor targets, float gradScale,
                             Tensor dlogits, Tensor losses);

    /**
     * Row-wise mean squared error of (predictions + bias) against real-valued targets: the loss
     * of a regression output. predictions (N,D), bias (1,D), targets (N,D), mask (N,1): row r is
     * scored when mask[r] &gt; 0. Writes losses (N,1) = Σ_j (p + b − y)²_j / D (0 for unscored
     * rows) and dpredictions (N,D) = gradScale · 2·(p + b − y) / D (0 rows where unscored), so
     * that with gradScale = 1/rows scored the loss is PyTorch's {@code MSELoss()} (the mean over
     * every scored element) and dpredictions its gradient. dpredictions may be predictions itself.
     */
    void meanSquaredError(Tensor predictions, Tensor bias, Tensor targets, Tensor mask, float gradScale,
                          Tensor dpredictions, Tensor losses);

    /** out (N,H) = columns ids[r] of table (H,V): out[r,h] = table[h, ids[r]] (one-hot input times tableT). */
    void gatherColumns(Tensor ids, Tensor table, Tensor out);

    /** tableGrad (H,V)[h, ids[r]] += grad (N,H)[r,h] for every r, in row order (deterministic). */
    void scatterAddColumns(Tensor ids, Tensor grad, Tensor tableGrad);

    /** The sum of the squares of x's elements, accumulated in a fixed order. */
    double sumOfSquares(Tensor x);

    /** SGD: param -= lr * gradScale * grad. */
    void sgdUpdate(Tensor param, Tensor grad, float lr, float gradScale);

    /**
     * Adam with PyTorch's update rule (torch.optim.Adam, no weight decay): g = gradScale*grad;
     * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; param -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps).
     */
    void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                    float eps, int step, float gradScale);

    /** Adagrad (min-char-rnn): g = gradScale*grad; cache += g^2; param -= lr * g / sqrt(cache + eps). */
    void adagradUpdate(Tensor param, Tensor grad, Tensor cache, float lr, float eps, float gradScale);

    @Override
    void close();
}
