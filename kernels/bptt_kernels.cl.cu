/* bptt_kernels.cl.cu: every custom kernel of the engine, written once in the common subset of
 * OpenCL C 1.2 and CUDA C++. Compiled after prelude_opencl.h (OpenCL) or prelude_cuda.h (CUDA),
 * which define KERNEL, GLOBAL, RESTRICT, GLOBAL_ID() and the float math macros.
 *
 * ABI (shared by the OpenCL and CUDA backends; see kernels/README.md):
 *  - one kernel per Backend method, snake_case (tanh_backward <-> tanhBackward); sum_of_squares
 *    has a second pass, sum_of_squares_final;
 *  - arguments: the buffers in the Backend method's order, each followed by its int offset in
 *    floats, then the sizes, then the float scalars;
 *  - 1-D launch; every kernel checks its own bound, so the launch may be rounded up;
 *  - tensors are contiguous row-major; no floating-point atomics; every reduction runs in a
 *    fixed order inside one thread, so results are bitwise reproducible run to run;
 *  - ids and targets are floats holding exact integers. A target below 0 is ignored; a target
 *    >= V gives a NaN loss and NaN gradient row; an invalid token id gives a NaN row in
 *    gather_columns and is skipped by scatter_add_columns (kernels cannot throw). */

/* x (n) = value. One thread per element. */
KERNEL void fill(GLOBAL float* RESTRICT x, int xOff, int n, float value)
{
    const int i = GLOBAL_ID();
    if (i >= n) return;
    x[xOff + i] = value;
}

/* dst (n) = src (n). One thread per element. */
KERNEL void copy(GLOBAL const float* RESTRICT src, int srcOff, GLOBAL float* RESTRICT dst, int dstOff, int n)
{
    const int i = GLOBAL_ID();
    if (i >= n) return;
    dst[dstOff + i] = src[srcOff + i];
}

/* y (n) += alpha * x (n). One thread per element. */
KERNEL void axpy(GLOBAL const float* RESTRICT x, int xOff, GLOBAL float* RESTRICT y, int yOff, int n, float alpha)
{
    const int i = GLOBAL_ID();
    if (i >= n) return;
    y[yOff + i] = y[yOff + i] + alpha * x[xOff + i];
}

/* x (n) *= alpha. One thread per element. */
KERNEL void scale(GLOBAL float* RESTRICT x, int xOff, int n, float alpha)
{
    const int i = GLOBAL_ID();
    if (i >= n) return;
    x[xOff + i] = alpha * x[xOff + i];
}

/* x (rows, cols) = tanh(x + bias), bias (1, cols) broadcast over rows. One thread per element. */
KERNEL void bias_tanh(GLOBAL float* RESTRICT x, int xOff, GLOBAL const float* RESTRICT bias, int biasOff,
                      int rows, int cols)
{
    const int i = GLOBAL_ID();
    if (i >= rows * cols) return;
    x[xOff + i] = TANHF(x[xOff + i] + bias[biasOff + i % cols]);
}

/* da (n) = (1 - a^2) * da, with 1 - a^2 computed as (1 - a)(1 + a) to keep precision near |a| = 1. */
KERNEL void tanh_backward(GLOBAL const float* RESTRICT a, int aOff, GLOBAL float* RESTRICT da, int daOff, int n)
{
    const int i = GLOBAL_ID();
    if (i >= n) return;
    const float ai = a[aOff + i];
    da[daOff + i] = ((1.0f - ai) * (1.0f + ai)) * da[daOff + i];
}

/* out (1, cols) = beta * out + sum over the rows of x (rows, cols). One thread per column sums
 * rows 0..rows-1 in order with Kahan compensation. When beta == 0, out is not read. */
KERNEL void sum_rows(GLOBAL const float* RESTRICT x, int xOff, GLOBAL float* RESTRICT out, int outOff,
                     int rows, int cols, float beta)
{
    const int c = GLOBAL_ID();
    if (c >= cols) return;
    float sum = 0.0f;
    float comp = 0.0f;
    for (int r = 0; r < rows; r++) {
        const float y = x[xOff + r * cols + c] - comp;
        const float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    out[outOff + c] = beta == 0.0f ? sum : beta * out[outOff + c] + sum;
}

/* Row-wise softmax cross-entropy of z = logits (rows, cols) + bias (1, cols) against targets
 * (rows, 1): losses (rows, 1) = logsumexp(z) - z[target], dlogits (rows, cols) = gradScale *
 * (softmax(z) - onehot(target)); rows whose target is below 0 get loss 0 and a zero gradient.
 * dlogits may be the logits buffer itself (same offset): each element is read before it is
 * written, so neither pointer is RESTRICT. One thread per row. */
KERNEL void softmax_cross_entropy(GLOBAL const float* logits, int logitsOff, GLOBAL const float* RESTRICT bias,
                                  int biasOff, GLOBAL const float* RESTRICT targets, int targetsOff,
                                  GLOBAL float* dlogits, int dlogitsOff, GLOBAL float* RESTRICT losses,
                                  int lossesOff, int rows, int cols, float gradScale)
{
    const int r = GLOBAL_ID();
    if (r >= rows) return;
    const int zOff = logitsOff + r * cols;
    const int dOff = dlogitsOff + r * cols;
    const float tf = targets[targetsOff + r];
    /* As the reference casts: (int) truncates toward zero, so only tf <= -1 means "no target". */
    const int target = tf <= -1.0f ? -1 : (tf < (float) cols ? (int) tf : cols);
    if (target < 0) {
        losses[lossesOff + r] = 0.0f;
        for (int j = 0; j < cols; j++) {
            dlogits[dOff + j] = 0.0f;
        }
        return;
    }
    if (target >= cols) {
        losses[lossesOff + r] = NAN_F;
        for (int j = 0; j < cols; j++) {
            dlogits[dOff + j] = NAN_F;
        }
        return;
    }
    float zmax = -INFINITY_F;
    for (int j = 0; j < cols; j++) {
        zmax = FMAXF(zmax, logits[zOff + j] + bias[biasOff + j]);
    }
    float sum = 0.0f;
    for (int j = 0; j < cols; j++) {
        sum += EXPF(logits[zOff + j] + bias[biasOff + j] - zmax);
    }
    const float logSum = zmax + LOGF(sum);
    losses[lossesOff + r] = logSum - (logits[zOff + target] + bias[biasOff + target]);
    for (int j = 0; j < cols; j++) {
        const float p = EXPF(logits[zOff + j] + bias[biasOff + j] - logSum);
        dlogits[dOff + j] = (j == target ? p - 1.0f : p) * gradScale;
    }
}

/* Row-wise mean squared error of p = predictions (rows, cols) + bias (1, cols) against targets
 * (rows, cols): losses (rows, 1) = sum_j (p - y)^2 / cols, dpredictions (rows, cols) = gradScale *
 * 2 (p - y) / cols; rows whose mask (rows, 1) is not above 0 get loss 0 and a zero gradient.
 * dpredictions may be the predictions buffer itself (same offset): each element is read before
 * it is written, so neither pointer is RESTRICT. One thread per row, summing its columns in order. */
KERNEL void mean_squared_error(GLOBAL const float* predictions, int predictionsOff, GLOBAL const float* RESTRICT bias,
                               int biasOff, GLOBAL const float* RESTRICT targets, int targetsOff,
                               GLOBAL const float* RESTRICT mask, int maskOff, GLOBAL float* dpredictions,
                               int dpredictionsOff, GLOBAL float* RESTRICT losses, int lossesOff, int rows, int cols,
                               float gradScale)
{
    const int r = GLOBAL_ID();
    if (r >= rows) return;
    const int pOff = predictionsOff + r * cols;
    const int yOff = targetsOff + r * cols;
    const int dOff = dpredictionsOff + r * cols;
    if (!(mask[maskOff + r] > 0.0f)) {
        losses[lossesOff + r] = 0.0f;
        for (int j = 0; j < cols; j++) {
            dpredictions[dOff + j] = 0.0f;
        }
        return;
    }
    const float perColumn = 1.0f / (float) cols;
    float sum = 0.0f;
    for (int j = 0; j < cols; j++) {
        const float e = predictions[pOff + j] + bias[biasOff + j] - targets[yOff + j];
        sum += e * e;
        dpredictions[dOff + j] = 2.0f * e * perColumn * gradScale;
    }
    losses[lossesOff + r] = sum * perColumn;
}

/* out (rows, hidden)[r, h] = table (hidden, vocab)[h, ids[r]]: the one-hot input projection.
 * One thread per output element; an invalid id yields NaN. */
KERNEL void gather_columns(GLOBAL const float* RESTRICT ids, int idsOff, GLOBAL const float* RESTRICT table,
                           int tableOff, GLOBAL float* RESTRICT out, int outOff, int rows, int hidden, int vocab)
{
    const int i = GLOBAL_ID();
    if (i >= rows * hidden) return;
    const int r = i / hidden;
    const int h = i % hidden;
    const float idf = ids[idsOff + r];
    const int id = idf >= 0.0f && idf < (float) vocab ? (int) idf : -1;
    out[outOff + i] = id >= 0 && (float) id == idf ? table[tableOff + h * vocab + id] : NAN_F;
}

/* tableGrad (hidden, vocab)[h, ids[r]] += grad (rows, hidden)[r, h] for r = 0..rows-1 in order.
 * One thread per h owns row h of tableGrad, so there are no races and no atomics. */
KERNEL void scatter_add_columns(GLOBAL const float* RESTRICT ids, int idsOff, GLOBAL const float* RESTRICT grad,
                                int gradOff, GLOBAL float* RESTRICT tableGrad, int tableGradOff,
                                int rows, int hidden, int vocab)
{
    const int h = GLOBAL_ID();
    if (h >= hidden) return;
    for (int r = 0; r < rows; r++) {
        const float idf = ids[idsOff + r];
        const int id = idf >= 0.0f && idf < (float) vocab ? (int) idf : -1;
        if (id >= 0 && (float) id == idf) {
            const int at = tableGradOff + h * vocab + id;
            tableGrad[at] = tableGrad[at] + grad[gradOff + r * hidden + h];
        }
    }
}

/* First pass of the sum of squares of x (n): thread p < parts sums x[p], x[p+parts], ... in
 * order (Kahan) into partials[p]. The host fixes parts from n alone, so the order is fixed.
 * parts <= n, so p < n; the loop stops before i + parts could pass n, which for n near 2^31
 * would overflow int. */
KERNEL void sum_of_squares(GLOBAL const float* RESTRICT x, int xOff, GLOBAL float* RESTRICT partials,
                           int partialsOff, int n, int parts)
{
    const int p = GLOBAL_ID();
    if (p >= parts) return;
    float sum = 0.0f;
    float comp = 0.0f;
    for (int i = p; ; i += parts) {
        const float v = x[xOff + i];
        const float y = v * v - comp;
        const float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
        if (i >= n - parts) break;
    }
    partials[partialsOff + p] = sum;
}

/* Second pass: out[0] = partials[0] + ... + partials[parts-1] in order (Kahan), by thread 0. */
KERNEL void sum_of_squares_final(GLOBAL const float* RESTRICT partials, int partialsOff,
                                 GLOBAL float* RESTRICT out, int outOff, int parts)
{
    if (GLOBAL_ID() != 0) return;
    float sum = 0.0f;
    float comp = 0.0f;
    for (int p = 0; p < parts; p++) {
        const float y = partials[partialsOff + p] - comp;
        const float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    out[outOff] = sum;
}

/* param (n) -= lr * gradScale * grad (n). */
KERNEL void sgd_update(GLOBAL float* RESTRICT param, int paramOff, GLOBAL const float* RESTRICT grad, int gradOff,
                       int n, float lr, float gradScale)
{
    const int i = GLOBAL_ID();
    if (i >= n) return;
    param[paramOff + i] = param[paramOff + i] - (lr * gradScale) * grad[gradOff + i];
}

/* Adam as torch.optim.Adam (no weight decay). bias1 = 1 - beta1^step and bias2 = 1 - beta2^step
 * are computed by the host (in double) and passed in: g = gradScale * grad;
 * m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
 * param -= lr * (m / bias1) / (sqrt(v / bias2) + eps). */
KERNEL void adam_update(GLOBAL float* RESTRICT param, int paramOff, GLOBAL const float* RESTRICT grad, int gradOff,
                        GLOBAL float* RESTRICT m, int mOff, GLOBAL float* RESTRICT v, int vOff, int n,
                        float lr, float beta1, float beta2, float eps, float bias1, float bias2, float gradScale)
{
    const int i = GLOBAL_ID();
    if (i >= n) return;
    const float g = gradScale * grad[gradOff + i];
    const float mi = beta1 * m[mOff + i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[vOff + i] + (1.0f - beta2) * g * g;
    m[mOff + i] = mi;
    v[vOff + i] = vi;
    param[paramOff + i] = param[paramOff + i] - lr * (mi / bias1) / (SQRTF(vi / bias2) + eps);
}

/* Adagrad (min-char-rnn): g = gradScale * grad; cache += g^2; param -= lr * g / sqrt(cache + eps). */
KERNEL void adagrad_update(GLOBAL float* RESTRICT param, int paramOff, GLOBAL const float* RESTRICT grad,
                           int gradOff, GLOBAL float* RESTRICT cache, int cacheOff, int n,
                           float lr, float eps, float gradScale)
{
    const int i = GLOBAL_ID();
    if (i >= n) return;
    const float g = gradScale * grad[gradOff + i];
    const float c = cache[cacheOff + i] + g * g;
    cache[cacheOff + i] = c;
    param[paramOff + i] = param[paramOff + i] - lr * g / SQRTF(c + eps);
}

/* dst (n) = n integers of `width` bytes each (1, 2 or 4; little-endian two's complement) packed from
 * the start of raw, as exact floats: the device half of uploadStaged for a window's token ids and
 * targets, which travel from host staging in the smallest integer type that holds them. raw is read
 * as 32-bit words, so no byte loads or byte-addressable storage are needed. One thread per element. */
KERNEL void upload_staged(GLOBAL const int* RESTRICT raw, int rawOff, GLOBAL float* RESTRICT dst, int dstOff, int n,
                          int width)
{
    const int i = GLOBAL_ID();
    if (i >= n) return;
    int v;
    if (width == 1) {
        const unsigned int b = ((unsigned int) raw[rawOff + (i >> 2)] >> (8 * (i & 3))) & 0xffu;
        v = (int) b - (int) ((b & 0x80u) << 1);
    } else if (width == 2) {
        const unsigned int h = ((unsigned int) raw[rawOff + (i >> 1)] >> (16 * (i & 1))) & 0xffffu;
        v = (int) h - (int) ((h & 0x8000u) << 1);
    } else {
        v = raw[rawOff + i];
    }
    dst[dstOff + i] = (float) v;
}
