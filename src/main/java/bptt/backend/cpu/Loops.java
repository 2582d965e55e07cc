// Loops: the array inner loops of the cpu backend's elementwise ops (plain loops C2 can vectorise).
package bptt.backend.cpu;

/**
 * Each method works on the first n elements of its arrays, or on [from, to); formulas follow
 * cpu-ref's. {@link VectorLoops} computes some of them bitwise alike with the Vector API, where
 * C2 does not vectorise the loop (double arithmetic on float arrays).
 */
final class Loops {
    private Loops() { }

    /** y += alpha·x. */
    static void axpy(float alpha, float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) {
            y[i] += alpha * x[i];
        }
    }

    /** y += x (both indexed from 0, so the loop vectorises). */
    static void add(float[] y, float[] x, int n) {
        for (int i = 0; i < n; i++) {
            y[i] += x[i];
        }
    }

    /** x = alpha·x. */
    static void scale(float alpha, float[] x, int n) {
        for (int i = 0; i < n; i++) {
            x[i] *= alpha;
        }
    }

    /** x[i] = tanh(x[i] + bias[i]). */
    static void biasTanh(float[] x, float[] bias, int n) {
        for (int i = 0; i < n; i++) {
            x[i] = FastTanh.tanh(x[i] + bias[i]);
        }
    }

    /** da = (1 − a²)·da. */
    static void tanhBackward(float[] a, float[] da, int n) {
        for (int i = 0; i < n; i++) {
            da[i] = (1f - a[i] * a[i]) * da[i];
        }
    }

    /**
     * da = (1 − a²)·(da + dnext): a backward time step's elementwise part, the same two
     * roundings as axpy(1, dnext, da) then tanhBackward(a, da).
     */
    static void tanhStepBackward(float[] a, float[] da, float[] dnext, int n) {
        for (int i = 0; i < n; i++) {
            da[i] = (1f - a[i] * a[i]) * (da[i] + dnext[i]);
        }
    }

    /** p = p − step·g for i in [from, to), in double as cpu-ref does. */
    static void sgd(float[] p, float[] g, double step, int from, int to) {
        for (int i = from; i < to; i++) {
            p[i] = (float) (p[i] - step * g[i]);
        }
    }

    /** 1 − beta^step, Adam's bias correction. */
    static double adamBias(float beta, double step) { return 1 - Math.pow(beta, step); }

    /**
     * Adam (PyTorch's rule) on p, g, m, v for i in [from, to); gradScale arrives as a double,
     * the bias corrections from {@link #adamBias}.
     */
    static void adam(float[] p, float[] g, float[] m, float[] v, int from, int to, float lr, float beta1, float beta2,
                     float eps, double gradScale, double bias1, double bias2) {
        for (int i = from; i < to; i++) {
            double gi = gradScale * g[i];
            m[i] = (float) (beta1 * m[i] + (1 - (double) beta1) * gi);
            v[i] = (float) (beta2 * v[i] + (1 - (double) beta2) * gi * gi);
            double denom = Math.sqrt(v[i] / bias2) + eps;
            p[i] = (float) (p[i] - lr * (m[i] / bias1) / denom);
        }
    }

    /** Adagrad (min-char-rnn) on p, g, cache for i in [from, to). */
    static void adagrad(float[] p, float[] g, float[] cache, int from, int to, float lr, float eps, float gradScale) {
        for (int i = from; i < to; i++) {
            double gi = (double) gradScale * g[i];
            cache[i] = (float) (cache[i] + gi * gi);
            p[i] = (float) (p[i] - lr * gi / Math.sqrt(cache[i] + eps));
        }
    }

    /** acc[i] += x[i] in double, for i in [from, to). */
    static void accumulate(double[] acc, float[] x, int from, int to) {
        for (int i = from; i < to; i++) {
            acc[i] += x[i];
        }
    }

    /**
     * One row of softmax cross-entropy, in double: z = row + bias, with the bias (cols) held as
     * doubles at e[cols, 2·cols); row becomes gradScale·(softmax(z) − onehot(target)) and the
     * loss −log softmax(z)[target] is returned. e[0, cols) is scratch.
     */
    static double softmaxRow(float[] row, double[] e, int cols, int target, float gradScale) {
        double zTarget = row[target] + e[cols + target];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < cols; j++) {
            double v = row[j] + e[cols + j];
            e[j] = v;
            max = Math.max(max, v);
        }
        for (int j = 0; j < cols; j++) {
            e[j] = Math.exp(e[j] - max);
        }
        double sum = sum(e, cols);
        softmaxGradient(row, e, cols, target, gradScale, 1.0 / sum, 0);
        return max + Math.log(sum) - zTarget;
    }

    /** Σ x[0, n) in index order. */
    static double sum(double[] x, int n) {
        double sum = 0;
        for (int j = 0; j < n; j++) {
            sum += x[j];
        }
        return sum;
    }

    /** row[j] = gradScale·(e[j]·inv − onehot(target)) for j ≥ from, and for the target. */
    static void softmaxGradient(float[] row, double[] e, int cols, int target, float gradScale, double inv, int from) {
        for (int j = from; j < cols; j++) {
            row[j] = (float) (e[j] * inv * gradScale);
        }
        row[target] = (float) ((e[target] * inv - 1) * gradScale);
    }

    /** Σ x² in index order, accumulated in double. */
    static double sumOfSquares(float[] x, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double v = x[i];
            sum += v * v;
        }
        return sum;
    }
}
