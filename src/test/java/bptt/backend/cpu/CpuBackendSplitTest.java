// CpuBackendSplitTest: every op split over three threads with the Vector API kernels, against cpu-ref; thread-count independence.
package bptt.backend.cpu;

import bptt.conformance.TestBackends;
import bptt.rnn.RnnConfig;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The split thresholds are lowered to one unit of work, so every op with two units or more
 * runs on three threads: each thread's share is checked against cpu-ref.
 */
class CpuBackendSplitTest extends CpuBackendCases {
    @Override
    CpuBackend open() {
        String reason = CpuBackend.vectorKernelsUnavailableReason();
        if (TestBackends.required().contains("cpu")) {
            assertNull(reason, "BPTT_REQUIRE_BACKENDS names cpu, so its Vector API kernels must run");
        }
        assumeTrue(reason == null, "Vector API kernels unavailable: " + reason);
        return new CpuBackend(3, CpuBackend.Tuning.defaults().splitEverything());
    }

    @Override
    boolean splitsEverything() { return true; }

    @Test
    void usesTheVectorKernels() {
        assertTrue(cpu.vectorKernels(), cpu.deviceDescription());
    }

    /**
     * For a fixed thread count whole forward+backward passes are bitwise reproducible, with and
     * without the vector kernels, every op split over three threads (fresh backends, so the
     * parts land on other threads each time).
     */
    @ParameterizedTest(name = "vector kernels {0}")
    @ValueSource(booleans = {true, false})
    void resultsAreReproducibleForAFixedThreadCount(boolean vector) {
        RnnConfig config = RnnConfig.charModel(65, 257, 2);
        int batch = 33, seqLen = 9;
        float[] inputs = new float[batch * seqLen];
        float[] targets = new float[batch * seqLen];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = random.nextInt(65);
            targets[i] = random.nextInt(65);
        }
        float[][] h0 = {randoms(batch * 257, 0.5), randoms(batch * 257, 0.5)};
        CpuBackend.Tuning split = CpuBackend.Tuning.defaults().splitEverything().withVectorKernels(vector);
        Result first;
        Result second;
        try (CpuBackend one = new CpuBackend(3, split)) {
            first = pass(one, config, batch, seqLen, inputs, targets, h0);
        }
        try (CpuBackend two = new CpuBackend(3, split)) {
            second = pass(two, config, batch, seqLen, inputs, targets, h0);
        }
        assertEquals(first.loss(), second.loss(), 0.0, "loss");
        assertArrayEquals(first.grads(), second.grads(), "gradient slab bitwise");
        assertArrayEquals(first.dh0()[0], second.dh0()[0], "dL/dh0 bitwise");
        assertArrayEquals(first.finals()[1], second.finals()[1], "final state bitwise");
    }

    /**
     * The Java kernels (the fused step, elementwise ops, reductions) give bitwise the same
     * results on one thread and on three with every op split: each element is computed by the
     * same operations in the same order whichever thread computes it.
     */
    @Test
    void javaKernelsDoNotDependOnThreadCount() {
        CpuBackend.Tuning split = CpuBackend.Tuning.defaults().splitEverything();
        int b = 37, h = 300;
        float[] w = randoms(h * h, 1.5 / Math.sqrt(h));
        float[] x = randoms(b * h, 1);
        float[] y = randoms(b * h, 1);
        float[] bias = randoms(h, 1);
        float[][] got = new float[2][];
        double[] squares = new double[2];
        int i = 0;
        for (int threads : new int[]{1, 3}) {
            try (CpuBackend be = new CpuBackend(threads, split)) {
                Tensor waa = be.alloc(h, h);
                Tensor pre = be.alloc(b, h);
                Tensor da = be.alloc(b, h);
                Tensor dnext = be.alloc(b, h);
                Tensor bt = be.alloc(1, h);
                Tensor sums = be.alloc(1, h);
                be.upload(w, waa);
                be.upload(x, pre);
                be.upload(y, da);
                be.upload(x, dnext);
                be.upload(bias, bt);
                be.tanhStepForward(dnext, waa, bt, pre);
                be.tanhStepBackward(pre, waa, da, dnext);
                be.biasTanh(da, bt);
                be.sumRows(dnext, 0f, sums);
                squares[i] = be.sumOfSquares(dnext);
                float[] all = new float[3 * b * h + h];
                System.arraycopy(be.download(pre), 0, all, 0, b * h);
                System.arraycopy(be.download(da), 0, all, b * h, b * h);
                System.arraycopy(be.download(dnext), 0, all, 2 * b * h, b * h);
                System.arraycopy(be.download(sums), 0, all, 3 * b * h, h);
                got[i++] = all;
            }
        }
        assertArrayEquals(got[0], got[1], "step outputs, biasTanh and sumRows bitwise");
        assertEquals(squares[0], squares[1], 0.0, "sumOfSquares bitwise");
    }
}
