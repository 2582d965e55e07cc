/* bptt_kernels.cl.cu: every custom kernel of the engine, written once in the common subset of
 * OpenCL C 1.2 and CUDA C++. Compiled after prelude_opencl.h (OpenCL) or prelude_cuda.h (CUDA),
 * which define KERNEL, GLOBAL, RESTRICT, GLOBAL_ID() and the float math macros.
 *
 * ABI (shared by the OpenCL and CUDA backends; see kernels/README.md):
 *  - one kernel per Backend method, snake_case (tanh_backward <-> tanhBackward), except the
 *    reductions, softmax cross-entropy and gather/scatter, which run as a few passes (below),
 *    and the optimizer updates, which read their scalars from device memory;
 *  - arguments: the buffers in the Backend method's order, each followed by its int offset in
 *    floats, then the sizes, then the float scalars;
 *  - 1-D launch; every kernel checks its own bound, so the launch may be rounded up;
 *  - tensors are contiguous row-major; no floating-point atomics, barriers or shared memory;
 *    every reduction is a fixed-shape tree of passes, so results are bitwise reproducible run
 *    to run and on any device;
 *  - ids and targets are floats holding exact integers. A target below 0 is ignored; a target
 *    >= V gives a NaN loss and NaN gradient row; an invalid token id gives a NaN row in
 *    gather_rows and is skipped by scatter_add_partials (kernels cannot throw). */

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

/* ---- reductions: fixed-shape trees of many threads, no atomics, no barriers ------------------
 * Every reduction runs as a few launches whose shape the host computes from the tensor's shape
 * alone (bptt.backend.ReductionPlan), never from the launch size a device allows: each thread
 * sums a fixed set of elements in a fixed order (Kahan-compensated), writes its partial to
 * global memory, and the next launch combines the partials in a fixed order. So results are
 * bitwise the same run to run and on any device, and each launch is plain data-parallel code
 * (one host thread can run its threads one after another, as the tests' CUDA emulator does). */

/* First pass of sum_rows over x (rows, cols): partials (parts, cols)[p, c] = the sum of rows
 * p*per, ..., min(rows, (p+1)*per) - 1 of column c, in order. One thread per (part, column),
 * the column fastest, so a warp reads consecutive addresses. */
KERNEL void sum_rows_partials(GLOBAL const float* RESTRICT x, int xOff, GLOBAL float* RESTRICT partials,
                              int partialsOff, int rows, int cols, int parts, int per)
{
    const int i = GLOBAL_ID();
    if (i >= parts * cols) return;
    const int p = i / cols;
    const int c = i - p * cols;
    const int end = rows - p * per < per ? rows : p * per + per;
    float sum = 0.0f;
    float comp = 0.0f;
    for (int r = p * per; r < end; r++) {
        const float y = x[xOff + r * cols + c] - comp;
        const float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    partials[partialsOff + i] = sum;
}

/* Second pass: out (1, cols) = beta * out + the sum of partials (parts, cols) over the parts, in
 * order. One thread per column. When beta == 0, out is not read. */
KERNEL void sum_rows_final(GLOBAL const float* RESTRICT partials, int partialsOff, GLOBAL float* RESTRICT out,
                           int outOff, int parts, int cols, float beta)
{
    const int c = GLOBAL_ID();
    if (c >= cols) return;
    float sum = 0.0f;
    float comp = 0.0f;
    for (int p = 0; p < parts; p++) {
        const float y = partials[partialsOff + p * cols + c] - comp;
        const float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    out[outOff + c] = beta == 0.0f ? sum : beta * out[outOff + c] + sum;
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

/* First pass of the sum of squares of x (n): thread p < parts sums x[p]^2, x[p+parts]^2, ... in
 * order (Kahan) into partials[p]; consecutive threads read consecutive elements. parts <= n, so
 * p < n; the loop stops before i + parts could pass n, which for n near 2^31 would overflow int. */
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

/* One level of a sum tree: out[q] = in[q*width] + ... + in[min(n, (q+1)*width) - 1], in order
 * (Kahan), for q < ceil(n / width). One thread per output. */
KERNEL void sum_partials(GLOBAL const float* RESTRICT in, int inOff, GLOBAL float* RESTRICT out, int outOff,
                         int n, int width)
{
    const int q = GLOBAL_ID();
    if (q >= (n + width - 1) / width) return;
    const int end = n - q * width < width ? n : q * width + width;
    float sum = 0.0f;
    float comp = 0.0f;
    for (int i = q * width; i < end; i++) {
        const float y = in[inOff + i] - comp;
        const float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    out[outOff + q] = sum;
}

/* ---- softmax cross-entropy in three passes ----------------------------------------------------
 * z = logits (rows, cols) + bias (1, cols). Pass 1: each row's columns are split into `lanes`
 * interleaved lanes (lane l holds columns l, l + lanes, ...), one thread per (row, lane) writing
 * its lane's max m and sum of exp(z - m). Pass 2: one thread per row combines its lanes in order
 * into logsumexp(z), writes the row's loss and keeps logsumexp for pass 3. Pass 3: one thread per
 * element writes the gradient. dlogits may be the logits buffer itself (same offset): pass 3
 * reads each element before writing it, and passes 1 and 2 write neither. Targets are floats
 * holding integers, cast as the reference does: (int) truncates toward zero, so only t <= -1
 * means "no target" (loss 0, zero gradient row); t >= cols gives a NaN loss and NaN row. */

/* (the target class of row r: -1 none, cols invalid, else the column) */
#define SOFTMAX_TARGET(tf, cols) ((tf) <= -1.0f ? -1 : ((tf) < (float) (cols) ? (int) (tf) : (cols)))

/* Pass 1: stats (rows, lanes, 2) = per (row, lane): max of z over the lane, sum of exp(z - max). */
KERNEL void softmax_lane_stats(GLOBAL const float* RESTRICT logits, int logitsOff, GLOBAL const float* RESTRICT bias,
                               int biasOff, GLOBAL float* RESTRICT stats, int statsOff, int rows, int cols,
                               int lanes)
{
    const int i = GLOBAL_ID();
    if (i >= rows * lanes) return;
    const int r = i / lanes;
    const int l = i - r * lanes;
    const int z = logitsOff + r * cols;
    float m = -INFINITY_F;
    for (int j = l; j < cols; j += lanes) {
        m = FMAXF(m, logits[z + j] + bias[biasOff + j]);
    }
    float sum = 0.0f;
    for (int j = l; j < cols; j += lanes) {
        sum += EXPF(logits[z + j] + bias[biasOff + j] - m);
    }
    stats[statsOff + 2 * i] = m;
    stats[statsOff + 2 * i + 1] = sum;
}

/* Pass 2: logSum (rows) = logsumexp of row r from its lanes' stats, in lane order; losses (rows, 1)
 * = logSum - z[target] (0 without a target, NaN for an invalid one). One thread per row. */
KERNEL void softmax_row_loss(GLOBAL const float* RESTRICT logits, int logitsOff, GLOBAL const float* RESTRICT bias,
                             int biasOff, GLOBAL const float* RESTRICT targets, int targetsOff,
                             GLOBAL const float* RESTRICT stats, int statsOff, GLOBAL float* RESTRICT logSum,
                             int logSumOff, GLOBAL float* RESTRICT losses, int lossesOff, int rows, int cols,
                             int lanes)
{
    const int r = GLOBAL_ID();
    if (r >= rows) return;
    const int s = statsOff + 2 * r * lanes;
    float m = -INFINITY_F;
    for (int l = 0; l < lanes; l++) {
        m = FMAXF(m, stats[s + 2 * l]);
    }
    float sum = 0.0f;
    for (int l = 0; l < lanes; l++) {
        sum += stats[s + 2 * l + 1] * EXPF(stats[s + 2 * l] - m);
    }
    const float total = m + LOGF(sum);
    const int target = SOFTMAX_TARGET(targets[targetsOff + r], cols);
    logSum[logSumOff + r] = total;
    losses[lossesOff + r] = target < 0 ? 0.0f : target >= cols ? NAN_F
            : total - (logits[logitsOff + r * cols + target] + bias[biasOff + target]);
}

/* Pass 3: dlogits (rows, cols) = gradScale * (softmax(z) - onehot(target)). One thread per element. */
KERNEL void softmax_gradient(GLOBAL const float* logits, int logitsOff, GLOBAL const float* RESTRICT bias, int biasOff,
                             GLOBAL const float* RESTRICT targets, int targetsOff, GLOBAL const float* RESTRICT logSum,
                             int logSumOff, GLOBAL float* dlogits, int dlogitsOff, int rows, int cols, float gradScale)
{
    const int i = GLOBAL_ID();
    if (i >= rows * cols) return;
    const int r = i / cols;
    const int j = i - r * cols;
    const int target = SOFTMAX_TARGET(targets[targetsOff + r], cols);
    if (target < 0) {
        dlogits[dlogitsOff + i] = 0.0f;
        return;
    }
    if (target >= cols) {
        dlogits[dlogitsOff + i] = NAN_F;
        return;
    }
    const float p = EXPF(logits[logitsOff + i] + bias[biasOff + j] - logSum[logSumOff + r]);
    dlogits[dlogitsOff + i] = (j == target ? p - 1.0f : p) * gradScale;
}

/* ---- the one-hot input projection: gather and scatter-add with the fastest index contiguous --- */

/* out (cols, rows) = in (rows, cols) transposed. One thread per output element: writes are
 * consecutive; the reads, of a small table, are strided. */
KERNEL void transpose_table(GLOBAL const float* RESTRICT in, int inOff, GLOBAL float* RESTRICT out, int outOff,
                      int rows, int cols)
{
    const int i = GLOBAL_ID();
    if (i >= rows * cols) return;
    const int c = i / rows;
    const int r = i - c * rows;
    out[outOff + i] = in[inOff + r * cols + c];
}

/* out (rows, hidden)[r, h] = tableT (vocab, hidden)[ids[r], h]: the rows of the transposed table
 * picked by the token ids. One thread per output element; a warp reads and writes consecutive
 * addresses. An invalid id yields NaN. */
KERNEL void gather_rows(GLOBAL const float* RESTRICT ids, int idsOff, GLOBAL const float* RESTRICT tableT,
                        int tableTOff, GLOBAL float* RESTRICT out, int outOff, int rows, int hidden, int vocab)
{
    const int i = GLOBAL_ID();
    if (i >= rows * hidden) return;
    const int r = i / hidden;
    const int h = i - r * hidden;
    const float idf = ids[idsOff + r];
    const int id = idf >= 0.0f && idf < (float) vocab ? (int) idf : -1;
    out[outOff + i] = id >= 0 && (float) id == idf ? tableT[tableTOff + id * hidden + h] : NAN_F;
}

/* First pass of scatter_add_columns: partials (parts, vocab, hidden)[p, v, h] = the sum of
 * grad (rows, hidden)[r, h] over the rows r of part p (rows p*per ... in order) whose id is v.
 * One thread per (part, h), h fastest: it zeroes its column of the part, then walks the part's
 * rows; a warp reads one row of grad and updates one row of its part, both consecutive. Rows
 * with an invalid id are skipped. No two threads write the same element: no atomics. */
KERNEL void scatter_add_partials(GLOBAL const float* RESTRICT ids, int idsOff, GLOBAL const float* RESTRICT grad,
                                 int gradOff, GLOBAL float* RESTRICT partials, int partialsOff, int rows,
                                 int hidden, int vocab, int parts, int per)
{
    const int i = GLOBAL_ID();
    if (i >= parts * hidden) return;
    const int p = i / hidden;
    const int h = i - p * hidden;
    const int base = partialsOff + p * vocab * hidden + h;
    for (int v = 0; v < vocab; v++) {
        partials[base + v * hidden] = 0.0f;
    }
    const int end = rows - p * per < per ? rows : p * per + per;
    for (int r = p * per; r < end; r++) {
        const float idf = ids[idsOff + r];
        const int id = idf >= 0.0f && idf < (float) vocab ? (int) idf : -1;
        if (id >= 0 && (float) id == idf) {
            partials[base + id * hidden] = partials[base + id * hidden] + grad[gradOff + r * hidden + h];
        }
    }
}

/* Second pass: tableGrad (hidden, vocab)[h, v] += the sum of partials[p, v, h] over the parts, in
 * order. One thread per (v, h), h fastest, so the partials are read consecutively. */
KERNEL void scatter_add_total(GLOBAL const float* RESTRICT partials, int partialsOff, GLOBAL float* RESTRICT tableGrad,
                              int tableGradOff, int hidden, int vocab, int parts)
{
    const int i = GLOBAL_ID();
    if (i >= vocab * hidden) return;
    const int v = i / hidden;
    const int h = i - v * hidden;
    float sum = 0.0f;
    float comp = 0.0f;
    for (int p = 0; p < parts; p++) {
        const float y = partials[partialsOff + p * vocab * hidden + i] - comp;
        const float t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    tableGrad[tableGradOff + h * vocab + v] = tableGrad[tableGradOff + h * vocab + v] + sum;
}

/* ---- optimizer steps, with their scalars in device memory ---------------------------------------
 * scalars[0..5] of a step: gradScale, bias1 = 1 - beta1^step, bias2 = 1 - beta2^step (Adam's bias
 * corrections), skip (non-zero: the step changes nothing), and, written by clip_scale, the sum of
 * squares of the gradients and the loss sum. Keeping them in device memory lets a training step
 * decide its clipping on the device and run as one captured CUDA graph whose launches never
 * change. */

/* scalars[0..3] = gradScale, bias1, bias2, 0 (the optimizer ops of the Backend contract). One thread. */
KERNEL void set_step_scalars(GLOBAL float* RESTRICT scalars, int scalarsOff, float gradScale, float bias1, float bias2)
{
    if (GLOBAL_ID() != 0) return;
    scalars[scalarsOff] = gradScale;
    scalars[scalarsOff + 1] = bias1;
    scalars[scalarsOff + 2] = bias2;
    scalars[scalarsOff + 3] = 0.0f;
}

/* Global-norm clipping decided on the device, once scalars[4] holds s, the sum of squares of the
 * gradients: scalars[5] = L = loss[0], gradScale = clip / sqrt(s) when clip > 0 and sqrt(s) > clip,
 * else 1; skip = 1 when s or L is not finite (a diverged step updates nothing). One thread. */
KERNEL void clip_scale(GLOBAL float* RESTRICT scalars, int scalarsOff, GLOBAL const float* RESTRICT loss, int lossOff,
                       float clip)
{
    if (GLOBAL_ID() != 0) return;
    const float s = scalars[scalarsOff + 4];
    const float total = loss[lossOff];
    const float norm = SQRTF(s);
    scalars[scalarsOff] = clip > 0.0f && norm > clip ? clip / norm : 1.0f;
    scalars[scalarsOff + 3] = s - s == 0.0f && total - total == 0.0f ? 0.0f : 1.0f;
    scalars[scalarsOff + 5] = total;
}

/* SGD: param (n) -= lr * gradScale * grad (n), gradScale = scalars[0]; nothing when scalars[3] != 0. */
KERNEL void sgd_update(GLOBAL float* RESTRICT param, int paramOff, GLOBAL const float* RESTRICT grad, int gradOff,
                       GLOBAL const float* RESTRICT scalars, int scalarsOff, int n, float lr)
{
    const int i = GLOBAL_ID();
    if (i >= n || scalars[scalarsOff + 3] != 0.0f) return;
    param[paramOff + i] = param[paramOff + i] - (lr * scalars[scalarsOff]) * grad[gradOff + i];
}

/* Adam as torch.optim.Adam (no weight decay), with gradScale, bias1 = 1 - beta1^step and
 * bias2 = 1 - beta2^step from scalars[0..2] (the host computes the corrections in double):
 * g = gradScale * grad; m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
 * param -= lr * (m / bias1) / (sqrt(v / bias2) + eps). Nothing when scalars[3] != 0. */
KERNEL void adam_update(GLOBAL float* RESTRICT param, int paramOff, GLOBAL const float* RESTRICT grad, int gradOff,
                        GLOBAL float* RESTRICT m, int mOff, GLOBAL float* RESTRICT v, int vOff,
                        GLOBAL const float* RESTRICT scalars, int scalarsOff, int n, float lr, float beta1,
                        float beta2, float eps)
{
    const int i = GLOBAL_ID();
    if (i >= n || scalars[scalarsOff + 3] != 0.0f) return;
    const float g = scalars[scalarsOff] * grad[gradOff + i];
    const float mi = beta1 * m[mOff + i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[vOff + i] + (1.0f - beta2) * g * g;
    m[mOff + i] = mi;
    v[vOff + i] = vi;
    param[paramOff + i] = param[paramOff + i]
            - lr * (mi / scalars[scalarsOff + 1]) / (SQRTF(vi / scalars[scalarsOff + 2]) + eps);
}

/* Adagrad (min-char-rnn): g = gradScale * grad; cache += g^2; param -= lr * g / sqrt(cache + eps),
 * gradScale = scalars[0]. Nothing when scalars[3] != 0. */
KERNEL void adagrad_update(GLOBAL float* RESTRICT param, int paramOff, GLOBAL const float* RESTRICT grad,
                           int gradOff, GLOBAL float* RESTRICT cache, int cacheOff,
                           GLOBAL const float* RESTRICT scalars, int scalarsOff, int n, float lr, float eps)
{
    const int i = GLOBAL_ID();
    if (i >= n || scalars[scalarsOff + 3] != 0.0f) return;
    const float g = scalars[scalarsOff] * grad[gradOff + i];
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
