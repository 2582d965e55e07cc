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
