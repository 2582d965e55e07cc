// VectorWarmup: drives the Vector API kernels through the JIT in the background once per process, so no training step runs them uncompiled.
package bptt.backend.cpu;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Vector API code that C2 has not compiled yet runs with every vector as a heap object, about a
 * hundred times slower than compiled (SGD over 100K parameters: 6 ms instead of 0.05 ms). The
 * per-step kernels compile within the first step, but an op that runs once per step (an
 * optimizer update, a softmax over the chunk) needs 10–20 steps of invocations and loop
 * iterations before C2 takes it. So when the first backend with the vector kernels opens, one
 * daemon thread runs every kernel on small scratch arrays for about as many iterations as C2
 * waits for (~100 ms of one core, once); the kernels are pure functions of their arguments, so
 * this touches nothing else.
 */
final class VectorWarmup {
    private VectorWarmup() { }

    private static final AtomicBoolean STARTED = new AtomicBoolean();
    /** Calls of each kernel: with the loops' iterations, past C2's tier-4 thresholds (~15,000). */
    private static final int CALLS = 3000;

    /** Starts the warm-up thread unless it has started before in this process. */
    static void start() {
        if (STARTED.compareAndSet(false, true)) {
            Thread t = new Thread(VectorWarmup::run, "bptt-cpu-jit-warmup");
            t.setDaemon(true);
            t.setPriority(Thread.MIN_PRIORITY);
            t.start();
        }
    }

    private static void run() {
        int n = 16 * VectorKernels.STRIP + 3;  // 32 vector iterations per call, plus a scalar tail
        float[] p = filled(n, 0.5f);
        float[] g = filled(n, 0.01f);
        float[] m = filled(n, 0.001f);
        float[] v = filled(n, 0.0001f);
        double[] acc = new double[n];
        double[] e = new double[2 * 67];       // softmax rows of a 67-symbol vocabulary
        float[] row = filled(n, 0.25f);
        int rows = 5;                           // one 4-row block and one single row
        float[] a = filled(rows * VectorKernels.STRIP, 0.1f);
        float[] strip = filled(VectorKernels.STRIP * VectorKernels.STRIP, 0.01f);
        float[] tile = new float[rows * VectorKernels.STRIP];
        float[] bias = filled(VectorKernels.STRIP, 0.1f);
        for (int call = 0; call < CALLS; call++) {
            VectorLoops.sgd(p, g, 1e-6, n);
            VectorLoops.adam(p, g, m, v, n, 1e-6f, 0.9f, 0.999f, 1e-8f, 1.0, 0.5, 0.5);
            VectorLoops.adagrad(p, g, v, n, 1e-6f, 1e-8f, 1f);
            VectorLoops.accumulate(acc, g, n);
            System.arraycopy(g, 0, row, 0, 67);
            VectorLoops.softmaxRow(row, e, 67, call % 67, 1f);
            java.util.Arrays.fill(tile, 0f);
            VectorKernels.multiplyAdd(a, 0, VectorKernels.STRIP, rows, strip, 0, VectorKernels.STRIP, tile, 0);
            VectorKernels.biasTanh(tile, rows, bias);
        }
    }

    private static float[] filled(int n, float value) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, value);
        return x;
    }
}
