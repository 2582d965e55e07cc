// CpuBackendSplitTest: every op split over three threads with the Vector API kernels, against cpu-ref; thread-count independence.
package bptt.backend.cpu;

import bptt.rnn.RnnConfig;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
     * Whole forward+backward passes give bitwise the same results on one thread and on three
     * with every op split: every element is computed by the same operations in the same order
     * whichever thread computes it (GEMM blocks are whole dot products in OpenBLAS's order).
     */
    @Test
    void resultsDoNotDependOnThreadCount() {
        RnnConfig config = RnnConfig.charModel(65, 257, 2);
        int batch = 33, seqLen = 9;
        float[] inputs = new float[batch * seqLen];
        float[] targets = new float[batch * seqLen];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = random.nextInt(65);
            targets[i] = random.nextInt(65);
        }
        float[][] h0 = {randoms(batch * 257, 0.5), randoms(batch * 257, 0.5)};
        CpuBackend.Tuning split = CpuBackend.Tuning.defaults().splitEverything();
        Result one;
        Result three;
        try (CpuBackend single = new CpuBackend(1, split)) {
            one = pass(single, config, batch, seqLen, inputs, targets, h0);
        }
        try (CpuBackend many = new CpuBackend(3, split)) {
            three = pass(many, config, batch, seqLen, inputs, targets, h0);
        }
        assertEquals(one.loss(), three.loss(), 0.0, "loss");
        assertArrayEquals(one.grads(), three.grads(), "gradient slab bitwise");
        assertArrayEquals(one.dh0()[0], three.dh0()[0], "dL/dh0 bitwise");
        assertArrayEquals(one.finals()[1], three.finals()[1], "final state bitwise");
        float[] x = randoms(1001 * 65, 1);
        try (CpuBackend single = new CpuBackend(1, split); CpuBackend many = new CpuBackend(3, split)) {
            Tensor a = single.alloc(1001, 65);
            Tensor b = many.alloc(1001, 65);
            single.upload(x, a);
            many.upload(x, b);
            assertEquals(single.sumOfSquares(a), many.sumOfSquares(b), 0.0, "sumOfSquares bitwise");
            Tensor sa = single.alloc(1, 65);
            Tensor sb = many.alloc(1, 65);
            single.sumRows(a, 0f, sa);
            many.sumRows(b, 0f, sb);
            assertArrayEquals(single.download(sa), many.download(sb), "sumRows bitwise");
        }
    }
}
